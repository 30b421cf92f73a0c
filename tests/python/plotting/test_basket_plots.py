"""The cross-sell plots draw what the tables hold."""

from __future__ import annotations

import custval
import numpy as np
import pandas as pd
import polars as pl
import pytest
from custval.datasets import simulate_baskets
from custval.plotting import plot_affinity, plot_recommendation_evaluation


@pytest.fixture(scope="module")
def lines():
    return simulate_baskets(2_000, 100, seed=11)


def test_affinity_draws_the_strongest_pairs_in_affinitys_own_order(lines):
    pairs = custval.affinity(lines)
    ax = plot_affinity(pairs, top=12)
    # affinity(top_k=...) orders the strongest pairs the same way: the bars match it.
    strongest = custval.affinity(lines, top_k=12)
    widths = [bar.get_width() for bar in ax.containers[0]]
    np.testing.assert_array_equal(widths, strongest["lift"].to_numpy())
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels == [
        f"{a} + {b}" for a, b in zip(strongest["product_a"], strongest["product_b"], strict=True)
    ]
    # The reference line sits at lift 1; grey bars are the pairs that are not significant.
    assert [line.get_xdata()[0] for line in ax.lines] == [1.0]
    grey = [bar.get_facecolor() == pytest.approx((0.7, 0.7, 0.7, 1.0)) for bar in ax.containers[0]]
    assert grey == list(strongest["p_value"].to_numpy() >= 0.05)
    count, a_b, b_a = (strongest[c].iloc[0] for c in ("count", "confidence_a_b", "confidence_b_a"))
    assert ax.texts[0].get_text() == f"{count:,} together · in {a_b:.0%} of A's, {b_a:.0%} of B's"
    assert ax.get_title() == f"Strongest product pairs: top 12 of {len(pairs):,} by lift"


def test_affinity_plot_takes_every_frame_kind_and_fewer_pairs_than_top(lines):
    few = custval.affinity(lines, top_k=3)
    for kind in (few, pl.from_pandas(few), pl.from_pandas(few).to_arrow()):
        ax = plot_affinity(kind, top=50)
        assert len(ax.containers[0]) == 3


def test_affinity_plot_refuses_other_tables(lines):
    with pytest.raises(custval.ColumnNotFoundError, match="'lift' not found"):
        plot_affinity(
            pd.DataFrame(
                {
                    "product_a": [1],
                    "product_b": [2],
                    "count": [1],
                    "confidence_a_b": [1.0],
                    "confidence_b_a": [1.0],
                }
            )
        )
    with pytest.raises(custval.CustvalError, match="top must be a whole number"):
        plot_affinity(custval.affinity(lines), top=0)


def test_recommendation_evaluation_draws_each_method_and_metric(lines):
    table = custval.evaluate_recommendations(lines, split="2024-09-30", top_k=10)
    ax = plot_recommendation_evaluation(table)
    assert [c.get_label() for c in ax.containers] == list(table.index)
    for container, method in zip(ax.containers, table.index, strict=True):
        heights = [bar.get_height() for bar in container]
        want = table.loc[method, ["hit_rate", "precision", "recall", "coverage"]].to_numpy()
        np.testing.assert_array_equal(heights, want)
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "Hit rate",
        "Precision",
        "Recall",
        "Coverage",
    ]
    customers = int(table["customers"].iloc[0])
    assert ax.get_title() == f"Recommendations on the holdout ({customers:,} customers)"
    # Item similarity beats the best-sellers' hit rate on the planted baskets.
    hits = {c.get_label(): c[0].get_height() for c in ax.containers}
    assert hits["item_similarity"] > hits["popularity"]


def test_recommendation_evaluation_from_polars_and_bad_tables(lines):
    table = custval.evaluate_recommendations(pl.from_pandas(lines), split="2024-09-30")
    ax = plot_recommendation_evaluation(table)
    assert [c.get_label() for c in ax.containers] == ["item_similarity", "popularity"]
    with pytest.raises(custval.ColumnNotFoundError, match="'hit_rate' not found"):
        plot_recommendation_evaluation(pd.DataFrame({"precision": [0.1]}))
