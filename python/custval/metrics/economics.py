"""Unit economics: simple CLV from averages, CAC, retention cost, CLV:CAC, and per-cohort
unit economics estimated from a transaction log."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from custval import _display, _frames, _input
from custval.metrics.growth import _cohorts, _retention


def simple_clv(
    *,
    aov: float,
    purchase_frequency: float,
    margin: float = 1.0,
    churn_rate: float | None = None,
    lifespan: float | None = None,
    discount_rate: float = 0.0,
) -> float:
    """Simple customer lifetime value from averages.

    Margin per period m = aov × purchase_frequency × margin. With a ``churn_rate`` c per
    period: CLV = m (1 + d) / (d + c) (cash at the start of each period; m / c when the
    ``discount_rate`` d is 0). With a ``lifespan`` L in periods: CLV = m Σ_{t<L} (1 + d)^−t
    (m L when d = 0; a fractional L uses the closed form of the sum). Pass exactly one of
    ``churn_rate`` and ``lifespan``.

    Examples
    --------
    >>> from custval import simple_clv
    >>> simple_clv(aov=25, purchase_frequency=4, margin=0.4, churn_rate=0.1)
    400.0
    >>> simple_clv(aov=100, purchase_frequency=3, lifespan=5)
    1500.0
    """
    if (churn_rate is None) == (lifespan is None):
        raise ValueError("pass exactly one of churn_rate= and lifespan=")
    if discount_rate < 0:
        raise ValueError(f"discount_rate must be ≥ 0, got {discount_rate}")
    m = float(aov) * float(purchase_frequency) * float(margin)
    d = float(discount_rate)
    if churn_rate is not None:
        if not 0 < churn_rate <= 1:
            raise ValueError(f"churn_rate must be in (0, 1], got {churn_rate}")
        return m * (1 + d) / (d + churn_rate)
    if lifespan is None or lifespan < 0:
        raise ValueError(f"lifespan must be ≥ 0, got {lifespan}")
    if d == 0:
        return m * float(lifespan)
    return m * (1 - (1 + d) ** -lifespan) / (1 - 1 / (1 + d))


def _per(numerator: float, denominator: float, what: str) -> float:
    if denominator <= 0:
        raise ValueError(f"{what} must be positive, got {denominator}")
    return float(numerator) / float(denominator)


def cac(spend: float, new_customers: float) -> float:
    """Customer acquisition cost: acquisition spend / new customers.

    Examples
    --------
    >>> from custval import cac
    >>> cac(5_000, 250)
    20.0
    """
    return _per(spend, new_customers, "new_customers")


def retention_cost(spend: float, retained_customers: float) -> float:
    """Retention cost per customer: retention spend / retained customers.

    Examples
    --------
    >>> from custval import retention_cost
    >>> retention_cost(100_000, 1_000)
    100.0
    """
    return _per(spend, retained_customers, "retained_customers")


class ClvToCac(NamedTuple):
    """CLV:CAC as a ratio (5.0 reads "5:1") and the difference CLV − CAC."""

    ratio: float
    difference: float

    def _repr_html_(self) -> str:
        ratio = "—" if _display.missing(self.ratio) else f"{self.ratio:,.2f} : 1"
        rows = [("CLV : CAC", ratio), ("CLV − CAC", _display.money(self.difference))]
        return _display.html_table(["", "value"], rows, caption="CLV against CAC")


def clv_to_cac(clv: float, cac: float) -> ClvToCac:
    """CLV:CAC ratio and CLV − CAC.

    Examples
    --------
    >>> from custval import clv_to_cac
    >>> clv_to_cac(100, 20)
    ClvToCac(ratio=5.0, difference=80.0)
    """
    return ClvToCac(_per(clv, cac, "cac"), float(clv) - float(cac))


def unit_economics(
    data: Any,
    *,
    acquisition_spend: float | Mapping[Any, float],
    customer: str = "customer_id",
    time: str = "timestamp",
    amount: str | None = None,
    order: str | None = None,
    margin: float = 1.0,
    freq: str = "M",
    discount_rate: float = 0.0,
    output: str = "auto",
    scale: int = 2,
    dropna: bool = False,
):
    """CLV, CAC, CLV:CAC and payback per acquisition cohort, estimated from the log.

    Per cohort (period of first purchase): ``aov`` = revenue / orders and
    ``purchase_frequency`` = orders per active customer-period over the cohort's life, so
    the margin per period m = aov × purchase_frequency × ``margin``. ``churn_rate`` is one
    pooled estimate for the log: Σ churned / Σ active(p − 1) of :func:`retention` over the
    periods after the first, leaving out the last (partial) period when there are more than
    two. ``clv`` = :func:`simple_clv` (m, churn, ``discount_rate``).

    ``acquisition_spend`` is either a single total, split across cohorts in proportion to
    their new customers (every cohort then has the same CAC), or a mapping from a date in the
    cohort's period (e.g. "2024-01" or a Timestamp) to that cohort's spend; cohorts missing
    from the mapping get NaN spend. ``cac`` = spend / customers, ``clv_to_cac`` = clv / cac,
    ``payback_periods`` = cac / m.

    Examples
    --------
    >>> import pandas as pd, custval
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 1, 2, 2, 3, 3],
    ...     "timestamp": pd.to_datetime(["2024-01-03", "2024-02-03", "2024-03-03", "2024-04-03",
    ...                                  "2024-01-09", "2024-02-09", "2024-02-10", "2024-03-10"]),
    ...     "amount": [20.0, 20.0, 20.0, 20.0, 10.0, 30.0, 40.0, 40.0],
    ... })
    >>> u = custval.unit_economics(log, amount="amount", acquisition_spend=60, margin=0.5)
    >>> u[["customers", "aov", "churn_rate", "clv", "cac", "clv_to_cac"]]
                customers   aov  churn_rate    clv   cac  clv_to_cac
    cohort
    2024-01-01          2  20.0         0.2   50.0  20.0         2.5
    2024-02-01          1  40.0         0.2  100.0  20.0         5.0
    >>> u["payback_periods"].tolist()
    [2.0, 1.0]
    """
    if amount is None:
        raise ValueError("unit_economics needs amount=")
    # The log is read once; the four aggregations below run on it.
    log = _input.transactions(
        data, customer=customer, time=time, amount=amount, order=order, dropna=dropna
    )
    common: dict[str, Any] = dict(freq=freq, decimal=False, scale=scale, output="pandas")
    revenue = _cohorts(log, value="revenue", normalize=True, **common)
    orders = _cohorts(log, value="orders", normalize=True, **common)
    active = _cohorts(log, value="active", normalize=False, **common)
    growth = _retention(log, active_window=1, **common)
    churned = growth["churned"].to_numpy()[1:]
    previous = growth["active"].to_numpy()[:-1]
    if len(churned) > 1:
        churned, previous = churned[:-1], previous[:-1]
    churn = float(churned.sum() / previous.sum()) if previous.sum() else math.nan
    k_columns = [c for c in revenue.columns if isinstance(c, int)]
    sizes = revenue["cohort_size"].to_numpy(dtype=np.float64)
    total_revenue = revenue[k_columns].sum(axis=1).to_numpy(dtype=np.float64)
    total_orders = orders[k_columns].sum(axis=1).to_numpy(dtype=np.float64)
    active_periods = active[k_columns].sum(axis=1).to_numpy(dtype=np.float64)
    aov = total_revenue / total_orders
    frequency = total_orders / active_periods
    per_period = aov * frequency * float(margin)
    d = float(discount_rate)
    clv = per_period * (1 + d) / (d + churn) if churn > 0 else np.full_like(aov, np.nan)
    if isinstance(acquisition_spend, Mapping):
        by_start = {}
        for key, amount_spent in acquisition_spend.items():
            start = pd.Period(pd.Timestamp(key), freq=_pandas_freq(freq)).start_time
            by_start[start] = float(amount_spent)
        starts = [pd.Timestamp(t).tz_localize(None) for t in revenue.index]
        unknown = set(by_start) - set(starts)
        if unknown:
            raise ValueError(
                f"acquisition_spend has periods with no new customers: {sorted(unknown)}"
            )
        spend = np.array([by_start.get(t, np.nan) for t in starts])
    else:
        spend = float(acquisition_spend) * sizes / sizes.sum()
    cost = spend / sizes
    out = pd.DataFrame(
        {
            "customers": revenue["cohort_size"].to_numpy(),
            "revenue": total_revenue,
            "orders": total_orders,
            "aov": aov,
            "purchase_frequency": frequency,
            "margin_per_period": per_period,
            "churn_rate": churn,
            "clv": clv,
            "spend": spend,
            "cac": cost,
            "clv_to_cac": clv / cost,
            "payback_periods": cost / per_period,
        },
        index=revenue.index,
    )
    metadata = {"freq": freq, "margin": float(margin), "churn_rate": churn}
    return _frames.from_pandas(out, output, log.kind, metadata)


def _pandas_freq(freq: str) -> str:
    """``freq`` as pandas spells it ("H" is custval's alias of "h")."""
    return {"H": "h"}.get(freq, freq)
