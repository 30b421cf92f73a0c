"""Any supported input → Arrow columns the native core accepts.

Arrow-backed inputs (pyarrow, polars, duckdb, pandas with Arrow-compatible columns) are
wrapped without copying where the types already match; only columns that need a type change
are converted.
"""

from __future__ import annotations

import datetime as dt
import difflib
import glob
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from custval._frames import kind_of
from custval.exceptions import ArgumentError, ColumnNotFoundError, DataError, SchemaError

_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


@dataclass
class Source:
    """The selected columns of one input, as one Arrow table, and where they came from."""

    table: pa.Table
    kind: str  # "pandas", "polars", "arrow" or "other": decides the output type
    dropped: dict[str, int] = field(default_factory=dict)


class Log(Protocol):
    """A transaction log as the native functions read it, in memory or streamed from files.

    The native side receives ``batches()`` (record batches whose columns are named by role:
    ``customer``, ``time``, ``amount``, ``order``, ``cost``, converted to the types the core
    reads) and ``names`` (the roles mapping: role → the user's column name, for messages and
    for naming the result's columns).
    """

    names: dict[str, str]

    @property
    def kind(self) -> str:
        """The input's kind ("pandas", "polars", "arrow" or "other"): the output type."""

    @property
    def dropped(self) -> dict[str, int]:
        """Rows dropped on purpose, by reason (``{"nulls": n}`` with ``dropna=True``)."""

    @property
    def rows(self) -> int:
        """About how many rows (sizes the native partitions; any value works)."""

    @property
    def customer_type(self) -> pa.DataType: ...

    @property
    def time_type(self) -> pa.DataType: ...

    @property
    def time_unit(self) -> str: ...

    @property
    def timezone(self) -> str | None: ...

    @property
    def time_original(self) -> pa.ChunkedArray | None:
        """The input's time column when it is in memory (zoned times are taken from it)."""

    def batches(self) -> Iterable[pa.RecordBatch]: ...


@dataclass
class Transactions:
    """A log in memory: columns ready for the native core, plus the originals for the output."""

    source: Source
    customer: pa.Array  # int64, string or large_string
    customer_original: pa.ChunkedArray
    time: pa.Array  # timestamp without zone (local wall time)
    time_original: pa.ChunkedArray
    amount: pa.Array | None
    order: pa.Array | None
    cost: pa.Array | None = None
    names: dict[str, str] = field(default_factory=dict)

    def batch(self) -> pa.RecordBatch:
        """The columns as one record batch named by role, for the native functions."""
        present = [role for role in ROLES if getattr(self, role) is not None]
        return pa.RecordBatch.from_arrays([getattr(self, r) for r in present], names=present)

    def batches(self) -> list[pa.RecordBatch]:
        return [self.batch()]

    @property
    def rows(self) -> int:
        return len(self.time)

    @property
    def kind(self) -> str:
        return self.source.kind

    @property
    def dropped(self) -> dict[str, int]:
        return self.source.dropped

    @property
    def customer_type(self) -> pa.DataType:
        return self.customer_original.type

    @property
    def time_type(self) -> pa.DataType:
        return self.time_original.type

    @property
    def time_unit(self) -> str:
        return self.time.type.unit

    @property
    def timezone(self) -> str | None:
        return getattr(self.time_original.type, "tz", None)


def _close_matches(name: str, available: list[str]) -> str:
    matches = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
    return f"column {name!r} not found{hint} (available: {', '.join(map(repr, available))})"


def _check_columns(wanted: list[str], available: list[str]) -> None:
    for name in wanted:
        if name not in available:
            raise ColumnNotFoundError(_close_matches(name, available))
        if (copies := available.count(name)) > 1:
            raise SchemaError(
                f"column {name!r} appears {copies} times in the input: rename or drop the "
                "duplicates so that it names one column"
            )


# What pyarrow raises for a column it cannot type: mixed Python types, an int beyond 64 bits.
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)


def _mixed_types(name: str, values: Any, err: Exception) -> SchemaError:
    """The error for a column Arrow cannot read as one type, with the Python types it holds."""
    census = pd.Series(np.asarray(values, dtype=object)).map(lambda v: type(v).__name__)
    kinds = ", ".join(f"{count} {kind}" for kind, count in census.value_counts().items())
    return SchemaError(
        f"column {name!r}: its values ({kinds}) cannot be read as one column type ({err}); "
        "convert it first, e.g. with .astype(str) or pd.to_numeric"
    )


def _arrow_table(data: Any, names: list[str], convert) -> pa.Table:
    """``convert(data, names)`` (columns of a frame or dict as an Arrow table); a column Arrow
    cannot type is a SchemaError naming it, found by converting the columns one at a time only
    when the whole fails."""
    try:
        return convert(data, names)
    except _ARROW_ERRORS as err:
        for name in names:
            try:
                convert(data, [name])
            except _ARROW_ERRORS as column_err:
                raise _mixed_types(name, data[name], column_err) from err
        raise SchemaError(f"the input cannot be read as Arrow columns: {err}") from err


def _from_pandas(frame: pd.DataFrame, names: list[str]) -> pa.Table:
    return pa.Table.from_pandas(frame[names], preserve_index=False)


def _from_arrays(columns: dict[str, Any], names: list[str]) -> pa.Table:
    return pa.table({name: columns[name] for name in names})


def _paths(path: str | os.PathLike[str]) -> list[str]:
    text = os.fspath(path)
    paths = sorted(glob.glob(text)) if glob.has_magic(text) else [text]
    if not paths or not all(os.path.exists(p) for p in paths):
        raise ArgumentError(f"no file matches {text!r}")
    return paths


def _dataset(path: str | os.PathLike[str], wanted: list[str]) -> ds.Dataset:
    paths = _paths(path)
    suffix = os.path.splitext(paths[0])[1].lower()
    file_format = "csv" if suffix in (".csv", ".txt", ".gz") else "parquet"
    dataset = ds.dataset(paths, format=file_format)
    _check_columns(wanted, dataset.schema.names)
    return dataset


def _unreadable(path: Any, err: Exception) -> DataError:
    name = repr(os.fspath(path)) if isinstance(path, str | os.PathLike) else str(path)
    return DataError(f"cannot read {name}: {err}")


def _read_path(path: str | os.PathLike[str], wanted: list[str]) -> pa.Table:
    dataset = _dataset(path, wanted)
    try:
        # Only the wanted columns are ever decoded.
        return dataset.to_table(columns=wanted)
    except (pa.ArrowInvalid, OSError) as err:  # OSError: corrupt compressed pages
        raise _unreadable(path, err) from err


def read_table(data: Any, wanted: list[str]) -> Source:
    """Selects ``wanted`` columns of ``data`` as an Arrow table."""
    kind = kind_of(data)
    if isinstance(data, str | os.PathLike):
        return Source(_read_path(data, wanted), "other")
    if isinstance(data, ds.Dataset):
        _check_columns(wanted, data.schema.names)
        try:
            return Source(data.to_table(columns=wanted), "other")
        except (pa.ArrowInvalid, OSError) as err:
            raise _unreadable(getattr(data, "files", "the dataset"), err) from err
    if isinstance(data, pd.DataFrame):
        frame = data
        missing_index = [w for w in wanted if w not in frame.columns and w in frame.index.names]
        if missing_index:
            frame = frame.reset_index(level=missing_index)
        _check_columns(wanted, [str(c) for c in frame.columns])
        return Source(_arrow_table(frame, wanted, _from_pandas), kind)
    if isinstance(data, dict):
        _check_columns(wanted, [str(c) for c in data])
        return Source(_arrow_table(data, wanted, _from_arrays), kind)
    if isinstance(data, pa.RecordBatchReader):
        table = data.read_all()
    elif isinstance(data, pa.RecordBatch):
        table = pa.Table.from_batches([data])
    elif isinstance(data, pa.Table):
        table = data
    elif kind == "polars":
        _check_columns(wanted, list(data.columns))
        table = data.select(wanted).to_arrow()
    elif hasattr(data, "__arrow_c_stream__"):
        table = pa.table(data)
    elif hasattr(data, "arrow"):  # duckdb relations of older versions
        table = data.arrow()
        table = table.read_all() if isinstance(table, pa.RecordBatchReader) else table
    else:
        raise ArgumentError(
            f"unsupported input {type(data).__name__}: pass a pandas/polars DataFrame, a pyarrow "
            "Table, RecordBatch or RecordBatchReader, a duckdb relation, a dict of NumPy arrays "
            "or a path to Parquet/CSV files"
        )
    _check_columns(wanted, table.schema.names)
    return Source(table.select(wanted), kind)


def _as_array(column: pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)


def _unparseable(name: str, what: str, bad: int) -> DataError:
    return DataError(f"column {name!r}: {bad} rows are not parseable as {what}")


def _nan_ids_as_nulls(table: pa.Table, name: str) -> pa.Table:
    """NaN float customer ids become nulls: a missing id, whether the float came from pandas
    (where NaN already arrives as null) or from NumPy or Parquet (where it does not)."""
    column = table.column(name)
    if not pa.types.is_floating(column.type):
        return table
    nan = pc.is_nan(column)
    if not pc.any(nan).as_py():
        return table
    index = table.schema.get_field_index(name)
    return table.set_column(index, name, pc.if_else(nan, pa.scalar(None, column.type), column))


def id_type(kind: pa.DataType) -> pa.DataType:
    """The type customer ids of a column of type ``kind`` have in results: float ids (integers
    stored as floats, as pandas does once an id is missing) come back as int64."""
    return pa.int64() if pa.types.is_floating(kind) else kind


def whole_number_ids(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """Float customer ids as int64; every (non-null) value must be a whole number that int64
    holds, or the column is a SchemaError with the count. Other types pass unchanged."""
    if not pa.types.is_floating(column.type):
        return column
    column = column.cast(pa.float64())
    whole = pc.and_(pc.is_finite(column), pc.equal(pc.floor(column), column))
    in_range = pc.and_(pc.greater_equal(column, -(2.0**63)), pc.less(column, 2.0**63))
    valid = pc.and_(whole, in_range)
    bad = len(column) - column.null_count - (pc.sum(valid).as_py() or 0)
    if bad:
        example = column.filter(pc.invert(valid))[0].as_py()
        raise SchemaError(
            f"column {name!r}: {bad} customer ids are not whole numbers (e.g. {example!r}); "
            "float ids must hold integer values"
        )
    return column.cast(pa.int64())


def customer_ids(column: pa.ChunkedArray, name: str) -> pa.Array:
    kind = column.type
    if pa.types.is_dictionary(kind):
        return customer_ids(column.cast(kind.value_type), name)
    if pa.types.is_integer(kind):
        if kind == pa.uint64():
            # Bit-reinterpreting keeps ids distinct; the output uses the original values.
            return _as_array(column.cast(pa.int64(), safe=False))
        return _as_array(column.cast(pa.int64()))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _as_array(column)
    if pa.types.is_string_view(kind):
        return _as_array(column.cast(pa.large_string()))
    raise SchemaError(
        f"column {name!r}: customer ids must be integers, strings or dictionary-encoded, not {kind}"
    )


def _parse_times(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    values = pd.to_datetime(
        pd.Series(column.to_numpy(zero_copy_only=False)), errors="coerce", format="ISO8601"
    )
    bad = int(values.isna().sum()) - column.null_count
    if bad:
        raise _unparseable(name, "dates/times", bad)
    return pa.chunked_array([pa.array(values, from_pandas=True)])


def times(column: pa.ChunkedArray, name: str) -> tuple[pa.Array, pa.ChunkedArray]:
    """(local wall-time timestamps for the core, the column as it should appear in output)."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        column = _parse_times(column, name)
        kind = column.type
    if pa.types.is_date32(kind):
        return _as_array(column.cast(pa.timestamp("s"))), column
    if pa.types.is_date64(kind):
        return _as_array(column.cast(pa.timestamp("ms"))), column
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            return _as_array(column), column
        local = pc.local_timestamp(column)
        return _as_array(local), column
    raise SchemaError(f"column {name!r}: times must be timestamps or dates, not {kind}")


def amounts(column: pa.ChunkedArray, name: str) -> pa.Array:
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        valid = pc.match_substring_regex(column.cast(pa.string()), _NUMBER)
        bad = len(column) - column.null_count - pc.sum(valid).as_py() if len(column) else 0
        if bad:
            raise _unparseable(name, "numbers", bad)
        return _as_array(column.cast(pa.float64()))
    if pa.types.is_integer(kind):
        if kind == pa.uint64() and len(column) and pc.max(column).as_py() >= 2**63:
            raise DataError(f"column {name!r}: amount too large for int64")
        return _as_array(column.cast(pa.int64()))
    if pa.types.is_float16(kind):
        return _as_array(column.cast(pa.float32()))
    if pa.types.is_floating(kind):
        return _as_array(column)
    if pa.types.is_decimal(kind):
        if kind.scale < 0:
            raise SchemaError(f"column {name!r}: decimals with a negative scale are not supported")
        if kind.precision > 38:
            try:
                return _as_array(column.cast(pa.decimal128(38, kind.scale)))
            except pa.ArrowInvalid as err:
                raise DataError(f"column {name!r}: amount overflow beyond 38 digits") from err
        return _as_array(column.cast(pa.decimal128(max(kind.precision, 1), kind.scale)))
    raise SchemaError(f"column {name!r}: amounts must be numbers (int, float, decimal), not {kind}")


def order_codes(column: pa.ChunkedArray, name: str) -> pa.Array:
    if pa.types.is_integer(column.type):
        return _as_array(column.cast(pa.int64(), safe=False))
    encoded = pc.dictionary_encode(_as_array(column))
    return encoded.indices.cast(pa.int64())


def _null_counts(table: pa.Table | pa.RecordBatch, columns: list[str]) -> dict[str, int]:
    return {name: table.column(name).null_count for name in columns}


def _nulls_error(nulls: dict[str, int]) -> DataError:
    name, count = next((n, c) for n, c in nulls.items() if c)
    return DataError(f"column {name!r}: {count} rows are null; pass dropna=True to drop them")


def _without_nulls(table: pa.Table, columns: list[str]) -> pa.Table:
    mask = None
    for name in columns:
        valid = pc.is_valid(table.column(name))
        mask = valid if mask is None else pc.and_(mask, valid)
    return table.filter(mask)


def _warn_dropped(dropped: int, nulls: dict[str, int], stacklevel: int) -> None:
    warnings.warn(
        f"custval dropped {dropped} rows with nulls "
        f"({', '.join(f'{n}: {c}' for n, c in nulls.items() if c)})",
        UserWarning,
        stacklevel=stacklevel + 1,
    )


def drop_nulls(source: Source, columns: list[str], dropna: bool) -> Source:
    table = source.table
    nulls = _null_counts(table, columns)
    if not any(nulls.values()):
        return source
    if not dropna:
        raise _nulls_error(nulls)
    kept = _without_nulls(table, columns)
    dropped = table.num_rows - kept.num_rows
    _warn_dropped(dropped, nulls, stacklevel=4)
    return Source(kept, source.kind, {**source.dropped, "nulls": dropped})


ROLES = ("customer", "time", "amount", "order", "cost")


def _roles(**columns: str | None) -> dict[str, str]:
    for role, name in columns.items():
        if name is None and role in ("customer", "time"):
            raise ArgumentError(f"{role}= must name a column (a string), not None")
        if name is not None and not isinstance(name, str):
            raise ArgumentError(f"{role}= names a column: a string, not {type(name).__name__}")
    return {role: name for role, name in columns.items() if name is not None}


def _wanted(names: dict[str, str]) -> list[str]:
    """The distinct columns to read (one column may serve two roles)."""
    return list(dict.fromkeys(names.values()))


def _converted(source: Source, names: dict[str, str]) -> Transactions:
    table = source.table
    customer_original = whole_number_ids(table.column(names["customer"]), names["customer"])
    time_local, time_original = times(table.column(names["time"]), names["time"])

    def optional(role: str, convert) -> pa.Array | None:
        return convert(table.column(names[role]), names[role]) if role in names else None

    return Transactions(
        source=source,
        customer=customer_ids(customer_original, names["customer"]),
        customer_original=customer_original,
        time=time_local,
        time_original=time_original,
        amount=optional("amount", amounts),
        order=optional("order", order_codes),
        cost=optional("cost", amounts),
        names=names,
    )


def transactions(
    data: Any,
    *,
    customer: str,
    time: str,
    amount: str | None = None,
    order: str | None = None,
    cost: str | None = None,
    dropna: bool = False,
) -> Transactions:
    """The whole log, read at once, as columns for the native core."""
    names = _roles(customer=customer, time=time, amount=amount, order=order, cost=cost)
    wanted = _wanted(names)
    source = read_table(data, wanted)
    source.table = _nan_ids_as_nulls(source.table, customer)
    source = drop_nulls(source, wanted, dropna)
    return _converted(source, names)


# Rows per record batch read from files: big enough to amortise a pass of the kernel, small
# enough that a batch of a few columns stays in the tens of MiB.
_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


@dataclass(frozen=True)
class LogTime:
    """A time already resolved to a log's local wall time, as an integer in ``unit``: a bound
    found over a whole distributed log (its last transaction) handed to each part as is,
    without the date rules of :func:`time_value` (a midnight would become the day's end)."""

    value: int
    unit: str


def time_value(
    value: Any, unit: str, tz: str | None, *, name: str, end_of_day: bool = True
) -> int | None:
    """A user-given bound as a local wall-time value in ``unit``.

    A date without a time (a ``datetime.date``, a string like "1997-09-30" or a timestamp at
    midnight) means the end of that day (its start when ``end_of_day`` is false).
    """
    if value is None:
        return None
    if isinstance(value, LogTime):
        return value.value * _NS_PER_UNIT[value.unit] // _NS_PER_UNIT[unit]
    is_date = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    is_date_text = isinstance(value, str) and len(value.strip()) <= 10
    whole_day = end_of_day and (is_date or is_date_text)
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as err:
        raise SchemaError(f"{name}: cannot read {value!r} as a date/time") from err
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(tz) if tz else stamp.tz_convert("UTC")
        stamp = stamp.tz_localize(None)
    nanos = stamp.as_unit("ns").value
    # A midnight timestamp is how pandas spells a date: lifetimes keeps that whole day too.
    whole_day = whole_day or (end_of_day and stamp == stamp.normalize())
    if whole_day:
        nanos += 86_400 * 10**9 - 1
    return nanos // _NS_PER_UNIT[unit]
