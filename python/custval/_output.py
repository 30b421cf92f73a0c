"""Native results → the caller's frame type, carrying custval's metadata."""

from __future__ import annotations

import json
import weakref
from typing import Any

import pandas as pd
import pyarrow as pa

OUTPUTS = ("auto", "pandas", "polars", "arrow")
METADATA_KEY = "custval"

# polars frames hold no metadata of their own, so custval remembers the metadata of the polars
# frames it returned, for as long as each lives (frames derived from them start without).
_POLARS_METADATA: dict[int, tuple[weakref.ref, dict[str, Any]]] = {}


def _remember(frame: Any, metadata: dict[str, Any]) -> None:
    key = id(frame)
    forget = lambda _: _POLARS_METADATA.pop(key, None)  # noqa: E731
    _POLARS_METADATA[key] = (weakref.ref(frame, forget), dict(metadata))


def resolve(output: str, kind: str) -> str:
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(map(repr, OUTPUTS))}, not {output!r}")
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
