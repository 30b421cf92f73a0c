"""What the models read: per-customer summaries or arrays and their time unit, and the input
contract, checked in one place (:func:`_rfm_columns`): a summary of repeat purchases (not
``include_first``), no NaN or negatives, integer frequency, recency ≤ T, recency = 0 when
frequency = 0. The rules themselves are written once, in the native core (``valid_history``),
which counts them for :func:`_validate_rfm` and checks them inside the P(alive) kernels."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custval import _frames, _input, _native
from custval.exceptions import ArgumentError, DataError, SchemaError


def _parse_time_unit(time_unit: Any) -> dict[str, Any] | None:
    """``"W"``, ``("D", 7)`` or ``{"freq": "D", "freq_multiplier": 7}`` → the dict form."""
    if time_unit is None:
        return None
    if isinstance(time_unit, str):
        freq, multiplier = time_unit, 1.0
    elif isinstance(time_unit, Mapping):
        freq = time_unit.get("freq")
        multiplier = time_unit.get("freq_multiplier", 1.0)
    else:
        try:
            freq, multiplier = time_unit
        except (TypeError, ValueError):
            raise ArgumentError(
                "time_unit must be a freq string ('D'), a (freq, freq_multiplier) pair or a "
                f"dict with 'freq' and 'freq_multiplier', not {time_unit!r}"
            ) from None
    if freq is None:
        return None
    multiplier = float(multiplier)
    _native.time_unit_factor(freq, freq, multiplier)  # validates both
    return {"freq": freq, "freq_multiplier": multiplier}


def _metadata(data: Any) -> dict[str, Any]:
    return _frames.metadata_of(data) if data is not None else {}


def _check_not_include_first(meta: Mapping[str, Any]) -> None:
    if meta.get("include_first"):
        raise DataError(
            "the summary was made with include_first=True, but the models count repeat "
            "purchases only: make it with rfm_summary(..., include_first=False)"
        )


def _resolve_time_unit(data: Any, time_unit: Any) -> dict[str, Any] | None:
    given = _parse_time_unit(time_unit)
    if given is not None:
        return given
    meta = _metadata(data)
    return _parse_time_unit(meta) if meta.get("freq") else None


def _float_column(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        if not pa.types.is_boolean(kind):
            raise SchemaError(f"expected a numeric column, got {kind}")
    values = pc.cast(column, pa.float64())
    if isinstance(values, pa.ChunkedArray):
        values = _input._as_array(values)
    return np.ascontiguousarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def _as_float_array(values: Any, name: str) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return _float_column(values)
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ArgumentError(f"{name} must be numeric") from None
    return array


class _Columns:
    """Numeric columns of a summary (or arrays), the input's kind and its pandas index."""

    def __init__(self, data: Any, roles: dict[str, Any]):
        self.kind = "other"
        self.index: pd.Index | None = None
        self.values: dict[str, np.ndarray] = {}
        table = None
        if data is not None:
            wanted = list(dict.fromkeys(v for v in roles.values() if isinstance(v, str)))
            if isinstance(data, pd.DataFrame):
                self.index = data.index
                data, wanted = self._take_numpy(data, roles, wanted)
            source = _input.read_table(data, wanted)
            self.kind, table = source.kind, source.table
        for role, value in roles.items():
            if value is None or role in self.values:
                continue
            if not isinstance(value, str):
                self.values[role] = _as_float_array(value, role)
            elif table is None:
                raise ArgumentError(
                    f"{role}={value!r} names a column, but no summary was given: pass the "
                    "summary first or arrays for every column"
                )
            else:
                try:
                    self.values[role] = _float_column(table.column(value))
                except SchemaError as err:
                    raise SchemaError(f"column {value!r}: {err}") from None
        self._broadcast()

    def _take_numpy(
        self, frame: pd.DataFrame, roles: dict[str, Any], wanted: list[str]
    ) -> tuple[pd.DataFrame, list[str]]:
        """Takes the frame's plain NumPy numeric columns as they are (Arrow's `from_pandas`
        scans each for NaN, which costs more than a prediction); returns what is left to read.
        NaN stays NaN here and the RFM check counts it as Arrow's nulls would be."""
        plain = {
            name
            for name in wanted
            if name in frame.columns
            and isinstance(frame[name].dtype, np.dtype)
            and frame[name].dtype.kind in "iufb"
        }
        for role, value in roles.items():
            if isinstance(value, str) and value in plain:
                self.values[role] = frame[value].to_numpy(dtype=np.float64)
        return frame, [name for name in wanted if name not in plain]

    def _broadcast(self) -> None:
        if not self.values:
            return
        try:
            arrays = np.broadcast_arrays(*self.values.values())
        except ValueError:
            shapes = {role: np.shape(v) for role, v in self.values.items()}
            raise ArgumentError(f"columns have incompatible shapes: {shapes}") from None
        self.shape = arrays[0].shape
        for role, array in zip(list(self.values), arrays, strict=True):
            self.values[role] = np.ascontiguousarray(array.ravel(), dtype=np.float64)

    def __getitem__(self, role: str) -> np.ndarray:
        return self.values[role]

    def get(self, role: str) -> np.ndarray | None:
        return self.values.get(role)


def _count(mask: np.ndarray) -> int:
    return int(np.count_nonzero(mask))


def _check_finite_nonneg(name: str, values: np.ndarray) -> None:
    bad = _count(np.isnan(values))
    if bad:
        raise DataError(f"column {name!r}: NaN or null values ({bad} rows)")
    bad = _count(~np.isfinite(values))
    if bad:
        raise DataError(f"column {name!r}: infinite values ({bad} rows)")
    bad = _count(values < 0)
    if bad:
        raise DataError(f"column {name!r}: negative values ({bad} rows)")


def _validate_rfm(cols: _Columns, names: Mapping[str, str]) -> None:
    """The RFM contract: no NaN or negatives, integer frequency, recency ≤ T, recency = 0
    when frequency = 0 (errors name the column and the number of rows). The rows are counted
    in one native pass."""
    found = _native.rfm_violations(cols["frequency"], cols["recency"], cols["T"])
    raise_violations(found, names)


def raise_violations(found: Mapping[str, Any], names: Mapping[str, str]) -> None:
    """Raises the first broken rule of the RFM contract among ``found`` (the row counts of
    ``_native.rfm_violations``, of one summary or added over its parts)."""
    for k, role in enumerate(("frequency", "recency", "T")):
        name = names[role]
        if found["nan"][k]:
            raise DataError(f"column {name!r}: NaN or null values ({found['nan'][k]} rows)")
        if found["infinite"][k]:
            raise DataError(f"column {name!r}: infinite values ({found['infinite'][k]} rows)")
        if found["negative"][k]:
            raise DataError(f"column {name!r}: negative values ({found['negative'][k]} rows)")
    bad = found["fractional_frequency"]
    if bad:
        raise DataError(f"column {names['frequency']!r}: non-integer frequency ({bad} rows)")
    bad = found["recency_above_t"]
    if bad:
        raise DataError(
            f"column {names['recency']!r}: recency greater than {names['T']!r} ({bad} rows)"
        )
    bad = found["recency_without_repeats"]
    if bad:
        raise DataError(
            f"column {names['recency']!r}: recency must be 0 when frequency is 0 ({bad} rows)"
        )


def _rfm_columns(summary: Any, roles: dict[str, Any], *, native_check: bool = False) -> _Columns:
    """The ``roles`` columns of a per-customer summary (or arrays), the RFM contract checked:
    the summary counts repeat purchases only (not ``include_first``) and
    ``frequency``/``recency``/``T`` obey :func:`_validate_rfm`.

    ``native_check``: the caller passes the columns to a native kernel that checks the same
    contract in the pass that computes its answer (one read of the columns instead of two),
    inside :func:`_naming_columns`; the columns are not checked here."""
    _check_not_include_first(_metadata(summary))
    cols = _Columns(summary, roles)
    if not native_check:
        _validate_rfm(cols, _names(roles))
    return cols


@contextmanager
def _checked_again(check: Callable[[], None]) -> Iterator[None]:
    """Around a native call that checks its columns in the pass computing its answer (one
    read of the columns instead of two): its ``DataError`` counts bad rows by role, so on
    one ``check`` runs the Python check, which raises the error worded for the caller (the
    caller's column name, NaN or negative). Should that pass, the native error stands."""
    try:
        yield
    except DataError:
        check()
        raise


def _naming_columns(cols: _Columns, roles: Mapping[str, Any]) -> AbstractContextManager[None]:
    """:func:`_checked_again` with the RFM contract (:func:`_validate_rfm`)."""
    return _checked_again(lambda: _validate_rfm(cols, _names(roles)))


def _collapsed(summary: Any, roles: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A Dask summary → its unique rows of the ``roles`` columns with their customer counts as
    ``weights``, counted in the workers (see :func:`custval.dask.models.unique_rows`): what
    the native fit compresses a summary to anyway, so the fit is the same to the bit. Any
    other summary is returned as is."""
    if not _frames.is_dask(summary):
        return summary, roles
    from custval.dask.models import unique_rows  # dask is optional: imported only for it

    return unique_rows(summary, roles)


def _names(roles: Mapping[str, Any]) -> dict[str, str]:
    """What errors call each role: its column name, or the role for arrays."""
    return {role: (value if isinstance(value, str) else role) for role, value in roles.items()}


def _weights(cols: _Columns) -> np.ndarray | None:
    w = cols.get("weights")
    if w is not None:
        bad = _count(~np.isfinite(w) | (w < 0))
        if bad:
            raise DataError(f"column 'weights': negative, NaN or infinite weights ({bad} rows)")
    return w


def _shaped(values: np.ndarray, shape: tuple[int, ...]) -> Any:
    out = values.reshape(shape)
    return float(out) if out.ndim == 0 else out


def _scalar(value: Any, name: str) -> float:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 0 and array.size != 1:
        raise ArgumentError(f"{name} must be a scalar, got shape {array.shape}")
    out = float(array.reshape(()))
    if not (math.isfinite(out) and out >= 0):
        raise ArgumentError(f"{name} must be finite and ≥ 0, got {out}")
    return out
