"""Plain pandas reference implementations of custval's summaries, and the random
transaction logs of the property tests."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pandas as pd
from hypothesis import strategies as st

FREQS = ["h", "D", "W", "M", "Q", "Y"]


# Published CDNOW estimates (../shared/data/REFERENCE.md).
CDNOW_BGNBD = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
CDNOW_PARETO = {"r": 0.5532, "alpha": 10.5763, "s": 0.6062, "beta": 11.6715}
CDNOW_MBGNBD = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
CDNOW_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def cents(value: float, scale: int = 2) -> Decimal:
    """DESIGN.md money rule: shortest repr, then half to even at ``scale``."""
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-scale), ROUND_HALF_EVEN)


def periods(times: pd.Series, freq: str) -> pd.Series:
    return pd.Series(times.dt.to_period(freq).array.asi8, index=times.index)


def end_ordinal(end: pd.Timestamp, freq: str) -> int:
    return pd.Period(end, freq).ordinal


def _purchases(log: pd.DataFrame, freq: str) -> pd.DataFrame:
    log = log.assign(p=periods(log["timestamp"], freq), money=log["amount"].map(cents))
    return log.groupby(["customer_id", "p"], sort=True)["money"].sum().reset_index()


def summary(
    log: pd.DataFrame, freq: str, multiplier: float, end: pd.Timestamp, include_first=False
) -> pd.DataFrame:
    log = log[log["timestamp"] <= end]
    purchases = _purchases(log, freq)
    by = purchases.groupby("customer_id")
    first, last, count = by["p"].min(), by["p"].max(), by.size()
    total = by["money"].sum()
    first_money = purchases.groupby("customer_id")["money"].first()
    offset = 0 if include_first else 1
    repeat_money = total if include_first else total - first_money
    monetary = [
        float(m / (n - offset)) if n - offset else 0.0
        for m, n in zip(repeat_money, count, strict=True)
    ]
    orders = log.groupby("customer_id").size()
    return pd.DataFrame(
        {
            "frequency": (count - offset).astype(float),
            "recency": (last - first) / multiplier,
            "T": (end_ordinal(end, freq) - first) / multiplier,
            "monetary_value": monetary,
            "n_orders": orders,
            "revenue": total,
        }
    )


def calibration_holdout(
    log: pd.DataFrame, freq: str, calibration_end: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    log = log[log["timestamp"] <= end]
    purchases = _purchases(log, freq)
    split = end_ordinal(calibration_end, freq)
    cal = purchases[purchases["p"] <= split]
    hold = purchases[purchases["p"] > split]
    by = cal.groupby("customer_id")
    first, last, count = by["p"].min(), by["p"].max(), by.size()
    repeat_money = by["money"].sum() - by["money"].first()
    hold_count = hold.groupby("customer_id").size().reindex(count.index, fill_value=0)
    hold_money = hold.groupby("customer_id")["money"].sum().reindex(count.index)
    return pd.DataFrame(
        {
            "frequency_cal": (count - 1).astype(float),
            "recency_cal": (last - first).astype(float),
            "T_cal": (split - first).astype(float),
            "monetary_value_cal": [
                float(m / (n - 1)) if n > 1 else 0.0
                for m, n in zip(repeat_money, count, strict=True)
            ],
            "frequency_holdout": hold_count.astype(float),
            "monetary_value_holdout": [
                float(m / n) if n else 0.0 for m, n in zip(hold_money, hold_count, strict=True)
            ],
            "duration_holdout": float(end_ordinal(end, freq) - split),
        }
    )


def kpis(log: pd.DataFrame) -> dict:
    orders = log.groupby("customer_id").size()
    revenue = sum(log["amount"].map(cents), Decimal(0))
    return {
        "customers": len(orders),
        "orders": int(orders.sum()),
        "revenue": revenue,
        "repeat_customer_rate": float((orders >= 2).mean()) if len(orders) else None,
    }


# --- random logs ----------------------------------------------------------------------------

SPAN_SECONDS = {
    "h": 3600 * 10,
    "D": 86400 * 10,
    "W": 86400 * 7 * 10,
    "M": 86400 * 31 * 10,
    "Q": 86400 * 92 * 8,
    "Y": 86400 * 366 * 5,
}
BASE = pd.Timestamp("2021-02-27 13:00")


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
