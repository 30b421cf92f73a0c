"""Frame kinds: which type of frame came in, and the result in that type with custval's metadata.

Output mirrors input: polars in → polars out, pyarrow in → pyarrow out, anything else → pandas
(unless ``output=`` says otherwise). Results carry their metadata as pandas ``attrs``, Arrow
schema metadata, or, for polars (which has no metadata of its own), in a registry kept while
the frame lives.
"""

from __future__ import annotations

import json
import weakref
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custval.exceptions import ArgumentError

OUTPUTS = ("auto", "pandas", "polars", "arrow")
METADATA_KEY = "custval"

# polars frames hold no metadata of their own, so custval remembers the metadata of the polars
# frames it returned, for as long as each lives (frames derived from them start without).
_POLARS_METADATA: dict[int, tuple[weakref.ref, dict[str, Any]]] = {}


def kind_of(data: Any) -> str:
    """ "pandas", "polars", "arrow" or "other": the kind of an input, which decides the output."""
    if isinstance(data, pd.DataFrame):
        return "pandas"
    if isinstance(data, pa.Table | pa.RecordBatch | pa.RecordBatchReader):
        return "arrow"
    if type(data).__module__.split(".")[0] == "polars":
        return "polars"
    return "other"


def is_dask(data: Any) -> bool:
    """Whether ``data`` is a Dask collection (checked without importing dask)."""
    return type(data).__module__.split(".")[0] in ("dask", "dask_expr") and hasattr(
        data, "__dask_graph__"
    )


def to_pandas(data: Any, *, what: str) -> tuple[pd.DataFrame, str]:
    """(``data`` as a pandas DataFrame, its kind) for a frame, a dict of columns or anything
    with ``__arrow_c_stream__``; ``what`` names the expected input in the TypeError."""
    kind = kind_of(data)
    if kind == "pandas":
        return data, kind
    if kind == "polars" or isinstance(data, pa.Table | pa.RecordBatch):
        return data.to_pandas(), kind
    if isinstance(data, dict):
        return pd.DataFrame(data), kind
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data).to_pandas(), kind
    raise ArgumentError(f"unsupported input {type(data).__name__}: expected {what}")


def _remember(frame: Any, metadata: dict[str, Any]) -> None:
    key = id(frame)
    forget = lambda _: _POLARS_METADATA.pop(key, None)  # noqa: E731
    _POLARS_METADATA[key] = (weakref.ref(frame, forget), dict(metadata))


def resolve(output: str, kind: str) -> str:
    """The output type for ``output`` ("auto" mirrors an input of ``kind``)."""
    if output not in OUTPUTS:
        raise ArgumentError(
            f"output must be one of {', '.join(map(repr, OUTPUTS))}, not {output!r}"
        )
    if output != "auto":
        return output
    return {"polars": "polars", "arrow": "arrow"}.get(kind, "pandas")


def _pandas_types(kind: pa.DataType) -> Any:
    return pd.ArrowDtype(kind) if pa.types.is_decimal(kind) else None


def convert(table: pa.Table, output: str, *, index: str | None, metadata: dict[str, Any]):
    """``table`` as ``output`` ("pandas", "polars" or "arrow"), with ``metadata`` attached."""
    if output == "arrow":
        return table.replace_schema_metadata({METADATA_KEY: json.dumps(metadata)})
    if output == "polars":
        import polars as pl

        frame = pl.from_arrow(table)
        _remember(frame, metadata)
        return frame
    frame = table.to_pandas(types_mapper=_pandas_types)
    if index is not None:
        frame = frame.set_index(index)
    frame.attrs[METADATA_KEY] = metadata
    return frame


def from_pandas(
    frame: pd.DataFrame, output: str, kind: str, metadata: dict[str, Any] | None = None
):
    """A result computed as a pandas frame, as ``output`` for an input of ``kind`` (its index
    becomes the first column of a polars or Arrow result)."""
    target = resolve(output, kind)
    if target == "pandas":
        if metadata is not None:
            frame.attrs[METADATA_KEY] = metadata
        return frame
    table = pa.Table.from_pandas(frame.reset_index())
    return convert(table, target, index=None, metadata=metadata or {})


def log_metadata(log: Any, freq: str, **fields: Any) -> dict[str, Any]:
    """The metadata of a result computed from a transaction log: its period kind, ``fields``
    and the rows dropped for nulls."""
    return {"freq": freq, **fields, "rows_dropped_null": log.dropped.get("nulls", 0)}


def metadata_of(frame: Any) -> dict[str, Any]:
    """custval metadata of a frame made by custval, or {} when it has none."""
    if isinstance(frame, pd.DataFrame):
        return dict(frame.attrs.get(METADATA_KEY, {}))
    if isinstance(frame, pa.Table | pa.RecordBatch):
        raw = (frame.schema.metadata or {}).get(METADATA_KEY.encode())
        return json.loads(raw) if raw else {}
    remembered = _POLARS_METADATA.get(id(frame))
    if remembered is not None and remembered[0]() is frame:
        return dict(remembered[1])
    return {}


def period_starts(column: pa.ChunkedArray | pa.Array, log: Any) -> pa.Array:
    """Period starts (int64 in the time unit of ``log``) as timestamps in the log's zone."""
    stamps = column.cast(pa.timestamp(log.time_unit))
    if log.timezone:
        stamps = pc.assume_timezone(
            stamps, log.timezone, ambiguous="earliest", nonexistent="earliest"
        )
    return stamps


def by_period(batch: pa.RecordBatch, name: str, log: Any, output: str, metadata: dict):
    """(the output type, a native result keyed by period in it): the ``name`` column (period
    starts in the time unit of ``log``) becomes timestamps, the pandas index."""
    table = pa.Table.from_batches([batch])
    table = table.set_column(0, name, period_starts(table.column(name), log))
    kind = resolve(output, log.kind)
    return kind, convert(table, kind, index=name, metadata=metadata)
