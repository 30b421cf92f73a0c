"""Is the model any good? :func:`evaluate` sets a fitted purchase model's predictions for a
holdout period against what happened, and against a naive baseline (an :class:`Evaluation`)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from custval import _display, _frames
from custval.exceptions import CustvalError
from custval.models.holdout import (
    _NO_PURCHASES,
    HoldoutMetrics,
    _baseline,
    _conditional_expectation,
    _fitted,
    _metrics,
    _predict,
    _ranking,
    _read_holdout,
    _spend_model,
    _unit,
)

__all__ = ["Evaluation", "HoldoutMetrics", "evaluate"]


# -- evaluate ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A number as a plain JSON type (NaN → None)."""
    if value is None:
        return None
    if isinstance(value, np.integer | int) and not isinstance(value, bool):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    key = frame.index.name
    return [
        {key: (label if isinstance(label, str) else int(label))}
        | {column: _plain(row[column]) for column in frame.columns}
        for label, row in frame.iterrows()
    ]


def _unit_text(unit: Mapping[str, Any]) -> str:
    multiplier = float(unit["freq_multiplier"])
    return unit["freq"] if multiplier == 1 else f"{multiplier:g}{unit['freq']}"


class Evaluation:
    """How well a purchase model predicted a holdout period: see :func:`evaluate`.

    Attributes
    ----------
    model : str
        The model's class name; ``params`` its parameters.
    customers : int
        Customers in the table.
    duration_holdout : float or None
        Length of the holdout in ``time_unit`` periods (``None`` when it varies by customer).
    mae, rmse, bias, predicted_total, actual_total, relative_total_error
        The model's errors (:class:`HoldoutMetrics`, also as ``metrics``).
    baseline : HoldoutMetrics
        The same for the naive baseline frequency_cal / T_cal × duration_holdout.
    gini : float or None
        Normalized Gini of the ranking, of purchases or (with a spend model) of value:
        ``ranked_by`` says which.
    conditional_expectation : pandas.DataFrame
        By calibration frequency (0 … max_frequency−1, ``max_frequency+``): ``customers``,
        ``actual_mean`` and ``predicted_mean`` holdout purchases (NaN: no customers).
    deciles : pandas.DataFrame
        Deciles 1 (highest predictions) … 10 (sized as ``np.array_split``: the first n mod 10
        have one customer more): ``customers``, ``predicted_mean`` and ``actual_mean`` (of
        ``ranked_by``).
    spend_mae : float or None
        With a spend model: mean |predicted − actual holdout mean spend| over the
        ``spend_customers`` customers with holdout purchases.
    """

    def __init__(
        self,
        *,
        model: str,
        params: dict[str, float],
        time_unit: dict[str, Any],
        customers: int,
        duration_holdout: float | None,
        metrics: HoldoutMetrics,
        baseline: HoldoutMetrics,
        gini: float | None,
        ranked_by: str,
        conditional_expectation: pd.DataFrame,
        deciles: pd.DataFrame,
        spend_mae: float | None = None,
        spend_customers: int | None = None,
        kind: str = "pandas",
    ):
        self.model = model
        self.params = params
        self.time_unit = time_unit
        self.customers = customers
        self.duration_holdout = duration_holdout
        self.metrics = metrics
        self.baseline = baseline
        self.gini = gini
        self.ranked_by = ranked_by
        self.conditional_expectation = conditional_expectation
        self.deciles = deciles
        self.spend_mae = spend_mae
        self.spend_customers = spend_customers
        self._kind = kind

    mae = property(lambda self: self.metrics.mae, doc="Mean absolute error.")
    rmse = property(lambda self: self.metrics.rmse, doc="Root mean squared error.")
    bias = property(lambda self: self.metrics.bias, doc="Mean predicted − actual.")
    predicted_total = property(lambda self: self.metrics.predicted_total)
    actual_total = property(lambda self: self.metrics.actual_total)
    relative_total_error = property(lambda self: self.metrics.relative_total_error)

    def to_frame(self, output: str = "auto"):
        """The model's and the baseline's metrics: one row per metric, columns ``model`` and
        ``baseline`` (``output`` as elsewhere; "auto" mirrors the table's type)."""
        frame = pd.DataFrame(
            {"model": self.metrics.to_dict(), "baseline": self.baseline.to_dict()},
            dtype=np.float64,
        )
        frame.index.name = "metric"
        return _frames.from_pandas(frame, output, self._kind)

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON types (missing values are ``None``)."""
        return {
            "model": self.model,
            "params": {k: float(v) for k, v in self.params.items()},
            "time_unit": dict(self.time_unit),
            "customers": self.customers,
            "duration_holdout": self.duration_holdout,
            "metrics": {k: _plain(v) for k, v in self.metrics.to_dict().items()},
            "baseline": {k: _plain(v) for k, v in self.baseline.to_dict().items()},
            "gini": _plain(self.gini),
            "ranked_by": self.ranked_by,
            "spend_mae": _plain(self.spend_mae),
            "spend_customers": self.spend_customers,
            "conditional_expectation": _records(self.conditional_expectation),
            "deciles": _records(self.deciles),
        }

    def _title(self) -> str:
        duration = "varying" if self.duration_holdout is None else f"{self.duration_holdout:.4g}"
        return (
            f"Evaluation of {self.model} on {self.customers:,} customers, holdout of "
            f"{duration} periods of {_unit_text(self.time_unit)}"
        )

    def _figures(self) -> list[str]:
        gini = "None" if self.gini is None else f"{self.gini:.4f}"
        lines = [f"normalized Gini ({self.ranked_by}): {gini}"]
        if self.spend_customers is not None:
            mae = "None" if self.spend_mae is None else f"{self.spend_mae:.4g}"
            lines.append(f"spend MAE: {mae} over {self.spend_customers:,} customers")
        return lines

    def __repr__(self) -> str:
        metrics = self.to_frame(output="pandas").to_string(float_format=lambda v: f"{v:.4f}")
        table = self.conditional_expectation.to_string(float_format=lambda v: f"{v:.4f}")
        return "\n".join(
            [self._title(), metrics, *self._figures(), "conditional expectation:", table]
        )

    def _repr_html_(self) -> str:
        def rows(frame: pd.DataFrame) -> list[list[Any]]:
            return [
                [str(label), *values]
                for label, values in zip(frame.index, frame.itertuples(index=False), strict=True)
            ]

        metrics = self.to_frame(output="pandas")
        metric_rows = [
            [
                str(name),
                *(
                    _display.rate(v) if name == "relative_total_error" else _display.number(v)
                    for v in values
                ),
            ]
            for name, values in zip(metrics.index, metrics.itertuples(index=False), strict=True)
        ]
        expectation = self.conditional_expectation
        return _display.block(
            _display.html_table(
                ["metric", "model", "baseline"], metric_rows, caption=self._title()
            ),
            *(_display.paragraph(line) for line in self._figures()),
            _display.html_table(
                ["purchases in calibration", *expectation.columns],
                rows(expectation),
                caption="Conditional expectation of holdout purchases",
            ),
            _display.html_table(
                ["decile", *self.deciles.columns],
                rows(self.deciles),
                caption=f"Deciles (by {self.ranked_by})",
            ),
        )


def evaluate(
    model: Any,
    calibration_holdout: Any,
    *,
    spend_model: Any = None,
    max_frequency: int = 7,
    time_unit: Any = None,
) -> Evaluation:
    """How well a fitted purchase model predicts the holdout period of a calibration/holdout
    table, against a naive baseline.

    Customer i's prediction is the model's conditional expected purchases over
    ``duration_holdout`` given ``(frequency_cal, recency_cal, T_cal)``; with e = predicted −
    actual ``frequency_holdout``: MAE = mean |e|, RMSE = √mean e², bias = mean e, and the
    relative total error (Σ predicted − Σ actual) / Σ actual. The baseline predicts
    frequency_cal / T_cal × duration_holdout (0 when T_cal = 0). The conditional-expectation
    table is the Fader–Hardie–Lee figure: mean actual and predicted holdout purchases by
    calibration frequency. Ranking: normalized Gini = Gini(actual ordered by prediction) /
    Gini(actual ordered by actual), where Gini = 2 × mean cumulative share − 1 (customers with
    equal predictions share their mean actual), and mean predicted and actual per decile of
    prediction; both rank value (purchases × spend; actual = frequency_holdout ×
    monetary_value_holdout) when a spend model is given.

    Parameters
    ----------
    model : BetaGeo, ModifiedBetaGeo, ParetoNBD or BetaGeoBetaBinom
        A fitted purchase model, usually fitted on the table's calibration columns.
    calibration_holdout : DataFrame, pyarrow Table, polars DataFrame or dict of arrays
        The table of :func:`custval.calibration_holdout` (``frequency_cal``, ``recency_cal``,
        ``T_cal``, ``frequency_holdout``, ``duration_holdout`` and, with a spend model,
        ``monetary_value_cal`` and ``monetary_value_holdout``).
    spend_model : GammaGamma, optional
        A fitted spend model: adds the spend MAE and ranks by value.
    max_frequency : int
        The last row of the conditional-expectation table gathers frequency_cal ≥ this.
    time_unit : str, (str, float) or dict, optional
        The table's time unit when it has no custval metadata (``"W"``, ``("D", 7)``); it
        must match the model's.

    Returns
    -------
    Evaluation

    Raises
    ------
    CustvalError
        The model is not a fitted purchase model; the spend model is not a fitted GammaGamma
        or the table has no monetary columns; the time unit is unknown or differs from the
        model's.
    ColumnNotFoundError, DataError
        The table lacks a column, breaks the RFM contract or was made with
        ``include_first=True``.

    Warns
    -----
    UserWarning
        No customer made a holdout purchase: the relative errors and the Gini are ``None``.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers"
       the Easy Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2),
       275-284 (the conditional-expectation figure).
    .. [2] Wang, X., Liu, T. and Miao, J. (2019). A Deep Probabilistic Model for Customer
       Lifetime Value Prediction. arXiv:1912.07753 (the normalized Gini and decile chart, as
       in google/lifetime_value).

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import simulate_transactions
    >>> log = simulate_transactions(3_000, seed=7)
    >>> table = custval.calibration_holdout(log, calibration_end="2024-06-30", amount="amount",
    ...                                     freq="D", freq_multiplier=7)
    >>> model = custval.BetaGeo().fit(table, frequency="frequency_cal",
    ...                               recency="recency_cal", T="T_cal")
    >>> result = custval.evaluate(model, table)
    >>> result.mae < result.baseline.mae
    True
    >>> result.conditional_expectation.columns.tolist()
    ['customers', 'actual_mean', 'predicted_mean']
    >>> result.conditional_expectation.index.tolist()
    ['0', '1', '2', '3', '4', '5', '6', '7+']
    >>> bool(0 < result.gini <= 1), len(result.deciles)
    (True, 10)
    >>> result.to_frame().loc["mae"].index.tolist()
    ['model', 'baseline']
    """
    model = _fitted(model, "model")
    spend = _spend_model(spend_model)
    if isinstance(max_frequency, bool) or not isinstance(max_frequency, int | np.integer):
        raise CustvalError(f"max_frequency must be an integer, not {max_frequency!r}")
    if max_frequency < 1:
        raise CustvalError(f"max_frequency must be at least 1, got {max_frequency}")
    h = _read_holdout(calibration_holdout, spend=spend is not None)
    unit = _unit(model, calibration_holdout, time_unit)
    predicted = _predict(model, h)
    actual = h.actual
    metrics = _metrics(predicted, actual)
    if metrics.relative_total_error is None:
        warnings.warn(_NO_PURCHASES, UserWarning, stacklevel=2)
    spend_mae = spend_customers = None
    if spend is not None and h.spend_cal is not None and h.spend_holdout is not None:
        expected = np.asarray(spend.conditional_expected_spend(h.frequency, h.spend_cal))
        bought = actual > 0
        spend_customers = int(np.count_nonzero(bought))
        if spend_customers:
            spend_mae = float(np.abs(expected[bought] - h.spend_holdout[bought]).mean())
        predicted_rank = predicted * expected
        actual_rank = actual * np.where(bought, h.spend_holdout, 0.0)
    else:
        predicted_rank, actual_rank = predicted, actual
    gini, deciles = _ranking(predicted_rank, actual_rank)
    return Evaluation(
        model=type(model).__name__,
        params=dict(model.params_ or {}),
        time_unit=unit,
        customers=int(actual.size),
        duration_holdout=h.constant_duration,
        metrics=metrics,
        baseline=_metrics(_baseline(h), actual),
        gini=gini,
        ranked_by="value" if spend is not None else "purchases",
        conditional_expectation=_conditional_expectation(
            h.frequency, actual, predicted, max_frequency
        ),
        deciles=deciles,
        spend_mae=spend_mae,
        spend_customers=spend_customers,
        kind=h.kind,
    )
