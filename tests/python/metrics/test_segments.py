"""RFM scores and segments, and value concentration (DESIGN.md §4)."""

from __future__ import annotations

import math

import custval
import numpy as np
import pandas as pd
import polars as pl
import pytest
from custval.metrics import DEFAULT_SEGMENTS, concentration_of
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import logs

# --- RFM segments ---------------------------------------------------------------------------


def ref_scores(values: pd.Series, bins: int) -> np.ndarray:
    ranks = values.rank(method="min").to_numpy()
    return (1 + np.floor(bins * (ranks - 1) / len(values))).astype(int)


@settings(max_examples=80, deadline=None)
@given(logs(freq="D"), st.sampled_from([2, 3, 5, 7]))
def test_rfm_scores_match_reference(case, bins):
    _, log = case
    rules = [("top", (bins, bins), (1, bins))]
    got = custval.rfm_segments(log, amount="amount", bins=bins, segments=rules)
    summary = custval.rfm_summary(log, amount="amount")
    since = summary["T"] - summary["recency"]
    assert got["r_score"].tolist() == ref_scores(-since, bins).tolist()
    assert got["f_score"].tolist() == ref_scores(summary["n_orders"], bins).tolist()
    assert got["m_score"].tolist() == ref_scores(summary["revenue"], bins).tolist()
    want = ["top" if r == bins else "Other" for r in got["r_score"]]
    assert got["segment"].tolist() == want


def test_default_segments_cover_grid_and_ties():
    grid = [(r, f) for r in range(1, 6) for f in range(1, 6)]
    for r, f in grid:
        assert any(
            lo_r <= r <= hi_r and lo_f <= f <= hi_f
            for _, (lo_r, hi_r), (lo_f, hi_f) in DEFAULT_SEGMENTS
        ), (r, f)
    log = custval.datasets.simulate_transactions(2_000, seed=5)
    seg = custval.rfm_segments(log, amount="amount")
    assert seg["f_score"][seg["n_orders"] == 1].eq(1).all()  # one-time buyers are F = 1
    assert "Other" not in set(seg["segment"])
    assert seg["rfm_score"].str.len().eq(3).all()
    callable_seg = custval.rfm_segments(
        log, amount="amount", segments=lambda r, f, m: np.where(m >= 4, "big", "small")
    )
    assert set(callable_seg["segment"]) == {"big", "small"}
    summary = custval.segment_summary(seg)
    assert summary["customers"].sum() == len(seg)
    assert math.isclose(summary["revenue_share"].sum(), 1.0)
    polars_seg = custval.rfm_segments(pl.from_pandas(log), amount="amount")
    assert isinstance(custval.segment_summary(polars_seg), pl.DataFrame)
    with pytest.raises(ValueError, match="bins=5"):
        custval.rfm_segments(log, amount="amount", bins=4)


# --- value concentration -------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0.01, 1e6), min_size=1, max_size=300))
def test_concentration_matches_reference(values):
    got = concentration_of(values)
    s = pd.Series(values).sort_values(ascending=False, ignore_index=True)
    for pct, name in [(1, "top_1pct"), (5, "top_5pct"), (10, "top_10pct"), (20, "top_20pct")]:
        k = max(1, math.ceil(pct * len(s) / 100))
        assert math.isclose(getattr(got, name), s[:k].sum() / s.sum(), rel_tol=1e-9)
    x = s.sort_values().to_numpy()
    n = len(x)
    mad = np.abs(x[:, None] - x[None, :]).sum()
    assert math.isclose(got.gini, mad / (2 * n * n * x.mean()), rel_tol=1e-7, abs_tol=1e-9)
    assert got.lorenz_customers[0] == 0 and got.lorenz_customers[-1] == 1
    assert math.isclose(got.lorenz_value[-1], 1.0)
    assert set(got.to_dict()) >= {"top_1pct", "gini", "lorenz_value"}


def test_value_concentration_from_log(cdnow):
    c = custval.value_concentration(cdnow, amount="dollar_value")
    per_customer = cdnow.groupby("customer_id")["dollar_value"].sum().sort_values(ascending=False)
    assert c.customers == 23570
    assert math.isclose(c.top_20pct, per_customer[:4714].sum() / per_customer.sum(), rel_tol=1e-9)
    assert 0 < c.gini < 1
    orders = custval.value_concentration(cdnow, by="orders")
    assert orders.total == len(cdnow)
