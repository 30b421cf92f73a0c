"""A transaction log as a Dask DataFrame: columns checked on the client, the whole-log facts
(time span, nulls, column types) found in one reduction, rows shuffled by customer.

After :func:`by_customer` every customer's rows sit in one partition, so the in-memory
kernels run unchanged on each partition and per-customer answers need no merge; base-level
answers add up from partials of disjoint customer sets.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custval import _input
from custval.exceptions import ArgumentError, SchemaError


def frame(data: Any) -> dd.DataFrame:
    """``data`` as a Dask DataFrame: a path or glob of Parquet files is read with
    :func:`dask.dataframe.read_parquet`."""
    if isinstance(data, dd.DataFrame):
        return data
    if isinstance(data, str | os.PathLike):
        path = os.fspath(data)
        if os.path.isdir(path) or "*" in path or path.endswith(".parquet"):
            return dd.read_parquet(path)
    raise ArgumentError(
        f"custval.dask takes a dask.dataframe.DataFrame or a Parquet path/glob, not "
        f"{type(data).__name__}: use the in-memory functions of custval for other inputs"
    )


@dataclass(frozen=True)
class Facts:
    """What one reduction over the whole log found: the span of its local wall times (in
    ``unit``), its rows, rows dropped for nulls (``dropna``), rows after ``end`` and nulls
    per column."""

    first: int | None
    last: int | None
    unit: str
    timezone: str | None
    rows: int
    dropped: int
    rows_after_end: int
    nulls: dict[str, int]

    def span(self) -> tuple[int, int] | None:
        return None if self.first is None or self.last is None else (self.first, self.last)


def _partition_facts(part: pd.DataFrame, names: dict[str, str], end: Any) -> dict[str, Any]:
    """The facts of one partition, read the way the in-memory functions read a log."""
    wanted = _input._wanted(names)
    source = _input.read_table(part, wanted)
    nulls = _input._null_counts(source.table, wanted)
    types = {name: str(source.table.schema.field(name).type) for name in wanted}
    log = _input._converted(_input.drop_nulls(source, wanted, dropna=True), names)
    local = log.time.cast(pa.int64())
    unit = log.time.type.unit
    end_value = _input.time_value(end, unit, log.timezone, name="observation_end")
    after = 0 if end_value is None else pc.sum(pc.greater(local, end_value)).as_py() or 0
    return {
        "first": pc.min(local).as_py(),
        "last": pc.max(local).as_py(),
        "unit": unit,
        "timezone": log.timezone,
        "rows": len(part),
        "dropped": len(part) - len(local),
        "rows_after_end": after,
        "nulls": nulls,
        "types": types,
    }


def _quiet(function, *args):
    # Nulls are reported once, on the client; the partition's own warning would repeat it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return function(*args)


def facts(data: dd.DataFrame, names: dict[str, str], *, dropna: bool, end: Any = None) -> Facts:
    """The whole log's :class:`Facts`, from one pass over its partitions; raises on the client
    what the in-memory functions raise: a missing column, mixed column types across
    partitions, nulls without ``dropna``."""
    wanted = _input._wanted(names)
    _input._check_columns(wanted, [str(c) for c in data.columns])
    parts = data[wanted].to_delayed()
    found = dask.compute(*[dask.delayed(_quiet)(_partition_facts, p, names, end) for p in parts])
    for name in wanted:
        kinds = [f["types"][name] for f in found if f["rows"]]
        if len(set(kinds)) > 1:
            counts = {k: kinds.count(k) for k in dict.fromkeys(kinds)}
            raise SchemaError(
                f"column {name!r}: partitions disagree on its type "
                f"({', '.join(f'{k} in {n}' for k, n in counts.items())} partitions)"
            )
    nulls = {name: sum(f["nulls"][name] for f in found) for name in wanted}
    if any(nulls.values()):
        if not dropna:
            raise _input._nulls_error(nulls)
        dropped = sum(f["dropped"] for f in found)
        _input._warn_dropped(dropped, nulls, stacklevel=3)
    firsts = [f["first"] for f in found if f["first"] is not None]
    lasts = [f["last"] for f in found if f["last"] is not None]
    sample = found[0] if found else {"unit": "ns", "timezone": None}
    return Facts(
        first=min(firsts) if firsts else None,
        last=max(lasts) if lasts else None,
        unit=sample["unit"],
        timezone=sample["timezone"],
        rows=sum(f["rows"] for f in found),
        dropped=sum(f["dropped"] for f in found),
        rows_after_end=sum(f["rows_after_end"] for f in found),
        nulls=nulls,
    )


def by_customer(data: dd.DataFrame, names: dict[str, str]) -> dd.DataFrame:
    """The needed columns, shuffled once by a hash of the customer id (Dask's shuffle): all
    rows of a customer end in the same partition, whatever partition they came from."""
    wanted = _input._wanted(names)
    return data[wanted].shuffle(on=names["customer"], npartitions=data.npartitions)
