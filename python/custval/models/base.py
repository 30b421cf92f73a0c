"""What every fitted model shares: fit results, the summary table and (de)serialisation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from custval import _display, _native
from custval.exceptions import CustvalError
from custval.models.inputs import _parse_time_unit

_FIT_DEFAULTS = {"max_iter": 1000, "tol": 1e-8}


class _Fitted:
    """Fit results and (de)serialisation shared by every model."""

    _native_name: str = ""
    _param_names: tuple[str, ...] = ()
    _aliases: Mapping[str, str] = {}

    def __init__(self) -> None:
        self.params_: dict[str, float] | None = None
        self.standard_errors_: dict[str, float] | None = None
        self.confidence_intervals_: dict[str, tuple[float, float]] | None = None
        self.log_likelihood_: float | None = None
        self.aic_: float | None = None
        self.bic_: float | None = None
        self.iterations_: int | None = None
        self.converged_: bool | None = None
        self.n_unique_: int | None = None
        self.n_obs_: float | None = None
        self.penalizer_: float = 0.0
        self.time_unit_: dict[str, Any] | None = None

    # -- fit results -------------------------------------------------------------------------
    def _set_fit(self, result: Mapping[str, Any]) -> None:
        names = list(result["param_names"])
        self.params_ = dict(zip(names, result["params"], strict=True))
        self.standard_errors_ = dict(zip(names, result["standard_errors"], strict=True))
        self.confidence_intervals_ = {
            n: (lo, hi)
            for n, lo, hi in zip(names, result["ci_lower"], result["ci_upper"], strict=True)
        }
        self.log_likelihood_ = float(result["log_likelihood"])
        self.aic_ = float(result["aic"])
        self.bic_ = float(result["bic"])
        self.iterations_ = int(result["iterations"])
        self.converged_ = bool(result["converged"])
        self.n_unique_ = int(result["n_unique"])
        self.n_obs_ = float(result["n_obs"])

    def _fit_native(self, columns: list[np.ndarray], weights: np.ndarray | None) -> dict:
        return _native.fit_model(
            self._native_name,
            columns,
            weights,
            penalizer=float(self.penalizer_),
            **_FIT_DEFAULTS,
        )

    def _require_fit(self) -> list[float]:
        if self.params_ is None:
            raise CustvalError(
                f"{type(self).__name__} is not fitted: call fit() or from_dict() first"
            )
        return [float(self.params_[n]) for n in self._param_names]

    def _stats(self) -> dict[str, Any]:
        return {
            "log_likelihood": self.log_likelihood_,
            "aic": self.aic_,
            "bic": self.bic_,
            "iterations": self.iterations_,
            "converged": self.converged_,
            "n_obs": self.n_obs_,
            "n_unique": self.n_unique_,
            "penalizer": self.penalizer_,
        }

    def summary(self) -> pd.DataFrame:
        """Estimates, standard errors and 95 % confidence intervals, one row per parameter.

        The fit statistics (log-likelihood, AIC, BIC, iterations, customers, unique rows, …)
        are in the frame's ``attrs``.
        """
        self._require_fit()
        frame = _summary_frame(
            self.params_, self.standard_errors_, self.confidence_intervals_, self._param_names
        )
        frame.attrs.update({k: v for k, v in self._stats().items() if v is not None})
        return frame

    def __repr__(self) -> str:
        if self.params_ is None:
            return f"{type(self).__name__}()"
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        extra = f", log_likelihood={self.log_likelihood_:.2f}" if self.log_likelihood_ else ""
        return f"{type(self).__name__}({params}{extra})"

    def _display_parts(self) -> tuple[str, list[tuple], list[tuple[str, str]]]:
        """(caption, parameter rows, fit statistics) of the rich display."""
        frame = self.summary()
        rows = [
            (
                " / ".join(map(str, label)) if isinstance(label, tuple) else str(label),
                *(
                    frame.loc[label, c]
                    for c in ("estimate", "standard_error", "lower_95", "upper_95")
                ),
            )
            for label in frame.index
        ]
        stats = frame.attrs
        unit = _display.time_unit_text(self.time_unit_) if self.time_unit_ else "unknown"
        facts = [
            ("log-likelihood", _display.number(stats.get("log_likelihood"))),
            ("AIC", _display.number(stats.get("aic"))),
            ("BIC", _display.number(stats.get("bic"))),
            ("customers", _display.count(stats.get("n_obs"))),
            ("unique rows", _display.count(stats.get("n_unique"))),
            ("iterations", _display.count(stats.get("iterations"))),
            ("converged", {True: "yes", False: "NO"}.get(stats.get("converged"), "—")),
            ("time unit", unit),
        ]
        if stats.get("penalizer"):
            facts.append(("penalizer", _display.number(stats["penalizer"])))
        facts = [(k, v) for k, v in facts if v != "—"]
        return f"{type(self).__name__}, maximum-likelihood fit", rows, facts

    def _repr_html_(self) -> str:
        """Parameters with standard errors and 95 % intervals, then the fit statistics."""
        if self.params_ is None and getattr(self, "_by_cohort", None) is None:
            return _display.paragraph(f"{type(self).__name__} (not fitted)")
        caption, rows, facts = self._display_parts()
        header = ["parameter", "estimate", "std. error", "lower 95 %", "upper 95 %"]
        return _display.block(
            _display.html_table(header, rows, caption=caption),
            _display.html_table(["fit", ""], facts),
        )

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The model as plain JSON types: parameters, time unit and fit statistics."""
        self._require_fit()
        out: dict[str, Any] = {
            "model": type(self).__name__,
            "params": dict(self.params_ or {}),
            "time_unit": self.time_unit_,
            "standard_errors": self.standard_errors_,
            "confidence_intervals": (
                {k: list(v) for k, v in self.confidence_intervals_.items()}
                if self.confidence_intervals_
                else None
            ),
        }
        out.update(self._stats())
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, time_unit: Any = None):
        """A model from :meth:`to_dict`'s output or from a plain parameter mapping.

        Plain mappings may come from lifetimes or pymc-marketing (Gamma-Gamma's ``v`` is
        read as ``gamma``); a pandas Series of parameters works too.
        """
        model = cls()
        data = dict(data)
        if "params" in data and isinstance(data["params"], Mapping):
            if data.get("model", cls.__name__) != cls.__name__:
                raise CustvalError(f"this is a {data['model']} model, not a {cls.__name__}")
            model._load(data)
        else:
            model.params_ = model._read_params(data)
        if time_unit is not None:
            model.time_unit_ = _parse_time_unit(time_unit)
        return model

    def _read_params(self, raw: Mapping[str, Any]) -> dict[str, float]:
        params = {self._aliases.get(str(k), str(k)): v for k, v in raw.items()}
        missing = [n for n in self._param_names if n not in params]
        if missing:
            raise CustvalError(
                f"{type(self).__name__} needs parameters {', '.join(self._param_names)}; "
                f"missing {', '.join(missing)}"
            )
        out = {n: float(params[n]) for n in self._param_names}
        bad = [n for n, v in out.items() if not (math.isfinite(v) and v > 0)]
        if bad:
            raise CustvalError(f"parameters must be finite and > 0: {', '.join(bad)}")
        return out

    def _load(self, data: Mapping[str, Any]) -> None:
        self.params_ = self._read_params(data["params"])
        self.time_unit_ = _parse_time_unit(data.get("time_unit"))
        se = data.get("standard_errors")
        self.standard_errors_ = {k: float(v) for k, v in se.items()} if se else None
        ci = data.get("confidence_intervals")
        self.confidence_intervals_ = (
            {k: (float(v[0]), float(v[1])) for k, v in ci.items()} if ci else None
        )
        for key in ("log_likelihood", "aic", "bic", "n_obs"):
            value = data.get(key)
            setattr(self, f"{key}_", None if value is None else float(value))
        for key in ("iterations", "n_unique"):
            value = data.get(key)
            setattr(self, f"{key}_", None if value is None else int(value))
        converged = data.get("converged")
        self.converged_ = None if converged is None else bool(converged)
        self.penalizer_ = float(data.get("penalizer") or 0.0)


def _summary_frame(params, errors, intervals, names) -> pd.DataFrame:
    rows = []
    for n in names:
        lo, hi = (intervals or {}).get(n, (math.nan, math.nan))
        rows.append(
            {
                "estimate": params[n],
                "standard_error": (errors or {}).get(n, math.nan),
                "lower_95": lo,
                "upper_95": hi,
            }
        )
    return pd.DataFrame(rows, index=pd.Index(list(names), name="parameter"))
