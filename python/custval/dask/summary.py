"""Per-customer summaries and KPIs of a Dask log: the in-memory functions of
:mod:`custval.summary` run on each partition after one shuffle by customer."""

from __future__ import annotations

from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd

from custval import _args, _frames, _input, _native, summary
from custval.dask import _log


def _per_customer(function, data: dd.DataFrame, names: dict[str, str], metadata_fix: dict, **kw):
    """``function`` (an in-memory per-customer function) on every partition of ``data``
    shuffled by customer, as a Dask DataFrame indexed by customer; ``metadata_fix`` holds
    the whole log's metadata where a partition only knows its own."""
    shuffled = _log.by_customer(data, names)

    def run(part: pd.DataFrame) -> pd.DataFrame:
        out = _log._quiet(lambda: function(part, output="pandas", **kw))
        out.attrs[_frames.METADATA_KEY] = {
            **out.attrs.get(_frames.METADATA_KEY, {}),
            **metadata_fix,
        }
        return out

    meta = run(shuffled._meta)
    return shuffled.map_partitions(run, meta=meta, align_dataframes=False)


def _last(found: _log.Facts, given: Any) -> Any:
    """``observation_end`` for every partition: the user's, or the whole log's last time."""
    if given is not None or found.last is None:
        return given
    return _input.LogTime(found.last, found.unit)


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
) -> dd.DataFrame:
    """:func:`custval.rfm_summary` of a Dask log: one row per customer, a Dask DataFrame
    indexed by customer id, equal row for row to the in-memory answer.

    The rows are shuffled once by a hash of the customer id; the native kernel summarises
    each partition in its worker. ``observation_end`` defaults to the last transaction of
    the whole log (found in one reduction first). Keywords as :func:`custval.rfm_summary`.

    Parameters
    ----------
    data : dask.dataframe.DataFrame or str
        The transaction log, or a path/glob of Parquet files (read with
        :func:`dask.dataframe.read_parquet`).

    Returns
    -------
    dask.dataframe.DataFrame
        Partitions in the order of the shuffle, customers in first-appearance order within
        each; ``.attrs["custval"]`` of the computed partitions holds the summary's time unit.

    References
    ----------
    Dask shuffle: https://docs.dask.org/en/stable/dataframe-groupby.html#shuffle-methods

    Examples
    --------
    >>> import dask, dask.dataframe as dd, pandas as pd, custval.dask
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 2, 1, 1],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-05", "2024-01-01"]),
    ...     "amount": [10.0, 7.5, 20.0, 5.0],
    ... })
    >>> with dask.config.set(scheduler="synchronous"):
    ...     s = custval.dask.rfm_summary(dd.from_pandas(log, npartitions=2), amount="amount",
    ...                                  observation_end="2024-01-10").compute()
    >>> s.sort_index()[["frequency", "recency", "T", "revenue"]]
                 frequency  recency    T  revenue
    customer_id
    1                  1.0      4.0  9.0     35.0
    2                  0.0      0.0  7.0      7.5
    """
    _args.check_money(money)
    names = _input._roles(customer=customer, time=time, amount=amount, order=order)
    ddf = _log.frame(data)
    found = _log.facts(ddf, names, dropna=dropna, end=observation_end)
    return _per_customer(
        summary.rfm_summary,
        ddf,
        names,
        {"rows_after_observation_end": found.rows_after_end, "rows_dropped_null": found.dropped},
        customer=customer,
        time=time,
        amount=amount,
        order=order,
        freq=freq,
        freq_multiplier=freq_multiplier,
        observation_end=_last(found, observation_end),
        include_first=include_first,
        money=money,
        scale=scale,
        dropna=dropna,
    )


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
) -> dd.DataFrame:
    """:func:`custval.calibration_holdout` of a Dask log, per partition after a shuffle by
    customer; ``observation_end`` defaults to the whole log's last transaction.

    Returns a Dask DataFrame indexed by customer, equal row for row to the in-memory table.
    The partitions' ``customers_first_seen_in_holdout`` metadata counts their own customers.

    References
    ----------
    Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science
    24(2) (the calibration/holdout design); Dask shuffle:
    https://docs.dask.org/en/stable/dataframe-groupby.html#shuffle-methods

    Examples
    --------
    >>> import dask, dask.dataframe as dd, pandas as pd, custval.dask
    >>> log = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-04", "2024-01-12", "2024-01-11"]),
    ... })
    >>> with dask.config.set(scheduler="synchronous"):
    ...     t = custval.dask.calibration_holdout(dd.from_pandas(log, npartitions=2),
    ...                                          calibration_end="2024-01-07").compute()
    >>> t[["frequency_cal", "T_cal", "frequency_holdout", "duration_holdout"]]
                 frequency_cal  T_cal  frequency_holdout  duration_holdout
    customer_id
    a                      1.0    6.0                1.0               5.0
    """
    _args.check_money(money)
    names = _input._roles(customer=customer, time=time, amount=amount, order=order)
    ddf = _log.frame(data)
    found = _log.facts(ddf, names, dropna=dropna, end=observation_end)
    return _per_customer(
        summary.calibration_holdout,
        ddf,
        names,
        {"rows_after_observation_end": found.rows_after_end, "rows_dropped_null": found.dropped},
        calibration_end=calibration_end,
        observation_end=_last(found, observation_end),
        customer=customer,
        time=time,
        amount=amount,
        order=order,
        freq=freq,
        freq_multiplier=freq_multiplier,
        money=money,
        scale=scale,
        dropna=dropna,
    )


def _totals(part: pd.DataFrame, roles: dict[str, Any], scale: int, start: Any, end: Any):
    totals = _log._quiet(lambda: summary.kpi_totals(part, roles, scale=scale, start=start, end=end))
    return {
        "customers": totals.customers,
        "orders": totals.orders,
        "revenue": totals.revenue,
        "repeat_customers": totals.repeat_customers,
        "cost": totals.cost,
        "scale": totals.scale,
        "rows_outside_window": totals.rows_outside_window,
    }


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
) -> summary.Kpis:
    """:func:`custval.kpis` of a Dask log: totals per partition after a shuffle by customer
    (the partitions share no customer, so customers, orders, repeat customers and exact
    money add up), merged on the client; means and ratios are then computed once, as in
    memory. Returns the same :class:`custval.Kpis`.

    References
    ----------
    Dask ``DataFrame.to_delayed``: https://docs.dask.org/en/stable/delayed-collections.html

    Examples
    --------
    >>> import dask, dask.dataframe as dd, pandas as pd, custval.dask
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 2, 3],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-03", "2024-03-01"]),
    ...     "amount": [10.0, 20.0, 30.0, 40.0],
    ... })
    >>> with dask.config.set(scheduler="synchronous"):
    ...     k = custval.dask.kpis(dd.from_pandas(log, npartitions=3), amount="amount")
    >>> k.customers, k.orders, k.revenue, k.aov, k.repeat_customer_rate
    (3, 4, 100.0, 25.0, 0.3333333333333333)
    """
    decimal = _args.check_money(money)
    _args.check_margin(margin, cost)
    names = _input._roles(customer=customer, time=time, amount=amount, order=order, cost=cost)
    roles = dict(customer=customer, time=time, amount=amount, order=order, cost=cost, dropna=dropna)
    ddf = _log.frame(data)
    _log.facts(ddf, names, dropna=dropna)
    parts = _log.by_customer(ddf, names).to_delayed()
    partials = dask.compute(*[dask.delayed(_totals)(p, roles, scale, start, end) for p in parts])
    costs = [p["cost"] for p in partials]
    totals = _native.kpis_merge(
        customers=sum(p["customers"] for p in partials),
        orders=sum(p["orders"] for p in partials),
        revenue=sum(p["revenue"] for p in partials),
        repeat_customers=sum(p["repeat_customers"] for p in partials),
        cost=None if cost is None else sum(c or 0 for c in costs),
        scale=partials[0]["scale"] if partials else scale,
        rows_outside_window=sum(p["rows_outside_window"] for p in partials),
    )
    return summary.kpis_of(totals, amount=amount, margin=margin, decimal=decimal)
