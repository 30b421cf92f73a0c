"""The Gamma-Gamma model of spend per transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from custval import _native
from custval.exceptions import DataError
from custval.models.base import _Fitted
from custval.models.inputs import (
    _check_finite_nonneg,
    _check_not_include_first,
    _checked_again,
    _collapsed,
    _Columns,
    _count,
    _metadata,
    _names,
    _shaped,
    _weights,
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
        roles = {"frequency": frequency, "monetary_value": monetary_value, "weights": weights}
        summary, roles = _collapsed(summary, roles)
        _check_not_include_first(_metadata(summary))
        cols = _Columns(summary, roles)
        names = _names(roles)
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
        # The native kernel ignores monetary_value where frequency is 0 and checks both
        # columns in the pass that computes the answer.
        params = self._require_fit()
        return _native.conditional_expected_spend(params, frequency, monetary_value)

    def conditional_expected_spend(self, frequency, monetary_value):
        """Expected mean spend per transaction given each customer's frequency and mean
        repeat spend (the population mean p γ / (q − 1) when frequency = 0)."""
        cols = _Columns(None, {"frequency": frequency, "monetary_value": monetary_value})
        # The Python check names NaN and infinities apart.
        with _checked_again(lambda: _check_finite_nonneg("frequency", cols["frequency"])):
            out = self._spend(cols["frequency"], cols["monetary_value"])
        return _shaped(out, cols.shape)
