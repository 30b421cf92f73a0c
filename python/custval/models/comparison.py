"""Which model? :func:`compare_models` puts purchase models (fitted, or named and fitted
here on the calibration columns) side by side on a holdout period, with a naive baseline."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from custval import _frames
from custval.exceptions import CustvalError
from custval.models.holdout import (
    _NO_PURCHASES,
    HoldoutMetrics,
    _baseline,
    _fitted,
    _Holdout,
    _metrics,
    _predict,
    _read_holdout,
    _unit,
)
from custval.models.inputs import _resolve_time_unit
from custval.models.purchase import (
    BetaGeo,
    BetaGeoBetaBinom,
    ModifiedBetaGeo,
    ParetoNBD,
    _PurchaseModel,
)

__all__ = ["MODELS", "compare_models"]

#: The model names :func:`compare_models` fits itself.
MODELS: dict[str, type[_PurchaseModel]] = {
    "bgnbd": BetaGeo,
    "mbgnbd": ModifiedBetaGeo,
    "pnbd": ParetoNBD,
    "bgbb": BetaGeoBetaBinom,
}
_SHORT = {cls: name for name, cls in MODELS.items()}


def _entries(models: Any) -> list[tuple[str, Any]]:
    """(row name, model or model name) for each of ``models``; names made unique."""
    if isinstance(models, str | _PurchaseModel):
        models = [models]
    if isinstance(models, Mapping):
        pairs = [(str(label), item) for label, item in models.items()]
    else:
        try:
            items = list(models)
        except TypeError:
            raise CustvalError(
                "models must be a list of fitted models or names, or a mapping of row names "
                f"to them, not {type(models).__name__}"
            ) from None
        pairs = [(_label(item), item) for item in items]
    if not pairs:
        raise CustvalError("models: give at least one model")
    seen = {"baseline": 1}  # the baseline's row
    out = []
    for label, item in pairs:
        seen[label] = seen.get(label, 0) + 1
        out.append((label if seen[label] == 1 else f"{label} ({seen[label]})", item))
    return out


def _label(item: Any) -> str:
    if isinstance(item, str):
        return item.lower()
    return _SHORT.get(type(item), type(item).__name__)


def _model_class(name: str) -> type[_PurchaseModel]:
    try:
        return MODELS[name.lower()]
    except KeyError:
        allowed = ", ".join(map(repr, MODELS))
        raise CustvalError(f"models: unknown model {name!r}; allowed: {allowed}") from None


def _fit_named(name: str, h: _Holdout, unit: dict[str, Any] | None) -> _PurchaseModel:
    cls = _model_class(name)
    try:
        return cls().fit(
            h.table, frequency="frequency_cal", recency="recency_cal", T="T_cal", time_unit=unit
        )
    except CustvalError as err:
        raise type(err)(
            f"models: {name!r} ({cls.__name__}) cannot apply to this table: {err}"
        ) from None


def compare_models(
    models: Any, calibration_holdout: Any, *, time_unit: Any = None, output: str = "auto"
):
    """Purchase models side by side on a holdout period, best first, with a naive baseline.

    One row per model plus ``baseline`` (frequency_cal / T_cal × duration_holdout), indexed
    by ``name``: ``model`` (class), ``parameters``, ``log_likelihood``, ``aic``, ``bic`` and
    the holdout ``mae``, ``rmse``, ``bias`` and ``relative_total_error`` of :func:`evaluate`,
    sorted by ``mae`` (the baseline has no parameters or likelihood: null). Models given by
    name are fitted on the table's calibration columns; the likelihood of a fitted model is
    that of its own fit.

    Parameters
    ----------
    models : list or mapping
        Fitted purchase models and/or names: "bgnbd" (:class:`~custval.BetaGeo`), "mbgnbd"
        (:class:`~custval.ModifiedBetaGeo`), "pnbd" (:class:`~custval.ParetoNBD`), "bgbb"
        (:class:`~custval.BetaGeoBetaBinom`, whole-number recency and T only); a mapping
        gives each its row name (else the short name, numbered when repeated).
    calibration_holdout : DataFrame, pyarrow Table, polars DataFrame or dict of arrays
        The table of :func:`custval.calibration_holdout`.
    time_unit : str, (str, float) or dict, optional
        The table's time unit when it has no custval metadata.
    output : {"auto", "pandas", "polars", "arrow"}
        Result type; "auto" mirrors the table (the index becomes the first column of a polars
        or Arrow result).

    Raises
    ------
    CustvalError
        An unknown name (the error lists the allowed ones), or a named model that cannot
        apply to the table (a :class:`DataError` or :class:`ConvergenceError` naming it).

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers"
       the Easy Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
    .. [2] Batislam, E. P., Denizel, M. and Filiztekin, A. (2007). Empirical validation and
       comparison of models for customer base analysis. International Journal of Research in
       Marketing 24(3), 201-209.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import simulate_transactions
    >>> log = simulate_transactions(3_000, seed=7)
    >>> table = custval.calibration_holdout(log, calibration_end="2024-06-30", freq="W")
    >>> frame = custval.compare_models(["bgnbd", "pnbd", "bgbb"], table)
    >>> sorted(frame.index)
    ['baseline', 'bgbb', 'bgnbd', 'pnbd']
    >>> frame.columns.tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['model', 'parameters', 'log_likelihood', 'aic', 'bic', 'mae', 'rmse', 'bias',
     'relative_total_error']
    >>> bool(frame["mae"].is_monotonic_increasing)
    True
    """
    entries = _entries(models)
    for _, item in entries:
        if isinstance(item, str):
            _model_class(item)
        else:
            _fitted(item, "models")
    h = _read_holdout(calibration_holdout, spend=False)
    unit = _resolve_time_unit(calibration_holdout, time_unit)
    for _, item in entries:
        if not isinstance(item, str):
            _unit(item, calibration_holdout, time_unit)
        elif unit is None:
            _unit(MODELS[item.lower()](), calibration_holdout, time_unit)  # raises
    rows = []
    for label, item in entries:
        model = _fit_named(item, h, unit) if isinstance(item, str) else item
        metrics = _metrics(_predict(model, h), h.actual)
        rows.append(
            {
                "name": label,
                "model": type(model).__name__,
                "parameters": dict(model.params_ or {}),
                "log_likelihood": model.log_likelihood_,
                "aic": model.aic_,
                "bic": model.bic_,
                **_errors(metrics),
            }
        )
    metrics = _metrics(_baseline(h), h.actual)
    rows.append({"name": "baseline", "model": "baseline", "parameters": None, **_errors(metrics)})
    if metrics.relative_total_error is None:
        warnings.warn(_NO_PURCHASES, UserWarning, stacklevel=2)
    frame = pd.DataFrame(rows).set_index("name")
    for column in ("log_likelihood", "aic", "bic", "relative_total_error"):
        frame[column] = frame[column].astype(np.float64)
    frame = frame.sort_values("mae", kind="stable")
    metadata = {"time_unit": unit, "customers": int(h.actual.size)}
    return _frames.from_pandas(frame, output, h.kind, metadata)


def _errors(metrics: HoldoutMetrics) -> dict[str, float | None]:
    return {
        "mae": metrics.mae,
        "rmse": metrics.rmse,
        "bias": metrics.bias,
        "relative_total_error": metrics.relative_total_error,
    }
