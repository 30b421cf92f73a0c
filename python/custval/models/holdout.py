"""The calibration/holdout table as the evaluation reads it, and the metrics computed on it.

:func:`_read_holdout` reads and checks the table's columns once; :func:`_predict` asks the
model for each customer's conditional expected purchases over ``duration_holdout`` (computed
once per unique row in Rust); the metrics (errors, conditional-expectation table, normalized
Gini and deciles) are vectorised NumPy. Shared by :mod:`.evaluation`, :mod:`.comparison` and
:mod:`.risk`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from custval import _input
from custval.exceptions import ColumnNotFoundError, CustvalError, DataError, SchemaError
from custval.models.inputs import (
    _check_finite_nonneg,
    _check_not_include_first,
    _Columns,
    _metadata,
    _names,
    _resolve_time_unit,
    _validate_rfm,
)
from custval.models.purchase import _PurchaseModel
from custval.models.spend import GammaGamma

_CALIBRATION = {"frequency": "frequency_cal", "recency": "recency_cal", "T": "T_cal"}
_HOLDOUT = {"actual": "frequency_holdout", "duration": "duration_holdout"}
_SPEND = {"spend_cal": "monetary_value_cal", "spend_holdout": "monetary_value_holdout"}
_NO_PURCHASES = (
    "calibration_holdout has no holdout purchases (frequency_holdout is 0 for every customer): "
    "the relative total error and the normalized Gini are undefined (None)"
)


def _named(argument: str, err: CustvalError) -> CustvalError:
    """``err`` again, its message led by the argument it is about."""
    return type(err)(f"{argument}: {err}")


def _fitted(model: Any, argument: str) -> _PurchaseModel:
    """``model`` checked to be a fitted purchase model (the error names ``argument``)."""
    if not isinstance(model, _PurchaseModel):
        raise CustvalError(
            f"{argument} must be a fitted BetaGeo, ModifiedBetaGeo, ParetoNBD or "
            f"BetaGeoBetaBinom, not {type(model).__name__}"
        )
    if model.params_ is None:
        raise CustvalError(
            f"{argument}: {type(model).__name__} is not fitted: call fit() or from_dict() first"
        )
    return model


def _spend_model(spend_model: Any) -> GammaGamma | None:
    if spend_model is None:
        return None
    if not isinstance(spend_model, GammaGamma):
        raise CustvalError(
            f"spend_model must be a fitted GammaGamma, not {type(spend_model).__name__}"
        )
    if spend_model.params_ is None:
        raise CustvalError("spend_model: GammaGamma is not fitted: call fit() or from_dict() first")
    return spend_model


def _unit(model: _PurchaseModel, data: Any, time_unit: Any) -> dict[str, Any]:
    """The time unit of the holdout: the table's (``time_unit=`` or its metadata), checked
    against the model's (:meth:`_PurchaseModel._unit_for`)."""
    if model.time_unit_ is None and _resolve_time_unit(data, time_unit) is None:
        raise CustvalError(
            "time_unit: neither calibration_holdout (a frame without custval metadata) nor the "
            "model knows its time unit: pass time_unit= (e.g. 'W' or ('D', 7))"
        )
    return model._unit_for(data, time_unit)


# -- the table --------------------------------------------------------------------------------


@dataclass
class _Holdout:
    """The columns of a calibration/holdout table, read and checked once."""

    table: pa.Table  # the columns read, for fitting named models
    kind: str
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    actual: np.ndarray
    duration: np.ndarray
    constant_duration: float | None
    spend_cal: np.ndarray | None
    spend_holdout: np.ndarray | None


def _read_holdout(data: Any, *, spend: bool) -> _Holdout:
    try:
        _check_not_include_first(_metadata(data))
    except DataError as err:
        raise _named("calibration_holdout", err) from None
    roles = {**_CALIBRATION, **_HOLDOUT, **(_SPEND if spend else {})}
    try:
        source = _input.read_table(data, list(roles.values()))
    except ColumnNotFoundError as err:
        if spend and any(f"column {c!r} not found" in str(err) for c in _SPEND.values()):
            raise CustvalError(
                "spend_model: calibration_holdout has no monetary_value_cal and "
                "monetary_value_holdout columns: make it with calibration_holdout(..., amount=)"
            ) from None
        raise ColumnNotFoundError(
            f"calibration_holdout: {err}; make the table with custval.calibration_holdout"
        ) from None
    try:
        cols = _Columns(source.table, roles)
        names = _names(roles)
        _validate_rfm(cols, names)
        for role in _HOLDOUT:
            _check_finite_nonneg(names[role], cols[role])
        if spend:
            _check_spend(cols)
    except (DataError, SchemaError) as err:
        raise _named("calibration_holdout", err) from None
    duration = cols["duration"]
    if duration.size == 0:
        raise DataError("calibration_holdout has no customers")
    first = float(duration[0])
    constant = first if bool(np.all(duration == first)) else None
    return _Holdout(
        table=source.table,
        kind=source.kind,
        frequency=cols["frequency"],
        recency=cols["recency"],
        T=cols["T"],
        actual=cols["actual"],
        duration=duration,
        constant_duration=constant,
        spend_cal=cols.get("spend_cal"),
        spend_holdout=cols.get("spend_holdout"),
    )


def _check_spend(cols: _Columns) -> None:
    """Mean spends may be missing only where there is nothing to average."""
    for role, count in (("spend_cal", "frequency"), ("spend_holdout", "actual")):
        bad = int(np.count_nonzero(np.isnan(cols[role]) & (cols[count] > 0)))
        if bad:
            raise DataError(f"column {_SPEND[role]!r}: NaN or null values ({bad} rows)")


def _predict(model: _PurchaseModel, h: _Holdout) -> np.ndarray:
    """Conditional expected purchases over each customer's ``duration_holdout``."""
    if h.constant_duration is not None:
        out = model.conditional_expected_purchases(h.constant_duration, h.frequency, h.recency, h.T)
        return np.asarray(out, dtype=np.float64)
    out = np.empty(h.frequency.size)
    for duration in np.unique(h.duration):
        rows = h.duration == duration
        out[rows] = model.conditional_expected_purchases(
            float(duration), h.frequency[rows], h.recency[rows], h.T[rows]
        )
    return out


def _baseline(h: _Holdout) -> np.ndarray:
    """frequency_cal / T_cal × duration_holdout, 0 when T_cal = 0."""
    rate = np.zeros(h.T.size)
    np.divide(h.frequency, h.T, out=rate, where=h.T > 0)
    return rate * h.duration


# -- the metrics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldoutMetrics:
    """Errors of per-customer predicted holdout purchases: e = predicted − actual.

    ``mae`` = mean |e|, ``rmse`` = √mean e², ``bias`` = mean e, the totals over customers and
    ``relative_total_error`` = (predicted_total − actual_total) / actual_total (``None`` when
    there are no holdout purchases).
    """

    mae: float
    rmse: float
    bias: float
    predicted_total: float
    actual_total: float
    relative_total_error: float | None

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)


def _metrics(predicted: np.ndarray, actual: np.ndarray) -> HoldoutMetrics:
    error = predicted - actual
    n = error.size
    predicted_total, actual_total = float(predicted.sum()), float(actual.sum())
    return HoldoutMetrics(
        mae=float(np.abs(error).sum() / n),
        rmse=math.sqrt(float(np.dot(error, error)) / n),
        bias=float(error.sum() / n),
        predicted_total=predicted_total,
        actual_total=actual_total,
        relative_total_error=(
            (predicted_total - actual_total) / actual_total if actual_total > 0 else None
        ),
    )


def _means(groups: np.ndarray, size: int, **values: np.ndarray) -> pd.DataFrame:
    """Customers and the mean of each of ``values`` per group 0..size−1 (NaN: no customers)."""
    counts = np.bincount(groups, minlength=size)
    out: dict[str, np.ndarray] = {"customers": counts}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, v in values.items():
            out[name] = np.bincount(groups, weights=v, minlength=size) / counts
    return pd.DataFrame(out)


def _conditional_expectation(
    frequency: np.ndarray, actual: np.ndarray, predicted: np.ndarray, max_frequency: int
) -> pd.DataFrame:
    groups = np.minimum(frequency, max_frequency).astype(np.int64)
    table = _means(groups, max_frequency + 1, actual_mean=actual, predicted_mean=predicted)
    labels = [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]
    table.index = pd.Index(labels, name="frequency_cal")
    return table


def _tie_means(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` with each run of equal ``keys`` (sorted) replaced by the run's mean."""
    if keys.size == 0:
        return values
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    counts = np.diff(np.r_[starts, keys.size])
    return np.repeat(np.add.reduceat(values, starts) / counts, counts)


def _ranking(predicted: np.ndarray, actual: np.ndarray) -> tuple[float | None, pd.DataFrame]:
    """Normalized Gini of ``actual`` ranked by ``predicted``, and the decile table.

    Customers are sorted by prediction, descending; those with equal predictions share the
    mean of their actual values, so the figures do not depend on the rows' order. Gini of an
    ordering = 2 × mean cumulative share of the actual total − 1; normalized = Gini(ordered by
    prediction) / Gini(ordered by actual).
    """
    n = predicted.size
    order = np.argsort(-predicted)  # any order of ties: they share their mean below
    ranked_prediction = predicted[order]
    ranked_actual = _tie_means(ranked_prediction, actual[order])
    sizes = n // 10 + (np.arange(10) < n % 10)  # as np.array_split: the first are larger
    deciles = _means(
        np.repeat(np.arange(10), sizes),
        10,
        predicted_mean=ranked_prediction,
        actual_mean=ranked_actual,
    )
    deciles.index = pd.RangeIndex(1, 11, name="decile")
    total = float(actual.sum())
    if not total > 0:
        return None, deciles
    model = 2.0 * float(np.cumsum(ranked_actual).sum()) / (n * total) - 1.0
    best = 2.0 * float(np.cumsum(np.sort(actual)[::-1]).sum()) / (n * total) - 1.0
    return model / best, deciles
