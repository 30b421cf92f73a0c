"""The shifted-beta-geometric model of contractual retention, one fit per cohort if asked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from custval import _input, _native
from custval.exceptions import ArgumentError, CustvalError, DataError
from custval.models.base import _Fitted
from custval.models.inputs import _collapsed, _Columns, _count, _shaped, _weights


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
        if cohort is not None:
            roles["cohort"] = cohort
        data, roles = _collapsed(data, roles)
        roles.pop("cohort", None)
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
            raise ArgumentError("cohort= names a column of data")
        labels = _input.read_table(data, [cohort]).table.column(cohort).to_pylist()
        codes, uniques = pd.factorize(pd.Series(labels, dtype=object), sort=True)
        fits: dict[Any, _Fitted] = {}
        for k, label in enumerate(uniques):
            mask = codes == k
            part = self._part()
            part.penalizer_ = self.penalizer_
            columns = [cols["recency"][mask], cols["T"][mask]]
            part_weights = None if w is None else w[mask]
            part._set_fit(part._fit_native(columns, part_weights))
            fits[_plain(label)] = part
        self._set_cohorts(fits)
        return self

    @classmethod
    def _part(cls) -> _Fitted:
        """An unfitted model of one cohort."""
        part = _Fitted()
        part._native_name = cls._native_name
        part._param_names = cls._param_names
        return part

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
            part = cls._part()
            part._load(fit)
            fits[label] = part
        model._set_cohorts(fits)
        return model

    def __repr__(self) -> str:
        if self._by_cohort is None:
            return super().__repr__()
        return f"ShiftedBetaGeo(cohorts={self.cohorts_!r})"


def _plain(value: Any) -> Any:
    """NumPy scalars → Python scalars (for JSON)."""
    return value.item() if isinstance(value, np.generic) else value
