"""Per-customer summaries and business KPIs from a transaction log."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal, localcontext
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custval import _args, _display, _files, _frames, _input, _native
from custval._input import Log


def _iso(value: int | None, unit: str) -> str | None:
    if value is None:
        return None
    try:
        return pa.scalar(value, pa.timestamp(unit)).as_py().isoformat()
    except (OverflowError, ValueError):  # beyond Python's datetime (years 1-9999)
        return str(np.datetime64(value, unit))


def _aggregated(native, log: Log, data: Any, roles: dict[str, Any], **options: Any):
    """(the log, what ``native`` returns for it): a file is streamed batch by batch, and read
    whole only when its rows turn out not to be in time order within customers."""
    out = native(log.batches(), log.names, rows=log.rows, unordered=False, **options)
    if isinstance(out, _native.OutOfOrder):
        if not isinstance(log, _input.Transactions):
            log = _input.transactions(data, **roles)
        out = native(log.batches(), log.names, rows=log.rows, unordered=True, **options)
    return log, out


def _summarise(
    native,
    data: Any,
    roles: dict[str, Any],
    *,
    freq: str,
    freq_multiplier: float,
    money: str,
    scale: int,
    bounds: dict[str, Any],
    **options: Any,
):
    """(the log, what ``native`` returns, the time ``bounds`` in the log's unit, the result's
    metadata) of a per-customer summary: options checked, the log read, the bounds (dates or
    times, ``observation_end`` among them) converted to the log's time unit and zone."""
    decimal = _args.check_money(money)
    multiplier = _args.check_multiplier(freq_multiplier)
    freq, scale = _args.check_freq(freq), _args.check_scale(scale)
    log = _files.log(data, **roles)
    times = {
        name: _input.time_value(value, log.time_unit, log.timezone, name=name)
        for name, value in bounds.items()
    }
    log, out = _aggregated(
        native,
        log,
        data,
        roles,
        freq=freq,
        freq_multiplier=multiplier,
        scale=scale,
        decimal=decimal,
        **times,
        **options,
    )
    end = times["observation_end"]
    last = out.last_time  # the last transaction time the kernel saw
    metadata = _frames.log_metadata(
        log,
        freq,
        freq_multiplier=multiplier,
        observation_end=_iso(end if end is not None else last, log.time_unit),
    )
    return log, out, times, metadata


def _finish(
    log: Log,
    batch: pa.RecordBatch,
    columns: list[str],
    output: str,
    metadata: dict[str, Any],
    *,
    purchases: bool,
):
    """The result with customer ids (and first/last purchase times) in the input's types."""
    table = pa.Table.from_batches([batch])
    customer = log.names["customer"]
    result = {customer: _ids(table.column("ids"), log.customer_type)}
    for name in columns:
        if name in table.column_names:
            result[name] = table.column(name)
    if purchases:
        result["first_purchase"] = _times(table, "first_time", "min_row", log)
        result["last_purchase"] = _times(table, "last_time", "max_row", log)
    out = pa.table(result)
    kind = _frames.resolve(output, log.kind)
    return _frames.convert(out, kind, index=customer, metadata=metadata)


def _ids(ids: pa.ChunkedArray, original: pa.DataType) -> pa.ChunkedArray:
    """Ids as the kernel read them (int64 or strings) → the input's type."""
    if ids.type == original:
        return ids
    if pa.types.is_dictionary(original):
        encoded = pc.dictionary_encode(ids)
        try:
            return encoded.cast(original)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # more values than its index
            return encoded
    # uint64 ids were read bit for bit as int64.
    return ids.cast(original, safe=original != pa.uint64())


def _times(table: pa.Table, name: str, rows: str, log: Log) -> pa.ChunkedArray:
    """Purchase times as local wall time → the input's type: zoned times are taken from the
    input rows (a local time can name two instants), dates are cast."""
    local = table.column(name)
    if local.type == log.time_type:
        return local
    if log.time_original is not None:
        return log.time_original.take(table.column(rows))
    return local.cast(log.time_type)


SUMMARY_COLUMNS = [
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "n_orders",
    "revenue",
    "aov",
]


def rfm_summary(
    data: Any,
    *,
    customer: str = "customer_id",
    time: str = "timestamp",
    amount: str | None = None,
    order: str | None = None,
    freq: str = "D",
    freq_multiplier: float = 1,
    observation_end: Any = None,
    include_first: bool = False,
    money: str = "float",
    scale: int = 2,
    dropna: bool = False,
    output: str = "auto",
):
    """One row per customer: frequency, recency, T and spend (lifetimes conventions).

    Transactions in the same period (``freq``) form one purchase, amounts summed.
    ``frequency`` = purchase periods − 1, ``recency`` = last − first purchase period,
    ``T`` = period(observation_end) − first purchase period, all divided by
    ``freq_multiplier``; ``monetary_value`` = mean per-period amount over the repeat periods
    (0 when frequency = 0). Extra columns: ``n_orders``, ``revenue`` (exact),
    ``aov`` (revenue / n_orders), ``first_purchase`` and ``last_purchase``. Without ``amount``
    the money columns are absent. Rows after ``observation_end`` are excluded; their count is
    in the result's metadata (``attrs["custval"]`` for pandas, schema metadata for Arrow).

    Parameters
    ----------
    data : DataFrame, pyarrow Table, polars DataFrame, duckdb relation, dict or path
        The transaction log.
    customer, time, amount, order : str
        Column names; ``order`` identifies orders (default: every row is one order).
    freq : {"h", "D", "W", "M", "Q", "Y"}
        Period kind with pandas Period semantics ("W" = weeks ending Sunday).
    freq_multiplier : float
        Divides every duration (``freq="D", freq_multiplier=7``: weeks counted in days).
    observation_end : date, datetime or str, optional
        End of observation (a date means the end of that day); default the last transaction.
    include_first : bool
        Count the first purchase in ``frequency`` and ``monetary_value``.
    money : {"float", "decimal"}
        Money columns as float64 or 38-digit decimals (exact).
    scale : int
        Decimal places money is rounded to (half to even) before summing.
    dropna : bool
        Drop rows with a null customer, time or amount (with a warning giving the count)
        instead of raising :class:`DataError`.
    output : {"auto", "pandas", "polars", "arrow"}
        Result type; "auto" mirrors the input (anything but polars/Arrow → pandas, indexed
        by customer id).

    Examples
    --------
    >>> import pandas as pd, custval
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 2],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-05", "2024-01-03"]),
    ...     "amount": [10.0, 5.0, 20.0, 7.5],
    ... })
    >>> s = custval.rfm_summary(log, amount="amount", observation_end="2024-01-10")
    >>> s[["frequency", "recency", "T", "monetary_value", "revenue"]]
                 frequency  recency    T  monetary_value  revenue
    customer_id
    1                  1.0      4.0  9.0            20.0     35.0
    2                  0.0      0.0  7.0             0.0      7.5
    """
    roles = dict(customer=customer, time=time, amount=amount, order=order, dropna=dropna)
    log, out, _, metadata = _summarise(
        _native.rfm_summary,
        data,
        roles,
        freq=freq,
        freq_multiplier=freq_multiplier,
        money=money,
        scale=scale,
        bounds={"observation_end": observation_end},
        include_first=include_first,
    )
    metadata.update(include_first=include_first, rows_after_observation_end=out.rows_after_end)
    return _finish(log, out.table, SUMMARY_COLUMNS, output, metadata, purchases=True)


HOLDOUT_COLUMNS = [
    "frequency_cal",
    "recency_cal",
    "T_cal",
    "monetary_value_cal",
    "frequency_holdout",
    "monetary_value_holdout",
    "duration_holdout",
]


def calibration_holdout(
    data: Any,
    *,
    calibration_end: Any,
    observation_end: Any = None,
    customer: str = "customer_id",
    time: str = "timestamp",
    amount: str | None = None,
    order: str | None = None,
    freq: str = "D",
    freq_multiplier: float = 1,
    money: str = "float",
    scale: int = 2,
    dropna: bool = False,
    output: str = "auto",
):
    """Calibration/holdout table with lifetimes' columns.

    Periods are assigned first: calibration = periods ≤ period(calibration_end), holdout =
    later periods up to period(observation_end). (lifetimes splits raw timestamps but counts
    periods; with ``freq="D"`` and date-only data the two agree.) Columns:
    ``frequency_cal, recency_cal, T_cal, monetary_value_cal, frequency_holdout,
    monetary_value_holdout, duration_holdout``. Customers first seen in the holdout are
    excluded; their count is in the metadata (``customers_first_seen_in_holdout``).

    Examples
    --------
    >>> import pandas as pd, custval
    >>> log = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-04", "2024-01-12", "2024-01-11"]),
    ... })
    >>> t = custval.calibration_holdout(log, calibration_end="2024-01-07",
    ...                                 observation_end="2024-01-14")
    >>> list(t.index)
    ['a']
    >>> t.loc["a"].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'frequency_cal': 1.0, 'recency_cal': 3.0, 'T_cal': 6.0, 'frequency_holdout': 1.0,
     'duration_holdout': 7.0}
    """
    roles = dict(customer=customer, time=time, amount=amount, order=order, dropna=dropna)
    log, out, times, metadata = _summarise(
        _native.calibration_holdout,
        data,
        roles,
        freq=freq,
        freq_multiplier=freq_multiplier,
        money=money,
        scale=scale,
        bounds={"calibration_end": calibration_end, "observation_end": observation_end},
    )
    metadata.update(
        include_first=False,
        calibration_end=_iso(times["calibration_end"], log.time_unit),
        rows_after_observation_end=out.rows_after_end,
        customers_first_seen_in_holdout=out.customers_first_seen_in_holdout,
    )
    return _finish(log, out.table, HOLDOUT_COLUMNS, output, metadata, purchases=False)


@dataclass(frozen=True)
class Kpis:
    """Business KPIs of a transaction log over a window (see :func:`kpis`)."""

    customers: int
    orders: int
    revenue: float | Decimal
    aov: float | Decimal | None
    purchase_frequency: float | None
    repeat_customer_rate: float | None
    spend_per_customer: float | Decimal | None
    gross_margin: float | Decimal | None = None
    gross_margin_rate: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _rows(self, *, words: bool) -> list[tuple[str, str]]:
        scale = _display.scale_of(self.revenue)
        shown = [
            ("customers", "Customers", _display.count(self.customers)),
            ("orders", "Orders", _display.count(self.orders)),
            ("revenue", "Revenue", _display.money(self.revenue, scale)),
            ("aov", "Average order value", _display.money(self.aov, scale)),
            ("purchase_frequency", "Orders per customer", _display.number(self.purchase_frequency)),
            (
                "repeat_customer_rate",
                "Repeat-customer rate",
                _display.rate(self.repeat_customer_rate),
            ),
            (
                "spend_per_customer",
                "Spend per customer",
                _display.money(self.spend_per_customer, scale),
            ),
        ]
        if self.gross_margin is not None:
            shown.append(("gross_margin", "Gross margin", _display.money(self.gross_margin, scale)))
            shown.append(
                ("gross_margin_rate", "Gross margin rate", _display.rate(self.gross_margin_rate))
            )
        return [(label if words else name, value) for name, label, value in shown]

    def __repr__(self) -> str:
        return "Kpis\n" + _display.text_table(["kpi", "value"], self._rows(words=False))

    def _repr_html_(self) -> str:
        return _display.html_table(["KPI", "value"], self._rows(words=True), caption="KPIs")


def _exact(minor: int | None, scale: int) -> Decimal | None:
    """Minor units at ``scale`` as an exact decimal."""
    return None if minor is None else Decimal(minor).scaleb(-scale)


def kpis(
    data: Any,
    *,
    customer: str = "customer_id",
    time: str = "timestamp",
    amount: str | None = None,
    order: str | None = None,
    start: Any = None,
    end: Any = None,
    margin: float | None = None,
    cost: str | None = None,
    money: str = "float",
    scale: int = 2,
    dropna: bool = False,
) -> Kpis:
    """Customers, orders, revenue, AOV, purchase frequency, repeat rate, spend per customer.

    Over the window ``[start, end]`` (dates are whole days). AOV = revenue / orders, purchase
    frequency = orders / customers, repeat-customer rate = customers with ≥ 2 orders /
    customers. ``gross_margin`` = revenue − Σ ``cost`` column, or revenue × ``margin``.
    Money is summed exactly; ``money="decimal"`` returns :class:`decimal.Decimal` values.
    Ratios with a zero denominator are ``None``.

    Examples
    --------
    >>> import pandas as pd, custval
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 2, 3],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-03", "2024-03-01"]),
    ...     "amount": [10.0, 20.0, 30.0, 40.0],
    ... })
    >>> k = custval.kpis(log, amount="amount", margin=0.4)
    >>> k.customers, k.orders, k.revenue, k.aov, k.repeat_customer_rate, k.gross_margin
    (3, 4, 100.0, 25.0, 0.3333333333333333, 40.0)
    """
    decimal = _args.check_money(money)
    _args.check_margin(margin, cost)
    roles = dict(customer=customer, time=time, amount=amount, order=order, cost=cost, dropna=dropna)
    totals = kpi_totals(data, roles, scale=scale, start=start, end=end)
    return kpis_of(totals, amount=amount, margin=margin, decimal=decimal)


def kpi_totals(data: Any, roles: dict[str, Any], *, scale: int, start: Any, end: Any):
    """The native KPI totals (a ``KpiTotals``) of ``data`` over ``[start, end]``."""
    log = _files.log(data, **roles)
    unit, tz = log.time_unit, log.timezone
    _, totals = _aggregated(
        _native.kpis,
        log,
        data,
        roles,
        scale=scale,
        start=_input.time_value(start, unit, tz, name="start", end_of_day=False),
        end=_input.time_value(end, unit, tz, name="end"),
    )
    return totals


def kpis_of(totals: Any, *, amount: str | None, margin: float | None, decimal: bool) -> Kpis:
    """:class:`Kpis` of native totals (of one log, or merged over its parts)."""
    exact_revenue = _exact(totals.revenue, totals.scale)

    def amount_out(value: Decimal | None) -> float | Decimal | None:
        if value is None or amount is None:
            return None
        return value if decimal else float(value)

    gross = None
    if totals.cost is not None:
        gross = exact_revenue - _exact(totals.cost, totals.scale)
    elif margin is not None:
        with localcontext(prec=80):
            gross = exact_revenue * Decimal(repr(_args.number(margin, "margin")))
    return Kpis(
        customers=totals.customers,
        orders=totals.orders,
        revenue=amount_out(exact_revenue),
        aov=amount_out(_exact(totals.aov, totals.mean_scale)),
        purchase_frequency=totals.purchase_frequency,
        repeat_customer_rate=totals.repeat_customer_rate,
        spend_per_customer=amount_out(_exact(totals.spend_per_customer, totals.mean_scale)),
        gross_margin=amount_out(gross),
        gross_margin_rate=(
            float(gross) / float(exact_revenue) if gross is not None and exact_revenue else None
        ),
    )
