"""Buy-till-you-die purchase models and the Gamma-Gamma spend model.

Every model is fitted by maximum likelihood in custval's Rust core (the GIL released, on
custval's thread pool) on the unique ``(frequency, recency, T)`` rows of a per-customer summary,
and predicts vectorised over customers (NumPy arrays in, NumPy arrays out), computing each
unique row once.

Fitted models report ``params_`` (keyed by the papers' parameter names), ``log_likelihood_``,
``standard_errors_``, 95 % ``confidence_intervals_``, ``aic_``, ``bic_``, ``iterations_``,
``converged_`` and ``n_unique_`` (rows after compression); :meth:`summary` tabulates them.
Models pickle, and round-trip through :meth:`to_dict` / :meth:`from_dict` (plain JSON types).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custval import _input, _native, _output
from custval.exceptions import ColumnNotFoundError, CustvalError, DataError, SchemaError

__all__ = [
    "BetaGeo",
    "BetaGeoBetaBinom",
    "GammaGamma",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "ShiftedBetaGeo",
]

_FIT_DEFAULTS = {"max_iter": 1000, "tol": 1e-8}


# --------------------------------------------------------------------------------------------
# Input handling


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
            raise TypeError(
                "time_unit must be a freq string ('D'), a (freq, freq_multiplier) pair or a "
                f"dict with 'freq' and 'freq_multiplier', not {time_unit!r}"
            ) from None
    if freq is None:
        return None
    multiplier = float(multiplier)
    _native.time_unit_factor(freq, freq, multiplier)  # validates both
    return {"freq": freq, "freq_multiplier": multiplier}


def _metadata(data: Any) -> dict[str, Any]:
    return _output.metadata_of(data) if data is not None else {}


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
            raise TypeError(f"expected a numeric column, got {kind}")
    values = pc.cast(column, pa.float64())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return np.ascontiguousarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def _as_float_array(values: Any, name: str) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return _float_column(values)
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numeric") from None
    return array


class _Columns:
    """Numeric columns of a summary (or arrays), the input's kind and its pandas index."""

    def __init__(self, data: Any, roles: dict[str, Any]):
        self.kind = "other"
        self.index: pd.Index | None = None
        self.table: pa.Table | None = None
        self.values: dict[str, np.ndarray] = {}
        if data is None:
            for role, value in roles.items():
                if value is None:
                    continue
                if isinstance(value, str):
                    raise TypeError(
                        f"{role}={value!r} names a column, but no summary was given: pass the "
                        "summary first or arrays for every column"
                    )
                self.values[role] = _as_float_array(value, role)
            self._broadcast()
            return
        names = {role: v for role, v in roles.items() if isinstance(v, str)}
        wanted = list(dict.fromkeys(names.values()))
        source = _input.read_table(data, wanted)
        self.kind = source.kind
        self.table = source.table
        if isinstance(data, pd.DataFrame):
            self.index = data.index
        for role, value in roles.items():
            if value is None:
                continue
            if isinstance(value, str):
                try:
                    self.values[role] = _float_column(source.table.column(value))
                except TypeError as err:
                    raise SchemaError(f"column {value!r}: {err}") from None
            else:
                self.values[role] = _as_float_array(value, role)
        self._broadcast()

    def _broadcast(self) -> None:
        if not self.values:
            return
        try:
            arrays = np.broadcast_arrays(*self.values.values())
        except ValueError:
            shapes = {role: np.shape(v) for role, v in self.values.items()}
            raise ValueError(f"columns have incompatible shapes: {shapes}") from None
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
    when frequency = 0 (errors name the column and the number of rows)."""
    x, tx, t = cols["frequency"], cols["recency"], cols["T"]
    for role in ("frequency", "recency", "T"):
        _check_finite_nonneg(names[role], cols[role])
    bad = _count(x != np.floor(x))
    if bad:
        raise DataError(f"column {names['frequency']!r}: non-integer frequency ({bad} rows)")
    bad = _count(tx > t * (1 + 1e-12) + 1e-12)
    if bad:
        raise DataError(
            f"column {names['recency']!r}: recency greater than {names['T']!r} ({bad} rows)"
        )
    bad = _count((x == 0) & (tx != 0))
    if bad:
        raise DataError(
            f"column {names['recency']!r}: recency must be 0 when frequency is 0 ({bad} rows)"
        )


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
        raise ValueError(f"{name} must be a scalar, got shape {array.shape}")
    out = float(array.reshape(()))
    if not (math.isfinite(out) and out >= 0):
        raise ValueError(f"{name} must be finite and ≥ 0, got {out}")
    return out


def _plain(value: Any) -> Any:
    """NumPy scalars → Python scalars (for JSON)."""
    return value.item() if isinstance(value, np.generic) else value


# --------------------------------------------------------------------------------------------
# The shared machinery


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
    frame = pd.DataFrame(rows, index=pd.Index(list(names), name="parameter"))
    return frame


class _PurchaseModel(_Fitted):
    """Models of repeat purchases fitted on (frequency, recency, T)."""

    def fit(
        self,
        summary: Any = None,
        *,
        frequency: Any = "frequency",
        recency: Any = "recency",
        T: Any = "T",
        weights: Any = None,
        penalizer: float = 0.0,
        time_unit: Any = None,
    ):
        """Maximum-likelihood fit on a per-customer summary (or on arrays).

        Parameters
        ----------
        summary : DataFrame, pyarrow Table, polars DataFrame or None
            Per-customer summary, e.g. from :func:`custval.rfm_summary`; ``None`` when
            ``frequency``, ``recency`` and ``T`` are arrays.
        frequency, recency, T : str or array-like
            Column names in ``summary``, or arrays.
        weights : str or array-like, optional
            Number of customers each row stands for (a column name or an array).
        penalizer : float
            L2 penalty on the parameters (lifetimes' ``penalizer_coef``); 0 = plain MLE.
        time_unit : str, (str, float) or dict, optional
            The time unit of ``recency`` and ``T`` (``"W"``, ``("D", 7)``); by default read
            from the summary's metadata.

        Returns
        -------
        self

        Raises
        ------
        DataError
            The input breaks the RFM contract (NaN, negatives, recency > T, recency ≠ 0 when
            frequency = 0) or the summary was made with ``include_first=True``.
        ConvergenceError
            The optimiser did not converge or the data do not identify the model.
        """
        meta = _metadata(summary)
        _check_not_include_first(meta)
        roles = {"frequency": frequency, "recency": recency, "T": T, "weights": weights}
        cols = _Columns(summary, roles)
        names = {r: (v if isinstance(v, str) else r) for r, v in roles.items()}
        _validate_rfm(cols, names)
        w = _weights(cols)
        self.penalizer_ = float(penalizer)
        result = self._fit_native([cols["frequency"], cols["recency"], cols["T"]], w)
        self._set_fit(result)
        self.time_unit_ = _resolve_time_unit(summary, time_unit)
        return self

    def _history(self, frequency, recency, T) -> _Columns:
        cols = _Columns(None, {"frequency": frequency, "recency": recency, "T": T})
        _validate_rfm(cols, {"frequency": "frequency", "recency": "recency", "T": "T"})
        return cols

    def conditional_expected_purchases(self, t: float, frequency, recency, T):
        """Expected repeat purchases in the next ``t`` time units given each history.

        Arrays broadcast against each other; the result has their broadcast shape (a float
        for scalars). Computed once per unique ``(frequency, recency, T)`` row.
        """
        params = self._require_fit()
        cols = self._history(frequency, recency, T)
        out = _native.conditional_expected_purchases(
            self._native_name,
            params,
            _scalar(t, "t"),
            cols["frequency"],
            cols["recency"],
            cols["T"],
        )
        return _shaped(out, cols.shape)

    def p_alive(self, frequency, recency, T, *, t: float = 0.0):
        """Probability that each customer is still alive at ``T`` (or at ``T + t``, given no
        purchase in between)."""
        params = self._require_fit()
        cols = self._history(frequency, recency, T)
        out = _native.p_alive(
            self._native_name,
            params,
            cols["frequency"],
            cols["recency"],
            cols["T"],
            _scalar(t, "t"),
        )
        return _shaped(out, cols.shape)

    def expected_purchases(self, t):
        """Expected repeat purchases of a new customer in ``(0, t]`` (``t`` scalar or array)."""
        params = self._require_fit()
        tt = np.asarray(t, dtype=np.float64)
        out = _native.expected_purchases(
            self._native_name, params, np.ascontiguousarray(tt.ravel())
        )
        return _shaped(out, tt.shape)

    def predict(
        self,
        summary: Any,
        t: float,
        *,
        spend_model: GammaGamma | None = None,
        frequency: str = "frequency",
        recency: str = "recency",
        T: str = "T",
        monetary_value: str = "monetary_value",
        customer: str = "customer_id",
        horizon: int = 12,
        horizon_unit: str = "M",
        discount_rate: float = 0.0,
        margin: float = 1.0,
        output: str = "auto",
    ):
        """Per-customer predictions as one frame (the summary's type).

        Columns: ``expected_purchases`` (in the next ``t`` time units), ``p_alive`` and, with
        a ``spend_model``, ``expected_spend`` and ``clv`` (see
        :func:`custval.customer_lifetime_value` for ``horizon``, ``horizon_unit``,
        ``discount_rate`` and ``margin``).
        """
        from custval.clv import _clv_values, _model_unit

        params = self._require_fit()
        meta = _metadata(summary)
        _check_not_include_first(meta)
        roles = {"frequency": frequency, "recency": recency, "T": T}
        if spend_model is not None:
            roles["monetary_value"] = monetary_value
        cols = _Columns(summary, roles)
        _validate_rfm(cols, roles)
        x, tx, tt = cols["frequency"], cols["recency"], cols["T"]
        result: dict[str, np.ndarray] = {
            "expected_purchases": _native.conditional_expected_purchases(
                self._native_name, params, _scalar(t, "t"), x, tx, tt
            ),
            "p_alive": _native.p_alive(self._native_name, params, x, tx, tt, 0.0),
        }
        if spend_model is not None:
            spend = spend_model._spend(x, cols["monetary_value"])
            result["expected_spend"] = spend
            unit = _model_unit(self, summary)
            result["clv"] = _clv_values(
                self, x, tx, tt, spend, unit, horizon, horizon_unit, discount_rate, margin
            )
        return _frame(summary, cols, result, customer, output, meta)


def _frame(summary, cols: _Columns, result: dict, customer: str, output: str, meta: dict):
    kind = _output.resolve(output, cols.kind)
    if kind == "pandas" and cols.index is not None:
        return pd.DataFrame(result, index=cols.index)
    columns: dict[str, Any] = {}
    has_customer = False
    if summary is not None and not isinstance(summary, pd.DataFrame):
        try:
            source = _input.read_table(summary, [customer])
            columns[customer] = source.table.column(customer)
            has_customer = True
        except (ColumnNotFoundError, TypeError):
            pass
    columns.update(result)
    table = pa.table(columns)
    return _output.convert(
        table, kind, index=customer if has_customer else None, metadata=dict(meta)
    )


class _ContinuousModel(_PurchaseModel):
    def probability_of_purchases(self, n, t):
        """P(X(t) = n): probability that a new customer makes ``n`` repeat purchases in
        ``(0, t]`` (``n`` and ``t`` broadcast)."""
        params = self._require_fit()
        nn, tt = np.broadcast_arrays(
            np.asarray(n, dtype=np.float64), np.asarray(t, dtype=np.float64)
        )
        out = _native.probability_of_purchases(
            self._native_name,
            params,
            np.ascontiguousarray(nn.ravel()),
            np.ascontiguousarray(tt.ravel()),
        )
        return _shaped(out, nn.shape)


# --------------------------------------------------------------------------------------------
# The models


class BetaGeo(_ContinuousModel):
    """BG/NBD: the beta-geometric/negative-binomial purchase model.

    While alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after each
    repeat purchase she drops out with probability p ~ Beta(a, b). Parameters ``r, alpha, a,
    b``; time in the summary's unit (weeks for the CDNOW literature).

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers"
       the Easy Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import simulate_bgnbd
    >>> summary = simulate_bgnbd(20_000, seed=1)
    >>> model = custval.BetaGeo().fit(summary)
    >>> sorted(model.params_)
    ['a', 'alpha', 'b', 'r']
    >>> model.converged_
    True
    >>> p = model.p_alive([0, 2, 10], [0, 30, 20], 39.0)
    >>> bool((p >= 0).all() and (p <= 1).all())
    True
    >>> model.summary().columns.tolist()
    ['estimate', 'standard_error', 'lower_95', 'upper_95']
    """

    _native_name = "bgnbd"
    _param_names = ("r", "alpha", "a", "b")


class ModifiedBetaGeo(_ContinuousModel):
    """MBG/NBD: the BG/NBD with a possible dropout right after the first purchase too.

    Parameters ``r, alpha, a, b`` as for :class:`BetaGeo`; customers with no repeat purchase
    may already be inactive, so P(alive) of one-time buyers is below 1. Expected purchases of
    a new customer follow the model's pmf (lifetimes' ``ModifiedBetaGeoFitter`` uses a
    different prefactor in ``expected_number_of_purchases_up_to_time``).

    References
    ----------
    .. [1] Batislam, E. P., Denizel, M. and Filiztekin, A. (2007). Empirical validation and
       comparison of models for customer base analysis. International Journal of Research in
       Marketing 24(3), 201-209.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import simulate_mbgnbd
    >>> model = custval.ModifiedBetaGeo().fit(simulate_mbgnbd(20_000, seed=2))
    >>> sorted(model.params_)
    ['a', 'alpha', 'b', 'r']
    >>> bool(model.p_alive(0, 0, 30.0) < 1)
    True
    """

    _native_name = "mbgnbd"
    _param_names = ("r", "alpha", "a", "b")


class ParetoNBD(_ContinuousModel):
    """Pareto/NBD: Poisson purchases with rate λ ~ Gamma(r, α) during an exponential lifetime
    with death rate μ ~ Gamma(s, β). Parameters ``r, alpha, s, beta``.

    References
    ----------
    .. [1] Schmittlein, D. C., Morrison, D. G. and Colombo, R. (1987). Counting Your Customers:
       Who Are They and What Will They Do Next? Management Science 33(1), 1-24.
    .. [2] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). A Note on Deriving the
       Pareto/NBD Model and Related Expressions.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import simulate_pareto_nbd
    >>> model = custval.ParetoNBD().fit(simulate_pareto_nbd(10_000, seed=3))
    >>> sorted(model.params_)
    ['alpha', 'beta', 'r', 's']
    >>> model.expected_purchases([0.0, 52.0]).shape
    (2,)
    """

    _native_name = "pareto_nbd"
    _param_names = ("r", "alpha", "s", "beta")


class BetaGeoBetaBinom(_PurchaseModel):
    """BG/BB: discrete-time purchases (beta-Bernoulli, p ~ Beta(α, β)) with beta-geometric
    dropout (θ ~ Beta(γ, δ)) at each transaction opportunity.

    Fit on ``frequency`` (transactions), ``recency`` (opportunity of the last transaction, 0
    if none) and ``T`` = the number of opportunities, usually with ``weights`` (customers per
    pattern). Time is counted in opportunities: ``t`` in predictions is a number of future
    opportunities. Parameters ``alpha, beta, gamma, delta``.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Shang, J. (2010). Customer-Base Analysis in a
       Discrete-Time Noncontractual Setting. Marketing Science 29(6), 1086-1108.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import simulate_bgbb
    >>> model = custval.BetaGeoBetaBinom().fit(simulate_bgbb(20_000, seed=4))
    >>> sorted(model.params_)
    ['alpha', 'beta', 'delta', 'gamma']
    >>> round(float(model.p_alive(6, 6, 6)), 2)
    1.0
    """

    _native_name = "bgbb"
    _param_names = ("alpha", "beta", "gamma", "delta")

    def fit(
        self,
        summary: Any = None,
        *,
        frequency: Any = "frequency",
        recency: Any = "recency",
        T: Any = "T",
        weights: Any = None,
        penalizer: float = 0.0,
        time_unit: Any = None,
    ):
        """Maximum-likelihood fit (see :meth:`BetaGeo.fit`); ``T`` = number of opportunities,
        and all three columns must be whole numbers."""
        cols = _Columns(summary, {"frequency": frequency, "recency": recency, "T": T})
        for role, name in (("recency", recency), ("T", T)):
            values = cols[role]
            bad = _count(np.isfinite(values) & (values != np.floor(values)))
            if bad:
                label = name if isinstance(name, str) else role
                raise DataError(f"column {label!r}: BG/BB needs whole numbers ({bad} rows)")
        return super().fit(
            summary,
            frequency=frequency,
            recency=recency,
            T=T,
            weights=weights,
            penalizer=penalizer,
            time_unit=time_unit,
        )


class GammaGamma(_Fitted):
    """Gamma-Gamma model of spend per transaction.

    Each transaction's value is Gamma(p, ν) with ν ~ Gamma(q, γ) across customers, independent
    of the purchase process. Fitted on repeat customers' ``frequency`` and mean repeat spend
    ``monetary_value``; customers with frequency 0 are left out (their number is in
    ``n_excluded_`` and in :meth:`summary`'s attrs). Parameters ``p, q, gamma`` (lifetimes and
    pymc-marketing call ``gamma`` ``v``; :meth:`from_dict` accepts both).

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). RFM and CLV: Using Iso-Value
       Curves for Customer Base Analysis. Journal of Marketing Research 42(4), 415-430.
    .. [2] Fader, P. S. and Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import simulate_gamma_gamma
    >>> spend = simulate_gamma_gamma(20_000, seed=5)
    >>> model = custval.GammaGamma().fit(spend)
    >>> sorted(model.params_)
    ['gamma', 'p', 'q']
    >>> model.n_excluded_
    0
    >>> custval.GammaGamma.from_dict({"p": 6.25, "q": 3.74, "v": 15.44}).params_["gamma"]
    15.44
    """

    _native_name = "gamma_gamma"
    _param_names = ("p", "q", "gamma")
    _aliases = {"v": "gamma"}

    def __init__(self) -> None:
        super().__init__()
        self.n_excluded_: int | None = None

    def fit(
        self,
        summary: Any = None,
        *,
        frequency: Any = "frequency",
        monetary_value: Any = "monetary_value",
        weights: Any = None,
        penalizer: float = 0.0,
    ):
        """Maximum-likelihood fit on the customers with frequency > 0.

        Raises
        ------
        DataError
            NaN or negative frequency, NaN monetary value, or ``monetary_value ≤ 0`` for a
            customer with repeat purchases; a summary made with ``include_first=True``.
        ConvergenceError
            The optimiser did not converge.
        """
        _check_not_include_first(_metadata(summary))
        roles = {"frequency": frequency, "monetary_value": monetary_value, "weights": weights}
        cols = _Columns(summary, roles)
        names = {r: (v if isinstance(v, str) else r) for r, v in roles.items()}
        _check_finite_nonneg(names["frequency"], cols["frequency"])
        bad = _count(np.isnan(cols["monetary_value"]))
        if bad:
            raise DataError(f"column {names['monetary_value']!r}: NaN or null values ({bad} rows)")
        w = _weights(cols)
        self.penalizer_ = float(penalizer)
        result = self._fit_native([cols["frequency"], cols["monetary_value"]], w)
        self._set_fit(result)
        self.n_excluded_ = int(result["n_excluded"])
        return self

    def _stats(self) -> dict[str, Any]:
        out = super()._stats()
        out["n_excluded"] = getattr(self, "n_excluded_", None)
        return out

    def _load(self, data: Mapping[str, Any]) -> None:
        super()._load(data)
        value = data.get("n_excluded")
        self.n_excluded_ = None if value is None else int(value)

    def _spend(self, frequency: np.ndarray, monetary_value: np.ndarray) -> np.ndarray:
        params = self._require_fit()
        m = np.where(frequency > 0, monetary_value, 0.0)
        return _native.conditional_expected_spend(params, frequency, np.ascontiguousarray(m))

    def conditional_expected_spend(self, frequency, monetary_value):
        """Expected mean spend per transaction given each customer's frequency and mean
        repeat spend (the population mean p γ / (q − 1) when frequency = 0)."""
        cols = _Columns(None, {"frequency": frequency, "monetary_value": monetary_value})
        _check_finite_nonneg("frequency", cols["frequency"])
        return _shaped(self._spend(cols["frequency"], cols["monetary_value"]), cols.shape)


class ShiftedBetaGeo(_Fitted):
    """sBG: the shifted-beta-geometric model of contractual retention.

    Each customer churns at the end of each period with probability θ ~ Beta(α, β). Fit on
    per-customer ``recency`` = periods paid for (the acquisition period counts as 1) and
    ``T`` = periods observed (``recency == T``: still active); with ``cohort="col"``, one fit
    per cohort, and ``params_`` etc. keyed by cohort. Parameters ``alpha, beta``.

    References
    ----------
    .. [1] Fader, P. S. and Hardie, B. G. S. (2007). How to Project Customer Retention.
       Journal of Interactive Marketing 21(1), 76-90.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import simulate_sbg
    >>> model = custval.ShiftedBetaGeo().fit(simulate_sbg(5_000, seed=6))
    >>> sorted(model.params_)
    ['alpha', 'beta']
    >>> s = model.survival([0, 1, 2])
    >>> float(s[0]), bool(s[1] > s[2])
    (1.0, True)
    """

    _native_name = "sbg"
    _param_names = ("alpha", "beta")

    def __init__(self) -> None:
        super().__init__()
        self.cohorts_: list[Any] | None = None
        self._by_cohort: dict[Any, _Fitted] | None = None

    def fit(
        self,
        data: Any = None,
        *,
        recency: Any = "recency",
        T: Any = "T",
        cohort: str | None = None,
        weights: Any = None,
        penalizer: float = 0.0,
    ):
        """Maximum-likelihood fit, one per cohort when ``cohort`` names a column.

        Raises
        ------
        DataError
            Non-integer values or rows outside ``1 ≤ recency ≤ T``.
        """
        roles = {"recency": recency, "T": T, "weights": weights}
        cols = _Columns(data, roles)
        for role in ("recency", "T"):
            name = roles[role] if isinstance(roles[role], str) else role
            bad = _count(np.isnan(cols[role]))
            if bad:
                raise DataError(f"column {name!r}: NaN or null values ({bad} rows)")
        w = _weights(cols)
        self.penalizer_ = float(penalizer)
        if cohort is None:
            self._set_fit(self._fit_native([cols["recency"], cols["T"]], w))
            self.cohorts_ = None
            self._by_cohort = None
            return self
        if data is None:
            raise TypeError("cohort= names a column of data")
        labels = _input.read_table(data, [cohort]).table.column(cohort).to_pylist()
        codes, uniques = pd.factorize(pd.Series(labels, dtype=object), sort=True)
        fits: dict[Any, _Fitted] = {}
        for k, label in enumerate(uniques):
            mask = codes == k
            part = _Fitted()
            part._param_names = self._param_names
            result = _native.fit_model(
                self._native_name,
                [
                    np.ascontiguousarray(cols["recency"][mask]),
                    np.ascontiguousarray(cols["T"][mask]),
                ],
                None if w is None else np.ascontiguousarray(w[mask]),
                penalizer=self.penalizer_,
                **_FIT_DEFAULTS,
            )
            part._set_fit(result)
            part.penalizer_ = self.penalizer_
            fits[_plain(label)] = part
        self._set_cohorts(fits)
        return self

    def _set_cohorts(self, fits: dict[Any, _Fitted]) -> None:
        self._by_cohort = fits
        self.cohorts_ = list(fits)
        self.params_ = {c: dict(f.params_) for c, f in fits.items()}  # type: ignore[arg-type]
        self.standard_errors_ = {c: f.standard_errors_ for c, f in fits.items()}  # type: ignore[misc]
        self.confidence_intervals_ = {c: f.confidence_intervals_ for c, f in fits.items()}  # type: ignore[misc]
        for key in ("log_likelihood_", "aic_", "bic_", "iterations_", "converged_"):
            setattr(self, key, {c: getattr(f, key) for c, f in fits.items()})
        for key in ("n_unique_", "n_obs_"):
            setattr(self, key, {c: getattr(f, key) for c, f in fits.items()})

    def _cohort_params(self, cohort: Any) -> list[float]:
        if self.params_ is None:
            raise CustvalError("ShiftedBetaGeo is not fitted: call fit() or from_dict() first")
        if self._by_cohort is None:
            if cohort is not None:
                raise CustvalError("this model was fitted without cohorts")
            return [float(self.params_[n]) for n in self._param_names]
        if cohort not in self._by_cohort:
            raise CustvalError(
                f"pass cohort= one of {self.cohorts_!r} (this model has one fit per cohort)"
            )
        return self._by_cohort[cohort]._require_fit()

    def _curve(self, kind: str, t, cohort: Any):
        params = self._cohort_params(cohort)
        tt = np.asarray(t, dtype=np.float64)
        return _shaped(_native.sbg_curve(kind, params, np.ascontiguousarray(tt.ravel())), tt.shape)

    def survival(self, t, *, cohort: Any = None):
        """S(t): probability of still being a customer after ``t`` renewals."""
        return self._curve("survival", t, cohort)

    def retention_rate(self, t, *, cohort: Any = None):
        """Retention rate in period ``t`` (≥ 1): S(t) / S(t − 1)."""
        return self._curve("retention_rate", t, cohort)

    def churn_probability(self, t, *, cohort: Any = None):
        """Probability of churning in period ``t`` (≥ 1)."""
        return self._curve("churn_probability", t, cohort)

    def expected_lifetime(self, *, discount_rate: float | None = None, cohort: Any = None):
        """Expected lifetime in periods; with ``discount_rate``, the discounted expected
        lifetime Σ S(t) / (1 + d)^t (payments at period starts)."""
        params = self._cohort_params(cohort)
        return _native.sbg_expected_lifetime(params, discount_rate)

    def summary(self) -> pd.DataFrame:
        """Estimates, standard errors and 95 % intervals (rows keyed by cohort and parameter
        for a per-cohort fit)."""
        if self._by_cohort is None:
            return super().summary()
        frames = {c: f.summary() for c, f in self._by_cohort.items()}
        return pd.concat(frames, names=["cohort", "parameter"])

    def to_dict(self) -> dict[str, Any]:
        if self._by_cohort is None:
            return super().to_dict()
        return {
            "model": type(self).__name__,
            "cohorts": [[c, f.to_dict()] for c, f in self._by_cohort.items()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, time_unit: Any = None):
        if "cohorts" not in data:
            return super().from_dict(data, time_unit=time_unit)
        model = cls()
        fits: dict[Any, _Fitted] = {}
        for label, fit in data["cohorts"]:
            part = _Fitted()
            part._param_names = cls._param_names
            part._load(fit)
            fits[label] = part
        model._set_cohorts(fits)
        return model

    def __repr__(self) -> str:
        if self._by_cohort is None:
            return super().__repr__()
        return f"ShiftedBetaGeo(cohorts={self.cohorts_!r})"
