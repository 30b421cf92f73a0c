"""Customer-base metrics against plain pandas reference implementations (DESIGN.md §4)."""

from __future__ import annotations

import doctest
import importlib
import math
import pathlib
from decimal import Decimal

import custval
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from custval.metrics import DEFAULT_SEGMENTS, concentration_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CDNOW = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "CDNOW_master.txt"
FREQS = ["h", "D", "W", "M", "Q", "Y"]
SPAN_SECONDS = {
    "h": 3600 * 10,
    "D": 86400 * 10,
    "W": 86400 * 7 * 10,
    "M": 86400 * 31 * 10,
    "Q": 86400 * 92 * 8,
    "Y": 86400 * 366 * 5,
}
BASE = pd.Timestamp("2021-02-27 13:00")


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


@st.composite
def logs(draw, freq: str | None = None):
    freq = freq or draw(st.sampled_from(FREQS))
    n = draw(st.integers(1, 60))
    customers = draw(st.integers(1, 10))
    span = draw(st.sampled_from([0, SPAN_SECONDS[freq] // 8, SPAN_SECONDS[freq]]))
    rows = draw(
        st.lists(
            st.tuples(st.integers(0, customers - 1), st.integers(0, span), st.integers(0, 9999)),
            min_size=n,
            max_size=n,
        )
    )
    ids, offsets, cents = zip(*rows, strict=True)
    log = pd.DataFrame(
        {
            "customer_id": np.array(ids, dtype=np.int64),
            "timestamp": BASE + pd.to_timedelta(np.array(offsets), unit="s"),
            "cents": np.array(cents, dtype=np.int64),
        }
    )
    log["amount"] = log["cents"] / 100
    return freq, log


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


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    if not CDNOW.exists():
        pytest.skip("../shared/data is not available")
    # Whitespace-separated with a header: customer_id date number_of_cds dollar_value.
    frame = pd.read_csv(CDNOW, sep=r"\s+", dtype={"date": str})
    frame["timestamp"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    frame["dollar_value"] = frame["dollar_value"].astype(float)
    frame["customer_id"] = frame["customer_id"].astype(np.int64)
    return frame


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


# --- unit economics -----------------------------------------------------------------------------


def test_worked_examples():
    assert custval.simple_clv(aov=25, purchase_frequency=4, margin=0.4, churn_rate=0.1) == 400
    assert custval.simple_clv(aov=100, purchase_frequency=3, lifespan=5) == 1500
    assert custval.retention_cost(100_000, 1_000) == 100
    result = custval.clv_to_cac(100, 20)
    assert (result.ratio, result.difference) == (5.0, 80.0)
    assert custval.cac(5_000, 250) == 20


def test_simple_clv_discounting():
    m = 10.0
    by_sum = sum(m * 1.1**-t for t in range(4))
    got = custval.simple_clv(aov=10, purchase_frequency=1, lifespan=4, discount_rate=0.1)
    assert math.isclose(got, by_sum)
    # Geometric survival: Σ m (1−c)^t (1+d)^−t = m (1+d) / (d + c).
    perpetual = custval.simple_clv(aov=10, purchase_frequency=1, churn_rate=0.2, discount_rate=0.1)
    series = sum(m * (0.8 / 1.1) ** t for t in range(2000))
    assert math.isclose(perpetual, series)
    with pytest.raises(ValueError):
        custval.simple_clv(aov=1, purchase_frequency=1)
    with pytest.raises(ValueError):
        custval.cac(10, 0)


def test_unit_economics_mapping_and_total():
    log = custval.datasets.simulate_transactions(
        3_000, seed=4, start="2023-01-01", end="2023-06-30"
    )
    total = custval.unit_economics(log, amount="amount", acquisition_spend=30_000, margin=0.3)
    assert math.isclose((total["spend"]).sum(), 30_000)
    assert np.allclose(total["cac"], 10.0)
    assert np.allclose(total["clv"], total["margin_per_period"] / total["churn_rate"])
    mapping = {"2023-01": 9_000, "2023-02-15": 6_000}
    by_month = custval.unit_economics(log, amount="amount", acquisition_spend=mapping)
    assert by_month["spend"].iloc[:2].tolist() == [9_000.0, 6_000.0]
    assert by_month["spend"].iloc[2:].isna().all()
    with pytest.raises(ValueError, match="no new customers"):
        custval.unit_economics(log, amount="amount", acquisition_spend={"2030-01": 5})


# --- NPS ------------------------------------------------------------------------------------


def ref_nps(scores: list[int], low: int, high: int) -> tuple[float, float]:
    s = pd.Series(scores)
    cut = {(0, 10): (6, 8), (1, 10): (6, 8), (1, 7): (5, 6), (1, 5): (3, 4)}[(low, high)]
    p = (s > cut[1]).mean()
    d = (s <= cut[0]).mean()
    return 100 * (p - d), 100 * math.sqrt((p + d - (p - d) ** 2) / len(s))


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from([(0, 10), (1, 10), (1, 7), (1, 5)]).flatmap(
        lambda sc: st.tuples(st.just(sc), st.lists(st.integers(*sc), min_size=1, max_size=200))
    )
)
def test_nps_matches_reference(case):
    (low, high), scores = case
    got = custval.nps(scores, scale=(low, high))
    score, stderr = ref_nps(scores, low, high)
    assert math.isclose(got.nps, score, abs_tol=1e-9)
    assert math.isclose(got.stderr, stderr, abs_tol=1e-9)
    assert math.isclose(got.ci_high - got.ci_low, 2 * 1.959963984540054 * stderr, abs_tol=1e-9)
    assert got.promoters + got.passives + got.detractors == got.n == len(scores)


def test_nps_frames_groups_and_invalid():
    frame = pd.DataFrame({"g": ["a", "a", "b", "b", "b"], "s": [10, 0, 9, 9, 7]})
    by = custval.nps(frame, score="s", by="g")
    assert by.loc["a", "nps"] == 0.0 and by.loc["b", "nps"] == pytest.approx(200 / 3)
    assert isinstance(custval.nps(pl.from_pandas(frame), score="s", by="g"), pl.DataFrame)
    assert custval.nps(frame, score="s").n == 5
    with pytest.raises(custval.DataError, match="3 scores"):
        custval.nps([1, 11, 2.5, None, 5])
    with pytest.warns(UserWarning, match="dropped 3"):
        dropped = custval.nps([1, 11, 2.5, None, 5], dropna=True)
    assert dropped.n == 2
    with pytest.raises(ValueError, match="cutoffs"):
        custval.nps([1, 2], scale=(1, 4))
    assert custval.nps([1, 4, 3], scale=(1, 4), cutoffs=(2, 3)).nps == 0.0


def test_docstring_examples():
    module = importlib.import_module("custval.metrics")
    failures, tried = doctest.testmod(
        module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    )
    assert tried > 0 and failures == 0
