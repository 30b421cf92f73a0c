"""Purchase models: BG/NBD, MBG/NBD and Pareto/NBD (continuous time) and BG/BB (discrete).

Each is fitted on ``(frequency, recency, T)``, predicts vectorised over customers (NumPy arrays
in, NumPy arrays out) computing each unique row once, and values customers by their discounted
expected purchases (``predict``, :func:`custval.customer_lifetime_value`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from custval import _frames, _input, _native
from custval.exceptions import ArgumentError, ColumnNotFoundError, CustvalError, DataError
from custval.models.base import _Fitted
from custval.models.inputs import (
    _collapsed,
    _Columns,
    _count,
    _metadata,
    _names,
    _naming_columns,
    _resolve_time_unit,
    _rfm_columns,
    _scalar,
    _shaped,
    _weights,
)

if TYPE_CHECKING:
    from custval.models.spend import GammaGamma


class _PurchaseModel(_Fitted):
    """Models of repeat purchases fitted on (frequency, recency, T)."""

    #: Whether the native ``p_alive`` checks the whole RFM contract in its own pass.
    _p_alive_checks_history = False

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
        roles = {"frequency": frequency, "recency": recency, "T": T, "weights": weights}
        summary, roles = _collapsed(summary, roles)
        cols = _rfm_columns(summary, roles)
        self._check_fit_columns(cols, _names(roles))
        w = _weights(cols)
        self.penalizer_ = float(penalizer)
        result = self._fit_native([cols["frequency"], cols["recency"], cols["T"]], w)
        self._set_fit(result)
        self.time_unit_ = _resolve_time_unit(summary, time_unit)
        return self

    def _check_fit_columns(self, cols: _Columns, names: dict[str, str]) -> None:
        """What a model needs of its fitting data beyond the RFM contract (nothing here)."""

    def _history(self, frequency, recency, T) -> _Columns:
        return _rfm_columns(None, {"frequency": frequency, "recency": recency, "T": T})

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

    def p_alive(
        self,
        data: Any,
        recency: Any = None,
        T: Any = None,
        *,
        t: float = 0.0,
        customer: str = "customer_id",
        output: str = "auto",
    ):
        """Probability that each customer is still alive ``t`` time units after the end of
        their observation, given their history: P(alive at T + t | x, t_x, T).

        It does not condition on what happens after ``T``: ``t = 0`` is the usual P(alive at
        T), and it decays with ``t`` as the customer may drop out meanwhile. In the model's time
        unit, with x = frequency, t_x = recency:

        - BG/NBD: P(alive at T) = 1 / (1 + a/(b+x−1) ((α+T)/(α+t_x))^(r+x)) for x > 0 (1 for
          x = 0). Alive at T, λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x); dropouts then come at
          rate λp, so P(alive at T + t) = P(alive at T) × E[exp(−λpt)] =
          P(alive at T) × ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x; t/(α+T+t)).
        - MBG/NBD: P(alive at T) = 1 / (1 + a/(b+x) ((α+T)/(α+t_x))^(r+x)), and the same
          factor with b+x+1 and a+b+x+1 (p ~ Beta(a, b+x+1): dropout is possible at the first
          purchase too).
        - Pareto/NBD: alive at T, the death rate is μ ~ Gamma(s, β+T), so
          P(alive at T + t) = P(alive at T) × ((β+T)/(β+T+t))^s.
        - BG/BB: ``t`` counts opportunities: P(alive at n + t) = B(α+x, β+n−x) B(γ, δ+n+t) /
          (B(α, β) B(γ, δ) L(α, β, γ, δ | x, t_x, n)) (lifetimes' ``m_periods_in_future``).

        Parameters
        ----------
        data : DataFrame, pyarrow Table, polars DataFrame or array-like
            A per-customer summary with ``frequency``, ``recency`` and ``T`` columns (e.g.
            from :func:`custval.rfm_summary`), or the frequency array when ``recency`` and
            ``T`` are arrays too (they broadcast).
        recency, T : array-like, optional
            With a frequency array as ``data``.
        t : float
            Time units after ``T`` (≥ 0).
        customer : str
            The summary's customer column, kept in polars and Arrow results.
        output : {"auto", "pandas", "polars", "arrow"}
            Result type for a summary (``"auto"``: the summary's).

        Returns
        -------
        DataFrame or ndarray
            For a summary, a frame with a ``p_alive`` column keyed like the summary (as
            :meth:`predict`); for arrays, an array of their broadcast shape (a float for
            scalars). Computed once per customer; the factor for ``t > 0`` once per distinct
            (frequency, T) pair.

        References
        ----------
        .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers"
           the Easy Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2),
           275-284.
        .. [2] Fader, P. S. and Hardie, B. G. S. (2005). A Note on Deriving the Pareto/NBD Model
           and Related Expressions.

        Examples
        --------
        >>> import pandas as pd, custval
        >>> model = custval.BetaGeo.from_dict({"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43})
        >>> summary = pd.DataFrame(
        ...     {"frequency": [0, 2, 10], "recency": [0.0, 30.0, 20.0], "T": [39.0, 39.0, 39.0]},
        ...     index=pd.Index([7, 8, 9], name="customer_id"))
        >>> model.p_alive(summary).round(3)
                     p_alive
        customer_id
        7              1.000
        8              0.721
        9              0.038
        >>> model.p_alive(summary, t=52).round(3)
                     p_alive
        customer_id
        7              0.945
        8              0.529
        9              0.023
        >>> model.p_alive([2, 2], [30.0, 30.0], [39.0, 39.0], t=52).round(3)
        array([0.529, 0.529])
        """
        params = self._require_fit()
        table_form = recency is None and T is None
        roles: dict[str, Any] = {"frequency": "frequency", "recency": "recency", "T": "T"}
        if not table_form:
            if recency is None or T is None:
                raise ArgumentError("pass a summary, or frequency, recency and T arrays")
            roles = {"frequency": data, "recency": recency, "T": T}
        native_check = self._p_alive_checks_history
        cols = _rfm_columns(data if table_form else None, roles, native_check=native_check)
        with _naming_columns(cols, roles):
            out = _native.p_alive(
                self._native_name,
                params,
                cols["frequency"],
                cols["recency"],
                cols["T"],
                _scalar(t, "t"),
            )
        if table_form:
            return _predictions(data, cols, {"p_alive": out}, customer, output, _metadata(data))
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
        params = self._require_fit()
        roles = {"frequency": frequency, "recency": recency, "T": T}
        if spend_model is not None:
            roles["monetary_value"] = monetary_value
        cols = _rfm_columns(summary, roles)
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
            unit = self._unit_for(summary)
            result["clv"] = self._discounted_value(
                x, tx, tt, spend, unit, horizon, horizon_unit, discount_rate, margin
            )
        return _predictions(summary, cols, result, customer, output, _metadata(summary))

    def _unit_for(self, summary: Any, time_unit: Any = None) -> dict[str, Any]:
        """The model's time unit, checked against the summary's (``time_unit``, or else the
        summary's metadata) when both are known."""
        data_unit = _resolve_time_unit(summary, time_unit)
        unit = self.time_unit_ or data_unit
        if unit is None:
            raise CustvalError(
                "the model's time unit is unknown: fit it on a summary from custval.rfm_summary, "
                "or pass time_unit= (e.g. 'W' or ('D', 7)) to fit() or from_dict()"
            )
        if data_unit is not None and self.time_unit_ is not None and data_unit != self.time_unit_:
            raise CustvalError(
                f"the summary's time unit {data_unit} differs from the model's {self.time_unit_}"
            )
        return unit

    def _discounted_value(
        self,
        x: np.ndarray,
        tx: np.ndarray,
        tt: np.ndarray,
        spend: np.ndarray,
        unit: dict[str, Any],
        horizon: int,
        horizon_unit: str,
        discount_rate: float,
        margin: float,
    ) -> np.ndarray:
        """Discounted CLV of each history (see :func:`custval.customer_lifetime_value`), in
        ``horizon_unit`` periods converted to the model's time ``unit``."""
        if int(horizon) != horizon or horizon < 0:
            raise ArgumentError(f"horizon must be a whole number ≥ 0, got {horizon!r}")
        factor = _native.time_unit_factor(horizon_unit, unit["freq"], unit["freq_multiplier"])
        return _native.customer_lifetime_value(
            self._native_name,
            self._require_fit(),
            x,
            tx,
            tt,
            np.ascontiguousarray(spend, dtype=np.float64),
            margin=float(margin),
            horizon=int(horizon),
            discount_rate=float(discount_rate),
            unit_factor=factor,
        )


def _predictions(summary, cols: _Columns, result: dict, customer: str, output: str, meta: dict):
    """Per-customer predictions as the summary's frame type, keyed like the summary."""
    kind = _frames.resolve(output, cols.kind)
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
    return _frames.convert(
        table, kind, index=customer if has_customer else None, metadata=dict(meta)
    )


class _ContinuousModel(_PurchaseModel):
    """Continuous-time purchase models, which also give a new customer's purchase counts."""

    _p_alive_checks_history = True

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
    if none) and ``T`` = the number of opportunities, all three whole numbers, usually with
    ``weights`` (customers per pattern). Time is counted in opportunities: ``t`` in predictions
    is a number of future opportunities. Parameters ``alpha, beta, gamma, delta``.

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

    def _check_fit_columns(self, cols: _Columns, names: dict[str, str]) -> None:
        """``recency`` and ``T`` count opportunities: whole numbers."""
        for role in ("recency", "T"):
            values = cols[role]
            bad = _count(np.isfinite(values) & (values != np.floor(values)))
            if bad:
                raise DataError(f"column {names[role]!r}: BG/BB needs whole numbers ({bad} rows)")
