"""Customer-base health: retention, cohorts, RFM segments, concentration, unit economics, NPS.

Definitions follow DESIGN.md §4. Retention and cohorts run on the parallel Rust core; RFM
segments and value concentration rank the per-customer summary of :func:`rfm_summary` with
vectorised NumPy; unit economics and NPS are small closed-form computations.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custval import _input, _native, _output
from custval.exceptions import CustvalError, DataError
from custval.summary import _check_money, rfm_summary

_Z95 = 1.959963984540054


def _period_starts(
    column: pa.ChunkedArray | pa.Array, tx: _input.Transactions | _input.FileLog
) -> pa.Array:
    """Period starts (int64 in the time unit) as timestamps in the input's zone."""
    stamps = column.cast(pa.timestamp(tx.time_unit))
    if tx.timezone:
        stamps = pc.assume_timezone(
            stamps, tx.timezone, ambiguous="earliest", nonexistent="earliest"
        )
    return stamps


def _log(data: Any, customer: str, time: str, amount: str | None, order: str | None, dropna):
    return _input.log(data, customer=customer, time=time, amount=amount, order=order, dropna=dropna)


def retention(
    data: Any,
    *,
    customer: str = "customer_id",
    time: str = "timestamp",
    amount: str | None = None,
    order: str | None = None,
    freq: str = "M",
    active_window: int = 1,
    output: str = "auto",
    money: str = "float",
    scale: int = 2,
    dropna: bool = False,
):
    """Growth accounting: one row per calendar period from the first to the last purchase.

    A customer is *active* in period p when it purchased in p (or in one of the
    ``active_window`` periods ending at p). ``new`` = first purchase in p; ``retained`` =
    active in p − 1 and p; ``resurrected`` = active in p, not in p − 1, not new; ``churned`` =
    active in p − 1, not in p. ``retention_rate`` and ``churn_rate`` divide by active(p − 1),
    ``quick_ratio`` = (new + resurrected) / churned; a zero denominator gives null.

    With ``amount``: ``revenue`` of the period, ``new_revenue``, ``resurrected_revenue`` and
    ``retained_revenue`` (revenue of those customers in p), ``expansion_revenue`` /
    ``contraction_revenue`` (per retained customer, the rise / fall against p − 1),
    ``churned_revenue`` (revenue in p − 1 of the churned), ``net_revenue_retention`` =
    (rev(p − 1) + expansion − contraction − churned) / rev(p − 1) and
    ``revenue_quick_ratio`` = (new + resurrected + expansion) / (churned + contraction).
    Money is exact: rev(p) = rev(p − 1) + new + resurrected + expansion − contraction −
    churned holds to the cent. The first and last periods are flagged ``partial`` (the log
    may start and end inside them).

    Parameters
    ----------
    data : DataFrame, pyarrow Table, polars DataFrame, duckdb relation, dict or path
        The transaction log.
    customer, time, amount, order : str
        Column names (``order``: order ids, default every row is one order).
    freq : {"h", "D", "W", "M", "Q", "Y"}
        Period kind with pandas Period semantics.
    active_window : int
        Periods a purchase keeps a customer active (1: only its own period).
    output : {"auto", "pandas", "polars", "arrow"}
        Result type; pandas results are indexed by ``period`` (the period's start), polars
        and Arrow results have a ``period`` column.
    money : {"float", "decimal"}
        Money columns as float64 or exact 38-digit decimals.
    scale : int
        Decimal places amounts are rounded to (half to even) before summing.
    dropna : bool
        Drop rows with nulls (with a warning) instead of raising :class:`DataError`.

    Examples
    --------
    >>> import pandas as pd, custval
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 2, 1, 3, 3],
    ...     "timestamp": pd.to_datetime(["2024-01-05", "2024-02-03", "2024-02-09",
    ...                                  "2024-03-01", "2024-03-02", "2024-04-10"]),
    ...     "amount": [10.0, 30.0, 7.0, 5.0, 4.0, 6.0],
    ... })
    >>> r = custval.retention(log, amount="amount")
    >>> r[["active", "new", "retained", "resurrected", "churned", "retention_rate"]]
                active  new  retained  resurrected  churned  retention_rate
    period
    2024-01-01       1    1         0            0        0             NaN
    2024-02-01       2    1         1            0        0             1.0
    2024-03-01       2    1         1            0        1             0.5
    2024-04-01       1    0         1            0        1             0.5
    >>> r[["revenue", "new_revenue", "expansion_revenue", "contraction_revenue"]]
                revenue  new_revenue  expansion_revenue  contraction_revenue
    period
    2024-01-01     10.0         10.0                0.0                  0.0
    2024-02-01     37.0          7.0               20.0                  0.0
    2024-03-01      9.0          4.0                0.0                 25.0
    2024-04-01      6.0          0.0                2.0                  0.0
    >>> r["churned_revenue"].tolist(), r["partial"].tolist()
    ([0.0, 0.0, 7.0, 5.0], [True, False, False, True])
    """
    decimal = _check_money(money)
    window = _check_window(active_window)
    tx = _log(data, customer, time, amount, order, dropna)
    batch = _native.retention(
        tx.batches(),
        rows=tx.rows,
        freq=freq,
        scale=scale,
        active_window=window,
        decimal=decimal,
    )
    table = pa.Table.from_batches([batch])
    table = table.set_column(0, "period", _period_starts(table.column("period"), tx))
    metadata = {
        "freq": freq,
        "active_window": window,
        "rows_dropped_null": tx.dropped.get("nulls", 0),
    }
    kind = _output.resolve(output, tx.kind)
    return _output.convert(table, kind, index="period", metadata=metadata)


def _check_window(active_window: int) -> int:
    if isinstance(active_window, bool) or not isinstance(active_window, int | np.integer):
        raise TypeError(f"active_window must be an integer, not {type(active_window).__name__}")
    if active_window < 1:
        raise ValueError(f"active_window must be at least 1, got {active_window}")
    return int(active_window)


COHORT_VALUES = ("active", "revenue", "orders", "cumulative_revenue_per_customer")


def cohorts(
    data: Any,
    *,
    customer: str = "customer_id",
    time: str = "timestamp",
    amount: str | None = None,
    order: str | None = None,
    freq: str = "M",
    value: str = "active",
    normalize: bool = True,
    output: str = "auto",
    money: str = "float",
    scale: int = 2,
    dropna: bool = False,
):
    """Acquisition cohorts × periods since acquisition.

    The cohort of a customer is the period of its first purchase. Cell (c, k) is, over the
    customers of cohort c, in period c + k: ``value="active"`` the customers with a purchase
    (the share of the cohort when ``normalize``, the default), ``"revenue"`` the revenue,
    ``"orders"`` the orders, ``"cumulative_revenue_per_customer"`` the revenue of periods
    0..k divided by the cohort size (rounded half to even at ``scale`` + 6 places).
    ``normalize`` only applies to ``"active"``. Cells after the last period of the log are
    not observable and are null (NaN in pandas), not 0. Only cohorts with customers appear.

    Returns one row per cohort with ``cohort_size`` and one column per k: pandas results
    are indexed by ``cohort`` (the period start) with integer column names 0, 1, 2, …;
    polars and Arrow results have a ``cohort`` column and string names "0", "1", ….

    Examples
    --------
    >>> import pandas as pd, custval
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 2, 1, 3, 2, 1],
    ...     "timestamp": pd.to_datetime(["2024-01-05", "2024-01-20", "2024-02-03",
    ...                                  "2024-02-09", "2024-03-01", "2024-03-02"]),
    ...     "amount": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
    ... })
    >>> custval.cohorts(log)
                cohort_size    0    1    2
    cohort
    2024-01-01            2  1.0  0.5  1.0
    2024-02-01            1  1.0  0.0  NaN
    >>> custval.cohorts(log, amount="amount", value="revenue")
                cohort_size     0     1      2
    cohort
    2024-01-01            2  30.0  30.0  110.0
    2024-02-01            1  40.0   0.0    NaN
    """
    decimal = _check_money(money)
    if value not in COHORT_VALUES:
        raise ValueError(f"value must be one of {', '.join(map(repr, COHORT_VALUES))}")
    if value in ("revenue", "cumulative_revenue_per_customer") and amount is None:
        raise CustvalError(f"value={value!r} needs an amount column (amount=...)")
    tx = _log(data, customer, time, amount, order, dropna)
    batch = _native.cohorts(
        tx.batches(),
        rows=tx.rows,
        freq=freq,
        scale=scale,
        value=value,
        normalize=bool(normalize),
        decimal=decimal,
    )
    table = pa.Table.from_batches([batch])
    table = table.set_column(0, "cohort", _period_starts(table.column("cohort"), tx))
    metadata = {
        "freq": freq,
        "value": value,
        "normalize": bool(normalize) and value == "active",
        "rows_dropped_null": tx.dropped.get("nulls", 0),
    }
    kind = _output.resolve(output, tx.kind)
    result = _output.convert(table, kind, index="cohort", metadata=metadata)
    if kind == "pandas":
        result.columns = [int(c) if c.isdigit() else c for c in result.columns]  # 0, 1, 2, …
    return result


# --- RFM scores and segments ----------------------------------------------------------------

#: Default (R, F) segments, first match wins; covers the whole 5 × 5 grid (DESIGN.md §4).
DEFAULT_SEGMENTS: list[tuple[str, tuple[int, int], tuple[int, int]]] = [
    ("Champions", (5, 5), (4, 5)),
    ("Loyal", (3, 4), (4, 5)),
    ("Potential Loyalist", (4, 5), (2, 3)),
    ("New", (5, 5), (1, 1)),
    ("Promising", (4, 4), (1, 1)),
    ("Need Attention", (3, 3), (3, 3)),
    ("About to Sleep", (3, 3), (1, 2)),
    ("Can't Lose Them", (1, 2), (5, 5)),
    ("At Risk", (1, 2), (3, 4)),
    ("Hibernating", (1, 2), (1, 2)),
]

SegmentRules = Sequence[tuple[str, Any, Any]] | Callable[[np.ndarray, np.ndarray, np.ndarray], Any]


def rank_scores(goodness: Any, bins: int = 5) -> np.ndarray:
    """Scores 1..``bins``: 1 + floor(bins × (rank − 1) / n), rank = "min" rank of goodness.

    Equal values always get equal scores (ties take the lowest rank).

    Examples
    --------
    >>> from custval.metrics import rank_scores
    >>> rank_scores([1, 1, 1, 1, 2, 3, 5, 8, 9, 9], bins=5).tolist()
    [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    """
    values = np.asarray(goodness)
    n = values.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    ranks = np.searchsorted(np.sort(values, kind="stable"), values, side="left") + 1
    return (1 + (bins * (ranks - 1)) // n).astype(np.int64)


def _bounds(spec: Any) -> tuple[int, int]:
    if isinstance(spec, int | np.integer):
        return int(spec), int(spec)
    lo, hi = spec
    return int(lo), int(hi)


def _segment_names(rules: SegmentRules, r: np.ndarray, f: np.ndarray, m: np.ndarray):
    if callable(rules):
        names = np.asarray(rules(r, f, m), dtype=object)
        if names.shape != r.shape:
            raise ValueError("a segments callable must return one name per customer")
        return names
    conditions, names = [], []
    for rule in rules:
        name, r_spec, f_spec = rule
        (r_lo, r_hi), (f_lo, f_hi) = _bounds(r_spec), _bounds(f_spec)
        conditions.append((r >= r_lo) & (r <= r_hi) & (f >= f_lo) & (f <= f_hi))
        names.append(name)
    return np.select(conditions, np.asarray(names, dtype=object), default="Other")


def rfm_segments(
    data: Any,
    *,
    customer: str = "customer_id",
    time: str = "timestamp",
    amount: str | None = None,
    order: str | None = None,
    freq: str = "D",
    observation_end: Any = None,
    bins: int = 5,
    segments: SegmentRules | None = None,
    output: str = "auto",
    money: str = "float",
    scale: int = 2,
    dropna: bool = False,
):
    """R, F and M scores, the ``rfm_score`` string and a named segment per customer.

    R = periods since the last purchase (T − recency of :func:`custval.rfm_summary`, fewer is
    better), F = ``n_orders``, M = ``revenue``. Each is scored 1..``bins`` by rank: score =
    1 + floor(bins × (rank − 1) / n), rank = 1-based ascending rank of goodness, ties given
    the lowest rank, so equal values always get equal scores. ``rfm_score`` concatenates the
    three scores ("545"; joined with "-" when ``bins`` > 9).

    ``segments`` replaces the default (R, F) map :data:`DEFAULT_SEGMENTS` (which needs
    ``bins=5``): either a sequence of ``(name, r, f)`` rules, ``r`` and ``f`` an int or an
    inclusive ``(low, high)`` pair, first match wins, unmatched customers get "Other"; or a
    callable ``(r, f, m) -> names`` taking the three score arrays and returning one name per
    customer.

    Columns: ``periods_since_last_purchase, n_orders, revenue, r_score, f_score, m_score,
    rfm_score, segment`` (pandas indexed by customer id). Without ``amount`` the M score and
    ``revenue`` are absent and ``rfm_score`` has two digits.

    Examples
    --------
    >>> import pandas as pd, custval
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 2, 3, 3, 4, 5],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-30", "2024-01-15",
    ...                                  "2024-02-01", "2024-03-01", "2024-03-29", "2024-01-02"]),
    ...     "amount": [50.0, 60.0, 70.0, 20.0, 30.0, 35.0, 10.0, 5.0],
    ... })
    >>> s = custval.rfm_segments(log, amount="amount")
    >>> s[["periods_since_last_purchase", "n_orders", "rfm_score", "segment"]]
                 periods_since_last_purchase  n_orders rfm_score      segment
    customer_id
    1                                    0.0         3       555    Champions
    2                                   75.0         1       213  Hibernating
    3                                   29.0         2       344        Loyal
    4                                    1.0         1       412    Promising
    5                                   88.0         1       111  Hibernating
    """
    if not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    if segments is None:
        if bins != 5:
            raise ValueError("the default segments need bins=5; pass segments= for other bins")
        segments = DEFAULT_SEGMENTS
    summary = rfm_summary(
        data,
        customer=customer,
        time=time,
        amount=amount,
        order=order,
        freq=freq,
        observation_end=observation_end,
        money=money,
        scale=scale,
        dropna=dropna,
        output="arrow",
    )
    since = pc.subtract(summary.column("T"), summary.column("recency"))
    n_orders = summary.column("n_orders")
    r = rank_scores(-since.to_numpy(), bins)
    f = rank_scores(n_orders.to_numpy(), bins)
    columns: dict[str, Any] = {
        customer: summary.column(customer),
        "periods_since_last_purchase": since,
        "n_orders": n_orders,
    }
    scores = [r, f]
    if amount is not None:
        revenue = summary.column("revenue")
        m = rank_scores(revenue.cast(pa.float64()).to_numpy(), bins)
        columns["revenue"] = revenue
        scores.append(m)
    else:
        m = np.zeros_like(r)
    columns.update(r_score=r, f_score=f)
    if amount is not None:
        columns["m_score"] = m
    joiner = "-" if bins > 9 else ""
    text = scores[0].astype(str).astype(object)
    for s in scores[1:]:
        text = text + joiner + s.astype(str).astype(object)
    columns["rfm_score"] = pa.array(text.tolist(), pa.string())
    columns["segment"] = pa.array(_segment_names(segments, r, f, m).tolist(), pa.string())
    table = pa.table(columns)
    metadata = {**_output.metadata_of(summary), "bins": bins}
    kind = _output.resolve(output, _input._kind(data))
    return _output.convert(table, kind, index=customer, metadata=metadata)


def _to_pandas(frame: Any) -> tuple[pd.DataFrame, str]:
    if isinstance(frame, pd.DataFrame):
        return frame, "pandas"
    if isinstance(frame, pa.Table | pa.RecordBatch):
        return frame.to_pandas(), "arrow"
    if type(frame).__module__.split(".")[0] == "polars":
        return frame.to_pandas(), "polars"
    raise TypeError(f"expected a frame made by rfm_segments, not {type(frame).__name__}")


def segment_summary(segments_frame: Any, *, output: str = "auto"):
    """Per segment of :func:`rfm_segments`: size, revenue share, AOV and recency.

    Columns: ``customers``, ``customer_share``, ``revenue``, ``revenue_share``, ``aov``
    (revenue / orders) and ``mean_periods_since_last_purchase``, one row per segment,
    largest revenue first (pandas indexed by ``segment``).

    Examples
    --------
    >>> import pandas as pd, custval
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 2, 3],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-30", "2024-01-02", "2024-01-29"]),
    ...     "amount": [10.0, 30.0, 20.0, 40.0],
    ... })
    >>> seg = custval.rfm_segments(log, amount="amount", segments=[("recent", (3, 5), (1, 5))])
    >>> seg["segment"].tolist()
    ['recent', 'Other', 'Other']
    >>> custval.segment_summary(seg)[["customers", "revenue", "revenue_share", "aov"]]
             customers  revenue  revenue_share   aov
    segment
    Other            2     60.0            0.6  30.0
    recent           1     40.0            0.4  20.0
    """
    frame, kind = _to_pandas(segments_frame)
    if "revenue" not in frame.columns:
        raise ValueError("segment_summary needs the revenue column (rfm_segments with amount=)")
    work = pd.DataFrame(
        {
            "segment": frame["segment"].to_numpy(),
            "revenue": frame["revenue"].astype("float64").to_numpy(),
            "n_orders": frame["n_orders"].to_numpy(),
            "since": frame["periods_since_last_purchase"].to_numpy(),
        }
    )
    grouped = work.groupby("segment", sort=False)
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "revenue": grouped["revenue"].sum(),
            "orders": grouped["n_orders"].sum(),
            "mean_periods_since_last_purchase": grouped["since"].mean(),
        }
    )
    total_revenue = work["revenue"].sum()
    out["customer_share"] = out["customers"] / len(work)
    out["revenue_share"] = out["revenue"] / total_revenue if total_revenue else np.nan
    out["aov"] = out["revenue"] / out["orders"]
    out = out.sort_values("revenue", ascending=False, kind="stable")
    out = out[
        [
            "customers",
            "customer_share",
            "revenue",
            "revenue_share",
            "aov",
            "mean_periods_since_last_purchase",
        ]
    ]
    out.index.name = "segment"
    target = _output.resolve(output, kind)
    if target == "pandas":
        return out
    return _output.convert(pa.Table.from_pandas(out.reset_index()), target, index=None, metadata={})


# --- Value concentration --------------------------------------------------------------------


@dataclass(frozen=True)
class Concentration:
    """How concentrated customer value is (see :func:`value_concentration`)."""

    customers: int
    total: float
    top_1pct: float | None
    top_5pct: float | None
    top_10pct: float | None
    top_20pct: float | None
    gini: float | None
    lorenz_customers: np.ndarray
    lorenz_value: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lorenz_customers"] = self.lorenz_customers.tolist()
        out["lorenz_value"] = self.lorenz_value.tolist()
        return out

    def __repr__(self) -> str:
        shown = ("customers", "total", "top_1pct", "top_5pct", "top_10pct", "top_20pct", "gini")
        body = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"Concentration({body})"


def concentration_of(values: Any, *, points: int = 101) -> Concentration:
    """:class:`Concentration` of per-customer values (see :func:`value_concentration`).

    Examples
    --------
    >>> from custval.metrics import concentration_of
    >>> c = concentration_of([1.0, 1.0, 1.0, 1.0, 96.0], points=6)
    >>> c.top_20pct, round(c.gini, 4)
    (0.96, 0.76)
    >>> c.lorenz_value.tolist()
    [0.0, 0.01, 0.02, 0.03, 0.04, 1.0]
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    total = float(x.sum()) if n else 0.0
    if points < 2:
        raise ValueError("points must be at least 2")
    if n == 0 or total == 0:
        empty = np.zeros(0)
        return Concentration(n, total, None, None, None, None, None, empty, empty)
    cumulative = np.concatenate([[0.0], np.cumsum(x)])
    descending = cumulative[-1] - cumulative[::-1]  # value of the top m customers, m = 0..n

    def top(percent: int) -> float:
        m = max(1, -(-percent * n // 100))
        return float(descending[m] / total)

    ranks = np.arange(1, n + 1, dtype=np.float64)
    gini = float(2.0 * np.dot(ranks, x) / (n * total) - (n + 1) / n)
    at = np.rint(np.linspace(0, n, points)).astype(np.int64)
    return Concentration(
        customers=n,
        total=total,
        top_1pct=top(1),
        top_5pct=top(5),
        top_10pct=top(10),
        top_20pct=top(20),
        gini=gini,
        lorenz_customers=at / n,
        lorenz_value=cumulative[at] / total,
    )


def value_concentration(
    data: Any,
    *,
    customer: str = "customer_id",
    time: str = "timestamp",
    amount: str | None = None,
    order: str | None = None,
    by: str = "revenue",
    points: int = 101,
    scale: int = 2,
    dropna: bool = False,
) -> Concentration:
    """Share of value held by the top customers, the Lorenz curve and the Gini coefficient.

    Per-customer value is total ``revenue`` (needs ``amount``) or ``orders`` (``by=``).
    ``top_1pct`` … ``top_20pct`` are the fractions of the total held by the top ⌈x % × n⌉
    customers (at least one). The Lorenz curve is sampled at ``points`` evenly spaced customer
    shares (``lorenz_customers``: share of customers, poorest first; ``lorenz_value``: their
    share of value). ``gini`` = 2 Σ i·x₍ᵢ₎ / (n Σ x) − (n + 1) / n over values sorted ascending.

    Examples
    --------
    >>> import pandas as pd, custval
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 2, 3, 4, 5, 5],
    ...     "timestamp": pd.to_datetime(["2024-01-01"] * 6),
    ...     "amount": [1.0, 1.0, 1.0, 1.0, 90.0, 6.0],
    ... })
    >>> c = custval.value_concentration(log, amount="amount")
    >>> c.top_1pct, c.top_20pct, round(c.gini, 2)
    (0.96, 0.96, 0.76)
    """
    if by not in ("revenue", "orders"):
        raise ValueError(f"by must be 'revenue' or 'orders', not {by!r}")
    if by == "revenue" and amount is None:
        raise ValueError("by='revenue' needs amount=")
    summary = rfm_summary(
        data,
        customer=customer,
        time=time,
        amount=amount,
        order=order,
        scale=scale,
        dropna=dropna,
        output="arrow",
    )
    column = "revenue" if by == "revenue" else "n_orders"
    return concentration_of(summary.column(column).to_numpy(), points=points)


# --- Unit economics ---------------------------------------------------------------------------


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
    common = dict(
        customer=customer,
        time=time,
        amount=amount,
        order=order,
        freq=freq,
        scale=scale,
        dropna=dropna,
        output="pandas",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # null drops are reported once, below
        revenue = cohorts(data, value="revenue", **common)
        orders = cohorts(data, value="orders", **common)
        active = cohorts(data, value="active", normalize=False, **common)
    growth = retention(data, **common)
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
    kind = _output.resolve(output, _input._kind(data))
    metadata = {"freq": freq, "margin": float(margin), "churn_rate": churn}
    if kind == "pandas":
        out.attrs[_output.METADATA_KEY] = metadata
        return out
    return _output.convert(
        pa.Table.from_pandas(out.reset_index()), kind, index=None, metadata=metadata
    )


def _pandas_freq(freq: str) -> str:
    return {"H": "h"}.get(freq, freq)


# --- NPS ----------------------------------------------------------------------------------------

_DEFAULT_CUTOFFS = {(0, 10): (6, 8), (1, 10): (6, 8), (1, 7): (5, 6), (1, 5): (3, 4)}


@dataclass(frozen=True)
class Nps:
    """Net Promoter Score with its counts and a Wald 95 % interval (see :func:`nps`)."""

    nps: float | None
    promoters: int
    passives: int
    detractors: int
    n: int
    stderr: float | None
    ci_low: float | None
    ci_high: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _nps_columns(promoters, passives, detractors) -> dict[str, np.ndarray]:
    promoters = np.asarray(promoters, dtype=np.int64)
    passives = np.asarray(passives, dtype=np.int64)
    detractors = np.asarray(detractors, dtype=np.int64)
    n = promoters + passives + detractors
    with np.errstate(invalid="ignore", divide="ignore"):
        p_p = promoters / n
        p_d = detractors / n
        score = 100 * (p_p - p_d)
        stderr = 100 * np.sqrt(np.maximum(p_p + p_d - (p_p - p_d) ** 2, 0) / n)
    return {
        "nps": score,
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
        "n": n,
        "stderr": stderr,
        "ci_low": score - _Z95 * stderr,
        "ci_high": score + _Z95 * stderr,
    }


def nps(
    data: Any,
    *,
    score: str | None = None,
    by: str | Sequence[str] | None = None,
    scale: tuple[int, int] = (0, 10),
    cutoffs: tuple[float, float] | None = None,
    dropna: bool = False,
    output: str = "auto",
):
    """Net Promoter Score: 100 × (promoters − detractors) / responses.

    ``data`` is a frame (``score`` names the column) or a sequence of scores. A response is a
    detractor when ≤ ``cutoffs[0]``, a passive when ≤ ``cutoffs[1]``, else a promoter.
    Default cut points: scale 0–10 and 1–10 → (6, 8); 1–7 → (5, 6); 1–5 → (3, 4); other
    scales need ``cutoffs=``. ``stderr`` = 100 √((p_P + p_D − (p_P − p_D)²) / n) with a Wald
    95 % interval ``ci_low``, ``ci_high``. Invalid scores (null, non-integer or outside
    ``scale``) raise :class:`custval.DataError` with their count, or with ``dropna=True`` are
    dropped with a warning giving the count.

    Returns an :class:`Nps` object, or with ``by`` a frame with one row per group and
    columns ``nps, promoters, passives, detractors, n, stderr, ci_low, ci_high``.

    Examples
    --------
    >>> import custval
    >>> r = custval.nps([10, 9, 9, 8, 7, 6, 3, 10, 10, 0])
    >>> r.nps, r.promoters, r.passives, r.detractors, r.n
    (20.0, 5, 2, 3, 10)
    >>> round(r.stderr, 2), round(r.ci_low, 2), round(r.ci_high, 2)
    (27.57, -34.03, 74.03)
    """
    low, high = scale
    if cutoffs is None:
        if (low, high) not in _DEFAULT_CUTOFFS:
            raise ValueError(f"scale {scale} has no default cut points; pass cutoffs=")
        cutoffs = _DEFAULT_CUTOFFS[(low, high)]
    detractor_max, passive_max = cutoffs
    kind = "other"
    name = score or "score"
    if by is not None or score is not None:
        if score is None:
            raise ValueError("score= must name the score column when data is a frame")
        frame, kind = _frame(data)
        keys = [by] if isinstance(by, str) else list(by or [])
        missing = [c for c in [score, *keys] if c not in frame.columns]
        if missing:
            from custval.exceptions import ColumnNotFoundError

            raise ColumnNotFoundError(f"column {missing[0]!r} not found")
        values = pd.to_numeric(frame[score], errors="coerce").to_numpy(dtype=np.float64)
        groups = frame[keys] if keys else None
    else:
        values = pd.to_numeric(pd.Series(list(data), dtype=object), errors="coerce")
        values = values.to_numpy(dtype=np.float64)
        groups = None
    finite = np.isfinite(values)
    valid = finite.copy()
    valid[finite] = (
        (values[finite] == np.round(values[finite]))
        & (values[finite] >= low)
        & (values[finite] <= high)
    )
    bad = int((~valid).sum())
    if bad:
        message = f"column {name!r}: {bad} scores are null, non-integer or outside {low}–{high}"
        if not dropna:
            raise DataError(message + "; pass dropna=True to drop them")
        warnings.warn(
            f"custval dropped {bad} invalid scores ({message})", UserWarning, stacklevel=2
        )
    kept = values[valid]
    promoter = kept > passive_max
    detractor = kept <= detractor_max
    passive = ~promoter & ~detractor
    if groups is None:
        cols = _nps_columns([promoter.sum()], [passive.sum()], [detractor.sum()])
        n = int(cols["n"][0])

        def value(key: str) -> float | None:
            return float(cols[key][0]) if n else None

        return Nps(
            nps=value("nps"),
            promoters=int(cols["promoters"][0]),
            passives=int(cols["passives"][0]),
            detractors=int(cols["detractors"][0]),
            n=n,
            stderr=value("stderr"),
            ci_low=value("ci_low"),
            ci_high=value("ci_high"),
        )
    counts = groups[valid].assign(
        _promoter=promoter.astype(np.int64),
        _passive=passive.astype(np.int64),
        _detractor=detractor.astype(np.int64),
    )
    summed = counts.groupby(keys, sort=True)[["_promoter", "_passive", "_detractor"]].sum()
    out = pd.DataFrame(
        _nps_columns(summed["_promoter"], summed["_passive"], summed["_detractor"]),
        index=summed.index,
    )
    target = _output.resolve(output, kind)
    if target == "pandas":
        return out
    return _output.convert(pa.Table.from_pandas(out.reset_index()), target, index=None, metadata={})


def _frame(data: Any) -> tuple[pd.DataFrame, str]:
    if isinstance(data, pd.DataFrame):
        return data, "pandas"
    if isinstance(data, dict):
        return pd.DataFrame(data), "other"
    if isinstance(data, pa.Table | pa.RecordBatch):
        return data.to_pandas(), "arrow"
    if type(data).__module__.split(".")[0] == "polars":
        return data.to_pandas(), "polars"
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data).to_pandas(), "other"
    raise TypeError(f"unsupported input {type(data).__name__} for nps")
