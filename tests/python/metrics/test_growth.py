"""Retention and cohorts against plain pandas / NumPy reference implementations
(DESIGN.md §4)."""

from __future__ import annotations

import math
from decimal import Decimal

import custval
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import logs

# --- reference implementations (plain pandas / NumPy, one customer × period grid) -----------


def _grid(log: pd.DataFrame, freq: str):
    """(customers × periods revenue in cents, purchase flags, orders, first period ordinal)."""
    key = pd.PeriodIndex(log["timestamp"], freq=freq).asi8
    lo, hi = key.min(), key.max()
    codes, _ = pd.factorize(log["customer_id"])
    n, c = int(hi - lo + 1), int(codes.max() + 1)
    cents = np.zeros((c, n), dtype=np.int64)
    orders = np.zeros((c, n), dtype=np.int64)
    np.add.at(cents, (codes, key - lo), log["cents"].to_numpy())
    np.add.at(orders, (codes, key - lo), 1)
    return cents, orders > 0, orders, lo


def ref_retention(log: pd.DataFrame, freq: str, window: int = 1) -> pd.DataFrame:
    cents, bought, _, lo = _grid(log, freq)
    c, n = bought.shape
    counts = np.cumsum(np.pad(bought, ((0, 0), (1, 0))), axis=1)
    active = (counts[:, 1:] - counts[:, np.maximum(np.arange(n) + 1 - window, 0)]) > 0
    prev = np.pad(active, ((0, 0), (1, 0)))[:, :-1]
    prev_rev = np.pad(cents, ((0, 0), (1, 0)))[:, :-1]
    first = bought.argmax(axis=1)
    is_new = active & (np.arange(n)[None, :] == first[:, None])
    retained = active & prev
    resurrected = active & ~prev & ~is_new
    churned = ~active & prev
    delta = np.where(retained, cents - prev_rev, 0)
    out = pd.DataFrame(
        {
            "active": active.sum(0),
            "new": is_new.sum(0),
            "retained": retained.sum(0),
            "resurrected": resurrected.sum(0),
            "churned": churned.sum(0),
            "revenue": cents.sum(0),
            "new_revenue": (cents * is_new).sum(0),
            "resurrected_revenue": (cents * resurrected).sum(0),
            "retained_revenue": (cents * retained).sum(0),
            "expansion_revenue": np.maximum(delta, 0).sum(0),
            "contraction_revenue": np.maximum(-delta, 0).sum(0),
            "churned_revenue": (prev_rev * churned).sum(0),
        },
        index=pd.period_range(pd.Period(ordinal=lo, freq=freq), periods=n, freq=freq).start_time,
    )
    prev_active = np.concatenate([[0], out["active"].to_numpy()[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["retention_rate"] = np.where(prev_active > 0, out["retained"] / prev_active, np.nan)
        out["churn_rate"] = np.where(prev_active > 0, out["churned"] / prev_active, np.nan)
    return out


def ref_cohorts(log: pd.DataFrame, freq: str, value: str) -> pd.DataFrame:
    cents, bought, orders, lo = _grid(log, freq)
    c, n = bought.shape
    first = bought.argmax(axis=1)
    cell = {"active": bought.astype(np.int64), "revenue": cents, "orders": orders}[value]
    rows = {}
    for cohort in np.unique(first):
        members = cell[first == cohort]
        row = np.full(n, np.nan)
        width = n - cohort
        row[:width] = members[:, cohort:].sum(axis=0)
        rows[cohort] = (len(members), row)
    starts = pd.period_range(pd.Period(ordinal=lo, freq=freq), periods=n, freq=freq).start_time
    out = pd.DataFrame(
        [row for _, row in rows.values()], index=starts[list(rows)], columns=range(n)
    )
    out.insert(0, "cohort_size", [size for size, _ in rows.values()])
    return out


def _cents(column: pd.Series) -> np.ndarray:
    return np.array([int(Decimal(v).scaleb(2)) for v in column], dtype=np.int64)


# --- retention --------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs(), st.integers(1, 3))
def test_retention_matches_reference(case, window):
    freq, log = case
    got = custval.retention(log, amount="amount", freq=freq, active_window=window, money="decimal")
    want = ref_retention(log, freq, window)
    assert list(got.index) == list(want.index)
    for name in ["active", "new", "retained", "resurrected", "churned"]:
        assert got[name].tolist() == want[name].tolist(), name
    for name in [c for c in want.columns if c.endswith("revenue")]:
        assert _cents(got[name]).tolist() == want[name].tolist(), name
    for name in ["retention_rate", "churn_rate"]:
        np.testing.assert_allclose(got[name].to_numpy(float), want[name].to_numpy(float))
    assert got["partial"].tolist() == [i in (0, len(got) - 1) for i in range(len(got))]
    # Exact revenue identity.
    rev = _cents(got["revenue"])
    prev = np.concatenate([[0], rev[:-1]])
    parts = {n: _cents(got[n]) for n in got.columns if n.endswith("revenue")}
    assert (
        rev
        == prev
        + parts["new_revenue"]
        + parts["resurrected_revenue"]
        + parts["expansion_revenue"]
        - parts["contraction_revenue"]
        - parts["churned_revenue"]
    ).all()


def test_retention_outputs_mirror_input_and_nulls():
    log = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-01-02"]),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    r = custval.retention(log, amount="amount")
    assert r.index.name == "period"
    assert math.isnan(r["retention_rate"].iloc[0])
    assert math.isnan(r["quick_ratio"].iloc[1]) is False  # a and b churn in Feb: (0 + 0) / 2
    assert r["quick_ratio"].iloc[1] == 0.0
    assert r["resurrected"].tolist() == [0, 0, 1]
    pl_out = custval.retention(pl.from_pandas(log), amount="amount")
    assert isinstance(pl_out, pl.DataFrame) and pl_out.columns[0] == "period"
    arrow_out = custval.retention(pa.Table.from_pandas(log), amount="amount")
    assert isinstance(arrow_out, pa.Table)
    assert arrow_out.column("retention_rate").null_count == 2  # nobody active in Feb
    no_amount = custval.retention(log)
    assert "revenue" not in no_amount.columns


def test_retention_single_period_and_bad_args():
    log = pd.DataFrame(
        {"customer_id": [1, 2], "timestamp": pd.to_datetime(["2024-05-01", "2024-05-09"])}
    )
    r = custval.retention(log)
    assert r["active"].tolist() == [2] and r["partial"].tolist() == [True]
    with pytest.raises(custval.CustvalError, match="freq"):
        custval.retention(log, freq="min")
    with pytest.raises(ValueError, match="active_window"):
        custval.retention(log, active_window=0)


def test_retention_thread_count_independent():
    log = custval.datasets.simulate_transactions(5_000, seed=3)
    before = custval.get_num_threads()
    try:
        custval.set_num_threads(1)
        one = custval.retention(log, amount="amount", freq="W", money="decimal")
        custval.set_num_threads(2)
        two = custval.retention(log, amount="amount", freq="W", money="decimal")
    finally:
        custval.set_num_threads(before)
    pd.testing.assert_frame_equal(one, two)


def test_retention_timezone_periods():
    times = pd.to_datetime(["2024-01-31 23:30", "2024-02-01 00:30"]).tz_localize("Europe/Paris")
    log = pd.DataFrame({"customer_id": [1, 1], "timestamp": times})
    r = custval.retention(log)
    assert [str(t) for t in r.index] == ["2024-01-01 00:00:00+01:00", "2024-02-01 00:00:00+01:00"]


# --- cohorts ------------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs(), st.sampled_from(["active", "revenue", "orders"]))
def test_cohorts_match_reference(case, value):
    freq, log = case
    got = custval.cohorts(log, amount="amount", freq=freq, value=value, normalize=False)
    want = ref_cohorts(log, freq, value)
    if value == "revenue":
        want[list(range(want.shape[1] - 1))] /= 100
    assert list(got.index) == list(want.index)
    assert got.columns.tolist() == want.columns.tolist()
    np.testing.assert_allclose(got.to_numpy(float), want.to_numpy(float), rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(logs())
def test_cohorts_normalized_and_cumulative(case):
    freq, log = case
    active = ref_cohorts(log, freq, "active")
    revenue = ref_cohorts(log, freq, "revenue")
    ks = list(range(active.shape[1] - 1))
    share = custval.cohorts(log, freq=freq)
    np.testing.assert_allclose(
        share[ks].to_numpy(float), active[ks].div(active["cohort_size"], axis=0).to_numpy(float)
    )
    assert (share[0] == 1.0).all()
    cumulative = custval.cohorts(
        log, amount="amount", freq=freq, value="cumulative_revenue_per_customer"
    )
    want = revenue[ks].cumsum(axis=1).div(revenue["cohort_size"] * 100, axis=0)
    want = want.where(revenue[ks].notna())
    np.testing.assert_allclose(cumulative[ks].to_numpy(float), want.to_numpy(float), atol=1e-6)


def test_cohorts_polars_and_arrow_names():
    log = custval.datasets.simulate_transactions(300, seed=2, output="polars")
    out = custval.cohorts(log, freq="Q")
    assert out.columns[:3] == ["cohort", "cohort_size", "0"]
    table = custval.cohorts(log.to_arrow(), freq="Q", amount="amount", value="revenue")
    assert table.column_names[:3] == ["cohort", "cohort_size", "0"]
    last = table.column(table.column_names[-1])
    assert last.null_count == table.num_rows - 1  # only the first cohort reaches the last k
    with pytest.raises(ValueError, match="value"):
        custval.cohorts(log, value="nope")
    for value in ("revenue", "cumulative_revenue_per_customer"):
        with pytest.raises(custval.CustvalError, match="amount"):
            custval.cohorts(log, value=value)


# --- CDNOW, checkable by hand -------------------------------------------------------------------


def test_cdnow_cohorts_and_first_month_retention(cdnow):
    sizes = custval.cohorts(cdnow, value="active", normalize=False)
    # Every CDNOW customer made a first purchase in Q1 1997: three monthly cohorts.
    assert sizes["cohort_size"].tolist() == [7846, 8476, 7248]
    first = cdnow.groupby("customer_id")["timestamp"].min().dt.to_period("M")
    assert sizes["cohort_size"].tolist() == first.value_counts().sort_index().tolist()
    assert sizes.columns[-1] == 17  # Jan 1997 .. Jun 1998 is 18 months
    jan_in_feb = sizes.loc[pd.Timestamp("1997-01-01"), 1]
    month = cdnow["timestamp"].dt.to_period("M")
    jan = set(first[first == pd.Period("1997-01", "M")].index)
    assert jan_in_feb == len(
        jan & set(cdnow.loc[month == pd.Period("1997-02", "M"), "customer_id"])
    )
    r = custval.retention(cdnow, amount="dollar_value")
    assert r.loc["1997-02-01", "retained"] == jan_in_feb
    assert r.loc["1997-02-01", "retention_rate"] == jan_in_feb / 7846
    assert r["new"].sum() == 23570
    assert round(r["revenue"].sum(), 2) == round(cdnow["dollar_value"].sum(), 2)
