"""Customer-base metrics of a Dask log: growth accounting and cohorts merged from per-partition
partials, RFM segments and value concentration ranked against the whole base."""

from __future__ import annotations

from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa

from custval import _args, _files, _frames, _input, _native
from custval.dask import _log
from custval.dask.summary import rfm_summary
from custval.metrics import growth
from custval.metrics import segments as _segments
from custval.metrics.segments import Concentration, Ranks, SegmentRules


def _partials(
    data: Any, names: dict[str, str], dropna: bool, native, **options: Any
) -> tuple[_log.Facts, list[pa.RecordBatch], Any]:
    """(the log's facts, ``native`` run on every partition after a shuffle by customer over
    the whole log's span, the log of an empty partition for the output's types)."""
    ddf = _log.frame(data)
    found = _log.facts(ddf, names, dropna=dropna)
    roles = {**names, "dropna": dropna}

    def partial(part: pd.DataFrame) -> pa.RecordBatch:
        log = _log._quiet(lambda: _files.log(part, **roles))
        return native(log.batches(), log.names, rows=log.rows, span=found.span(), **options)

    parts = _log.by_customer(ddf, names).to_delayed()
    batches = dask.compute(*[dask.delayed(partial)(p) for p in parts])
    empty = _files.log(ddf._meta, **roles)
    return found, list(batches), empty


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
    """:func:`custval.retention` of a Dask log, as a small in-memory table (pandas unless
    ``output`` says otherwise) equal to the in-memory answer.

    Each partition (after a shuffle by customer) is accounted over the whole log's periods,
    found in one reduction first; the partitions share no customer, so their counts and
    exact money add up; the rates are computed once on the merged counts.

    References
    ----------
    Growth accounting: Jonathan Hsu, "Growth accounting and the quick ratio" (Social Capital,
    2015); Dask ``to_delayed``: https://docs.dask.org/en/stable/delayed-collections.html

    Examples
    --------
    >>> import dask, dask.dataframe as dd, pandas as pd, custval.dask
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 2, 1, 3, 3],
    ...     "timestamp": pd.to_datetime(["2024-01-05", "2024-02-03", "2024-02-09",
    ...                                  "2024-03-01", "2024-03-02", "2024-04-10"]),
    ...     "amount": [10.0, 30.0, 7.0, 5.0, 4.0, 6.0],
    ... })
    >>> with dask.config.set(scheduler="synchronous"):
    ...     r = custval.dask.retention(dd.from_pandas(log, npartitions=3), amount="amount")
    >>> r[["active", "new", "retained", "churned", "retention_rate", "revenue"]]
                active  new  retained  churned  retention_rate  revenue
    period
    2024-01-01       1    1         0        0             NaN     10.0
    2024-02-01       2    1         1        0             1.0     37.0
    2024-03-01       2    1         1        1             0.5      9.0
    2024-04-01       1    0         1        1             0.5      6.0
    """
    decimal = _args.check_money(money)
    window = _args.check_window(active_window)
    names = _input._roles(customer=customer, time=time, amount=amount, order=order)
    found, batches, log = _partials(
        data,
        names,
        dropna,
        _native.retention,
        freq=freq,
        scale=scale,
        active_window=window,
        decimal=True,
    )
    batch = _native.retention_merge(batches, decimal)
    metadata = _frames.log_metadata(log, freq, active_window=window)
    metadata["rows_dropped_null"] = found.dropped
    return _frames.by_period(batch, "period", log, output, metadata)[1]


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
    """:func:`custval.cohorts` of a Dask log, as a small in-memory table equal to the
    in-memory answer: per-partition cells over the whole log's periods (counts, orders or
    exact revenue) are added on the client, then shares and running means computed once.

    References
    ----------
    Dask ``to_delayed``: https://docs.dask.org/en/stable/delayed-collections.html

    Examples
    --------
    >>> import dask, dask.dataframe as dd, pandas as pd, custval.dask
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 2, 1, 3, 2, 1],
    ...     "timestamp": pd.to_datetime(["2024-01-05", "2024-01-20", "2024-02-03",
    ...                                  "2024-02-09", "2024-03-01", "2024-03-02"]),
    ... })
    >>> with dask.config.set(scheduler="synchronous"):
    ...     c = custval.dask.cohorts(dd.from_pandas(log, npartitions=2))
    >>> c
                cohort_size    0    1    2
    cohort
    2024-01-01            2  1.0  0.5  1.0
    2024-02-01            1  1.0  0.0  NaN
    """
    decimal = _args.check_money(money)
    growth.check_cohort_value(value, amount)
    names = _input._roles(customer=customer, time=time, amount=amount, order=order)
    cells = "revenue" if value == "cumulative_revenue_per_customer" else value
    found, batches, log = _partials(
        data,
        names,
        dropna,
        _native.cohorts,
        freq=freq,
        scale=scale,
        value=cells,
        normalize=False,
        decimal=True,
    )
    batch = _native.cohorts_merge(batches, value, bool(normalize), decimal)
    normalized = bool(normalize) and value == "active"
    metadata = _frames.log_metadata(log, freq, value=value, normalize=normalized)
    metadata["rows_dropped_null"] = found.dropped
    return growth.cohort_frame(batch, log, output, metadata)


def _value_counts(summary: dd.DataFrame, column) -> dd.Series:
    """Distinct values of a per-customer column with their counts, counted in the workers
    and added up in a tree (Dask's ``value_counts``); lazy."""
    return summary.map_partitions(column, meta=(None, "float64")).value_counts()


def _goodness_of(part: pd.DataFrame, with_amount: bool) -> dict[str, np.ndarray]:
    table = pa.Table.from_pandas(part.reset_index(), preserve_index=False)
    return _segments.rfm_goodness(table, with_amount) if len(part) else {}


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
    money: str = "float",
    scale: int = 2,
    dropna: bool = False,
) -> dd.DataFrame:
    """:func:`custval.rfm_segments` of a Dask log: a Dask DataFrame indexed by customer,
    equal row for row to the in-memory answer.

    Scores rank each customer among the whole base: the distinct R, F and M values and
    their counts are gathered from the workers (small: O(distinct values)), then every
    partition is scored against them.

    References
    ----------
    Hughes (1994), *Strategic Database Marketing* (RFM scoring); Dask ``value_counts``:
    https://docs.dask.org/en/stable/generated/dask.dataframe.Series.value_counts.html

    Examples
    --------
    >>> import dask, dask.dataframe as dd, pandas as pd, custval.dask
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 2, 3, 3, 4, 5],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-30", "2024-01-15",
    ...                                  "2024-02-01", "2024-03-01", "2024-03-29", "2024-01-02"]),
    ...     "amount": [50.0, 60.0, 70.0, 20.0, 30.0, 35.0, 10.0, 5.0],
    ... })
    >>> with dask.config.set(scheduler="synchronous"):
    ...     s = custval.dask.rfm_segments(dd.from_pandas(log, npartitions=2),
    ...                                   amount="amount").compute()
    >>> s.sort_index()[["rfm_score", "segment"]]
                rfm_score      segment
    customer_id
    1                 555    Champions
    2                 213  Hibernating
    3                 344        Loyal
    4                 412    Promising
    5                 111  Hibernating
    """
    rules = _segments.check_segments(bins, segments)
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
    ).persist()
    with_amount = amount is not None
    keys = ["r", "f", "m"] if with_amount else ["r", "f"]
    counted = dask.compute(
        *[
            _value_counts(
                summary,
                lambda part, key=key: pd.Series(
                    _goodness_of(part, with_amount).get(key, np.zeros(0)), dtype="float64"
                ),
            )
            for key in keys
        ]
    )
    ranks = {
        key: Ranks(counts.index.to_numpy(), counts.to_numpy())
        for key, counts in zip(keys, counted, strict=True)
    }

    def score(part: pd.DataFrame) -> pd.DataFrame:
        table = pa.Table.from_pandas(part.reset_index(), preserve_index=False)
        goodness = _segments.rfm_goodness(table, with_amount)
        out = _segments.segment_table(table, customer, goodness, ranks, bins, rules)
        meta = {**_frames.metadata_of(part), "bins": bins}
        return _frames.convert(out, "pandas", index=customer, metadata=meta)

    meta = score(summary._meta)
    return summary.map_partitions(score, meta=meta)


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
    """:func:`custval.value_concentration` of a Dask log, equal to the in-memory answer.

    Per-customer values are counted by distinct value in the workers; the client rebuilds
    the sorted values from the counts (O(customers) floats, 8 bytes each) and computes the
    shares, the Lorenz curve and the Gini coefficient exactly as in memory.

    References
    ----------
    Lorenz (1905), "Methods of measuring the concentration of wealth", JASA 9(70).

    Examples
    --------
    >>> import dask, dask.dataframe as dd, pandas as pd, custval.dask
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 2, 3, 4, 5, 5],
    ...     "timestamp": pd.to_datetime(["2024-01-01"] * 6),
    ...     "amount": [1.0, 1.0, 1.0, 1.0, 90.0, 6.0],
    ... })
    >>> with dask.config.set(scheduler="synchronous"):
    ...     c = custval.dask.value_concentration(dd.from_pandas(log, npartitions=2),
    ...                                          amount="amount")
    >>> c.top_1pct, c.top_20pct, round(c.gini, 2)
    (0.96, 0.96, 0.76)
    """
    column = _segments.concentration_column(by, amount)
    summary = rfm_summary(
        data,
        customer=customer,
        time=time,
        amount=amount,
        order=order,
        scale=scale,
        dropna=dropna,
    )
    counts = _value_counts(summary, lambda part: part[column].astype("float64")).compute()
    values = np.repeat(counts.index.to_numpy(dtype=np.float64), counts.to_numpy())
    return _segments.concentration_of(values, points=points)
