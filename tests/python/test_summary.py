"""rfm_summary, calibration_holdout and kpis: golden data, exact money, peers' conventions."""

from __future__ import annotations

from decimal import Decimal

import custval
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import reference
from conftest import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BASE = pd.Timestamp("2020-01-01")


def test_cdnow_reproduces_published_summary(cdnow_sample):
    summary = custval.rfm_summary(
        cdnow_sample,
        amount="amount",
        observation_end="1997-09-30",
        freq="D",
        freq_multiplier=7,
    )
    expected = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv").set_index("ID")
    summary = summary.loc[expected.index]
    assert (summary["frequency"] == expected["x"]).all()
    tolerance = 0.005 + 1e-9  # the file is rounded to 2 decimals (zbar half up)
    assert (summary["recency"] - expected["t_x"]).abs().max() <= tolerance
    assert (summary["T"] - expected["T"]).abs().max() <= tolerance
    assert (summary["monetary_value"] - expected["zbar"]).abs().max() <= tolerance
    meta = summary.attrs["custval"]
    assert meta["freq"] == "D" and meta["freq_multiplier"] == 7
    assert meta["rows_after_observation_end"] == int(
        (cdnow_sample["timestamp"] > "1997-09-30").sum()
    )


def test_half_even_money_rule():
    log = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 3],
            "timestamp": pd.to_datetime(["2024-01-01"] * 4),
            "amount": [2.675, 8.345, 0.125, -0.125],
        }
    )
    summary = custval.rfm_summary(log, amount="amount", money="decimal")
    assert list(summary["revenue"]) == [Decimal("2.68"), Decimal("8.34"), Decimal("0.00")]


def test_revenue_reconciles_where_float_sums_drift():
    rng = np.random.default_rng(3)
    n = 200_000
    amounts = np.round(rng.choice([0.1, 0.2, 0.3, 19.99, 1e6 + 0.07], size=n), 2)
    log = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 5_000, size=n),
            "timestamp": BASE + pd.to_timedelta(rng.integers(0, 10**7, size=n), unit="s"),
            "amount": amounts,
        }
    )
    ledger = sum((Decimal(repr(float(a))) for a in amounts), Decimal(0))
    assert float(ledger) != amounts.sum() or float(ledger) != sum(amounts.tolist())
    summary = custval.rfm_summary(log, amount="amount", money="decimal")
    assert sum(summary["revenue"], Decimal(0)) == ledger
    assert custval.kpis(log, amount="amount", money="decimal").revenue == ledger


def test_decimal_input_keeps_scale_and_38_digits():
    big = Decimal("12345678901234567890123456789.123")
    table = pa.table(
        {
            "customer_id": pa.array(["a", "a", "b"]),
            "timestamp": pa.array([1, 2, 3], pa.timestamp("s")),
            "amount": pa.array([big, big, Decimal("0.001")], pa.decimal128(38, 3)),
        }
    )
    out = custval.rfm_summary(table, amount="amount", money="decimal")
    assert out.column("revenue").type == pa.decimal128(38, 3)
    assert out.column("revenue").to_pylist() == [
        Decimal("24691357802469135780246913578.246"),
        Decimal("0.001"),
    ]


def test_integer_amounts_are_major_units():
    log = {
        "customer_id": np.array([1, 1]),
        "timestamp": np.array(["2024-01-01", "2024-02-01"], dtype="datetime64[s]"),
        "amount": np.array([5, 7]),
    }
    out = custval.rfm_summary(log, amount="amount", money="decimal", freq="M")
    assert out.loc[1, "revenue"] == Decimal("12.00")
    assert out.loc[1, "monetary_value"] == Decimal("7")


def test_refunds_net_into_their_period():
    log = pd.DataFrame(
        {
            "customer_id": [1, 1, 1],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-05"]),
            "amount": [10.0, 30.0, -12.5],
        }
    )
    out = custval.rfm_summary(log, amount="amount")
    assert out.loc[1, "frequency"] == 1
    assert out.loc[1, "monetary_value"] == 17.5
    assert out.loc[1, "revenue"] == 27.5


def test_same_result_with_one_and_two_threads():
    log = custval.datasets.simulate_transactions(60_000, seed=5, output="arrow")
    shuffled = log.take(np.random.default_rng(0).permutation(log.num_rows))
    results = []
    try:
        for threads in (1, 2):
            custval.set_num_threads(threads)
            assert custval.get_num_threads() == threads
            for data in (log, shuffled):
                results.append(custval.rfm_summary(data, amount="amount", output="arrow"))
    finally:
        custval.set_num_threads(2)
    sort = [("customer_id", "ascending")]
    assert results[0].equals(results[2])
    assert results[0].sort_by(sort).equals(results[1].sort_by(sort))
    assert results[1].equals(results[3])


@pytest.mark.parametrize("freq", reference.FREQS)
def test_every_freq_matches_pandas_periods(freq):
    rng = np.random.default_rng(7)
    n = 5_000
    seconds = rng.integers(-(10**9), 10**9, size=n)
    log = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 300, size=n),
            "timestamp": pd.to_datetime(seconds, unit="s"),
            "amount": rng.integers(1, 10_000, size=n) / 100,
        }
    )
    end = log["timestamp"].max()
    out = custval.rfm_summary(log, amount="amount", freq=freq, observation_end=end)
    expected = reference.summary(log, freq, 1, end)
    out = out.loc[expected.index]
    for column in ("frequency", "recency", "T", "n_orders"):
        np.testing.assert_array_equal(out[column], expected[column], err_msg=column)
    # means are rounded half to even at scale + 6 = 8 places
    np.testing.assert_allclose(out["monetary_value"], expected["monetary_value"], atol=5e-9)


def test_h_is_an_alias_of_hourly():
    log = custval.datasets.simulate_transactions(500, seed=2)
    assert custval.rfm_summary(log, freq="H").equals(custval.rfm_summary(log, freq="h"))


def _log_strategy():
    row = st.tuples(
        st.integers(0, 12),  # customer
        st.integers(0, 24 * 800),  # hour offset: ties and same-period repeats
        st.integers(-500, 50_000),  # cents, refunds included
    )
    return st.lists(row, min_size=1, max_size=120)


def _frame(rows, string_ids):
    customers, hours, cents = zip(*rows, strict=True)
    ids = [f"c{c}" for c in customers] if string_ids else list(customers)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "timestamp": BASE + pd.to_timedelta(np.array(hours) * 3600 + 59, unit="s"),
            "amount": np.array(cents) / 100,
        }
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=_log_strategy(),
    freq=st.sampled_from(reference.FREQS),
    string_ids=st.booleans(),
    multiplier=st.sampled_from([1, 7]),
    include_first=st.booleans(),
)
def test_summary_matches_reference(rows, freq, string_ids, multiplier, include_first):
    log = _frame(rows, string_ids)
    end = log["timestamp"].max() + pd.Timedelta(days=3)
    out = custval.rfm_summary(
        log,
        amount="amount",
        freq=freq,
        freq_multiplier=multiplier,
        observation_end=end,
        include_first=include_first,
        money="decimal",
    )
    expected = reference.summary(log, freq, multiplier, end, include_first)
    assert sorted(out.index) == sorted(expected.index)
    out = out.loc[expected.index]
    for column in ("frequency", "recency", "T", "n_orders"):
        np.testing.assert_allclose(out[column].astype(float), expected[column], err_msg=column)
    assert list(out["revenue"]) == list(expected["revenue"])
    np.testing.assert_allclose(
        out["monetary_value"].astype(float), expected["monetary_value"], rtol=1e-9, atol=1e-6
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_log_strategy(), freq=st.sampled_from(reference.FREQS), string_ids=st.booleans())
def test_calibration_holdout_matches_reference(rows, freq, string_ids):
    log = _frame(rows, string_ids)
    times = log["timestamp"].sort_values()
    split = times.iloc[len(times) // 2]
    end = times.iloc[-1]
    out = custval.calibration_holdout(
        log, calibration_end=split, observation_end=end, amount="amount", freq=freq
    )
    expected = reference.calibration_holdout(log, freq, split, end)
    assert sorted(out.index) == sorted(expected.index)
    out = out.loc[expected.index]
    for column in expected.columns:
        np.testing.assert_allclose(out[column], expected[column], atol=1e-6, err_msg=column)
    first_seen_later = log.groupby("customer_id")["timestamp"].min()
    later = int((periods_of(first_seen_later, freq) > pd.Period(split, freq).ordinal).sum())
    assert out.attrs["custval"]["customers_first_seen_in_holdout"] == later


def periods_of(times: pd.Series, freq: str) -> pd.Series:
    return reference.periods(times, freq)


@settings(max_examples=60, deadline=None)
@given(rows=_log_strategy(), string_ids=st.booleans())
def test_kpis_match_reference(rows, string_ids):
    log = _frame(rows, string_ids)
    got = custval.kpis(log, amount="amount", money="decimal")
    expected = reference.kpis(log)
    assert got.customers == expected["customers"]
    assert got.orders == expected["orders"]
    assert got.revenue == expected["revenue"]
    assert got.repeat_customer_rate == pytest.approx(expected["repeat_customer_rate"])
    assert got.purchase_frequency == pytest.approx(expected["orders"] / expected["customers"])


def test_kpis_window_order_ids_and_margin():
    log = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 3],
            "order_id": ["o1", "o1", "o2", "o3", "o4"],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-01", "2024-02-01", "2024-02-10", "2024-05-01"]
            ),
            "amount": [10.0, 5.0, 20.0, 30.0, 40.0],
            "cost": [4.0, 2.0, 8.0, 12.0, 16.0],
        }
    )
    k = custval.kpis(log, amount="amount", order="order_id", end="2024-02-29", cost="cost")
    assert (k.customers, k.orders, k.revenue) == (2, 3, 65.0)
    assert k.aov == pytest.approx(65 / 3)
    assert k.repeat_customer_rate == 0.5
    assert k.gross_margin == 39.0
    assert k.gross_margin_rate == pytest.approx(0.6)
    k = custval.kpis(log, amount="amount", start="2024-02-01", margin=0.25)
    assert (k.customers, k.orders, k.revenue, k.gross_margin) == (3, 3, 90.0, 22.5)
    assert set(k.to_dict()) >= {"customers", "aov", "spend_per_customer", "gross_margin"}
    assert "purchase_frequency" in repr(k)


def test_order_column_counts_distinct_orders():
    log = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2],
            "order_id": [10, 10, 11, 10],
            "timestamp": pd.to_datetime(["2024-01-01"] * 4),
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )
    out = custval.rfm_summary(log, amount="amount", order="order_id")
    assert list(out["n_orders"]) == [2, 1]
    assert list(out["aov"]) == [3.0, 4.0]


def test_without_amount_money_columns_are_absent():
    log = custval.datasets.simulate_transactions(200, seed=1)
    out = custval.rfm_summary(log)
    assert list(out.columns) == [
        "frequency",
        "recency",
        "T",
        "n_orders",
        "first_purchase",
        "last_purchase",
    ]


def test_midnight_observation_end_keeps_that_whole_day_like_lifetimes():
    log = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "timestamp": pd.to_datetime(
                ["2024-01-01 00:00", "2024-01-10 18:00", "2024-01-11 00:00"]
            ),
        }
    )
    for end in (pd.Timestamp("2024-01-10"), "2024-01-10"):
        out = custval.rfm_summary(log, observation_end=end)
        assert list(out.index) == [1]
        assert out.loc[1, "frequency"] == 1
        assert out.attrs["custval"]["rows_after_observation_end"] == 1
    exact = custval.rfm_summary(log, observation_end=pd.Timestamp("2024-01-10 12:00"))
    assert exact.loc[1, "frequency"] == 0
