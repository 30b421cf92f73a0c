"""Growth accounting and acquisition cohorts, on the parallel Rust core (DESIGN.md §4)."""

from __future__ import annotations

from typing import Any

from custval import _args, _files, _frames, _native
from custval._input import Log
from custval.exceptions import ArgumentError, CustvalError


def _log(data: Any, customer: str, time: str, amount: str | None, order: str | None, dropna):
    return _files.log(data, customer=customer, time=time, amount=amount, order=order, dropna=dropna)


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
    decimal = _args.check_money(money)
    freq, scale = _args.check_freq(freq), _args.check_scale(scale)
    window = _args.check_window(active_window)
    log = _log(data, customer, time, amount, order, dropna)
    return _retention(
        log, freq=freq, active_window=window, decimal=decimal, scale=scale, output=output
    )


def _retention(log: Log, *, freq: str, active_window: int, decimal: bool, scale: int, output: str):
    """:func:`retention` of a log already read (options already checked)."""
    batch = _native.retention(
        log.batches(),
        log.names,
        rows=log.rows,
        freq=freq,
        scale=scale,
        active_window=active_window,
        decimal=decimal,
    )
    metadata = _frames.log_metadata(log, freq, active_window=active_window)
    return _frames.by_period(batch, "period", log, output, metadata)[1]


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
    decimal = _args.check_money(money)
    freq, scale = _args.check_freq(freq), _args.check_scale(scale)
    check_cohort_value(value, amount)
    log = _log(data, customer, time, amount, order, dropna)
    return _cohorts(
        log,
        freq=freq,
        value=value,
        normalize=normalize,
        decimal=decimal,
        scale=scale,
        output=output,
    )


def check_cohort_value(value: str, amount: str | None) -> None:
    """``value=`` of :func:`cohorts` is known, and has the amount column it needs."""
    if value not in COHORT_VALUES:
        raise ArgumentError(f"value must be one of {', '.join(map(repr, COHORT_VALUES))}")
    if value in ("revenue", "cumulative_revenue_per_customer") and amount is None:
        raise CustvalError(f"value={value!r} needs an amount column (amount=...)")


def _cohorts(
    log: Log, *, freq: str, value: str, normalize: bool, decimal: bool, scale: int, output: str
):
    """:func:`cohorts` of a log already read (options already checked)."""
    batch = _native.cohorts(
        log.batches(),
        log.names,
        rows=log.rows,
        freq=freq,
        scale=scale,
        value=value,
        normalize=bool(normalize),
        decimal=decimal,
    )
    normalized = bool(normalize) and value == "active"
    metadata = _frames.log_metadata(log, freq, value=value, normalize=normalized)
    return cohort_frame(batch, log, output, metadata)


def cohort_frame(batch, log: Log, output: str, metadata: dict[str, Any]):
    """The native cohort matrix as ``output`` for ``log``: pandas columns 0, 1, 2, …"""
    kind, result = _frames.by_period(batch, "cohort", log, output, metadata)
    if kind == "pandas":
        result.columns = [int(c) if c.isdigit() else c for c in result.columns]  # 0, 1, 2, …
    return result
