"""Recommendations: the cosine definition, the holdout evaluation, and their edge cases."""

from __future__ import annotations

import custval
import numpy as np
import pandas as pd
import polars as pl
import pytest
from custval.datasets import planted_pairs, simulate_baskets


def reference_scores(lines: pd.DataFrame) -> pd.DataFrame:
    """Σ cosine(p, q) over each customer's products q, for products p not bought."""
    incidence = pd.crosstab(lines["customer_id"], lines["product_id"]).gt(0).astype(float)
    m = incidence.to_numpy()
    norms = np.sqrt(m.sum(axis=0))
    sim = (m.T @ m) / np.outer(norms, norms)
    np.fill_diagonal(sim, 0.0)
    scores = m @ sim
    scores[m > 0] = 0.0
    return pd.DataFrame(scores, index=incidence.index, columns=incidence.columns)


def test_scores_are_summed_cosine_similarities():
    lines = simulate_baskets(200, 30, seed=3)
    want = reference_scores(lines)
    got = custval.recommend(lines, top_k=5, neighbors=None)
    for customer, recs in got.groupby(level=0):
        row = want.loc[customer]
        best = row[row > 1e-12].sort_values(ascending=False, kind="stable")[:5]
        np.testing.assert_allclose(recs["score"], best.to_numpy(), rtol=1e-12)
        assert list(recs["rank"]) == list(range(1, len(recs) + 1))
    # A customer is left out only when nothing scores.
    assert set(got.index) == set(want.index[(want > 1e-12).any(axis=1)])


def test_a_product_nobody_else_bought_gets_no_recommendations():
    lines = pd.DataFrame(
        {"customer_id": [1, 1, 2, 2, 3], "product_id": ["a", "b", "a", "c", "lonely"]}
    )
    got = custval.recommend(lines)
    assert 3 not in got.index
    assert np.isfinite(got["score"]).all()
    assert "lonely" not in set(got["product"])


def test_beats_popularity_and_recovers_planted_pairs():
    lines = simulate_baskets(4_000, 400, seed=11)
    scores = custval.evaluate_recommendations(lines, split="2024-09-30", top_k=10)
    assert scores.loc["item_similarity", "hit_rate"] > 1.5 * scores.loc["popularity", "hit_rate"]
    assert scores.loc["item_similarity", "customers"] > 500
    assert 0 < scores.loc["popularity", "coverage"] < scores.loc["item_similarity", "coverage"]
    # Customers who bought a planted product but not its partner are offered the partner.
    recs = custval.recommend(lines, top_k=10)
    offered = recs.groupby(level=0)["product"].agg(set)
    bought = lines.groupby("customer_id")["product_id"].agg(set)
    for a, b in planted_pairs(400):
        holders = bought.index[bought.map(lambda s, a=a, b=b: a in s and b not in s)]
        got = offered.reindex(holders).map(lambda s, b=b: isinstance(s, set) and b in s)
        assert got.mean() > 0.7


def test_same_answer_whatever_threads_and_kind():
    lines = simulate_baskets(500, 50, seed=12)
    want = custval.recommend(lines, top_k=3)
    threads = custval.get_num_threads()
    try:
        custval.set_num_threads(1)
        pd.testing.assert_frame_equal(custval.recommend(lines, top_k=3), want)
    finally:
        custval.set_num_threads(threads)
    got = custval.recommend(pl.from_pandas(lines), top_k=3)
    assert isinstance(got, pl.DataFrame)
    pd.testing.assert_frame_equal(got.to_pandas().set_index("customer_id"), want)


def test_popularity_baseline_and_evaluation_shape():
    lines = simulate_baskets(500, 50, seed=13)
    scores = custval.evaluate_recommendations(lines, split="2024-06-30", output="polars")
    assert scores["method"].to_list() == ["item_similarity", "popularity"]
    assert set(scores.columns) >= {"hit_rate", "precision", "recall", "coverage", "customers"}


def test_bad_arguments_raise_clearly():
    lines = simulate_baskets(50, 20, seed=1)
    with pytest.raises(ValueError, match="top_k"):
        custval.recommend(lines, top_k=0)
    with pytest.raises(custval.ColumnNotFoundError):
        custval.recommend(lines, customer="nope")
