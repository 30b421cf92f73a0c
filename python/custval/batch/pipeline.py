"""The job's computations, stage by stage, over the streamed input (no files written here).

Each pass over the log is one of custval's streamed kernels; everything after the summary
works on per-customer tables (O(customers)). Money stays exact: the summary, KPIs, retention
and segment revenue are decimals summed in fixed point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import custval
from custval import _files, _frames, _input, _native
from custval.batch.errors import ExitCode, JobError
from custval.batch.logs import LOGGER, Progress
from custval.batch.options import RunOptions
from custval.batch.sources import Inputs
from custval.exceptions import ConvergenceError
from custval.metrics.growth import _cohorts, _retention
from custval.metrics.segments import DEFAULT_SEGMENTS, concentration_of, segments_of_summary
from custval.models.comparison import MODELS

#: Period of the retention and cohort tables (calendar months, as finance reports them).
GROWTH_FREQ = "M"
#: Share of the observed time the default calibration split leaves for the holdout.
HOLDOUT_SHARE = 0.2
#: Rows of the at-risk and top-CLV lists (the full flags are in customers.<fmt>).
TOP_ROWS = 25

STAGES = ["summary", "kpis", "retention", "cohorts", "segments", "model", "scoring"]

PREDICTION_COLUMNS = {
    "p_alive": pa.float64(),
    "expected_purchases": pa.float64(),
    "expected_spend": pa.float64(),
    "clv": pa.float64(),
}


@dataclass
class ModelOutcome:
    """What the model stage found: the chosen model and how it was judged, or the error."""

    name: str | None = None
    purchase: Any = None  # fitted on the whole history
    spend: Any = None  # Gamma-Gamma, when there is an amount
    calibration_model: Any = None  # the same model fitted on the calibration split
    calibration_end: str | None = None
    holdout_meta: dict[str, Any] = field(default_factory=dict)
    comparison: pd.DataFrame | None = None
    failed_candidates: dict[str, str] = field(default_factory=dict)
    evaluation: Any = None
    predictions: pa.Table | None = None
    at_risk: pd.DataFrame | None = None
    horizon_in_model_units: float | None = None
    error: str | None = None

    @property
    def converged(self) -> bool:
        return self.error is None and self.purchase is not None


@dataclass
class Results:
    """Everything the outputs and the report are made of."""

    observation_end: str
    first_purchase: pd.Timestamp
    summary: pa.Table
    kpis: custval.Kpis
    concentration: Any
    retention: pa.Table
    cohorts: pa.Table
    segments: pa.Table  # one row per segment
    customers: pa.Table
    model: ModelOutcome
    dropped: dict[str, Any]


def _roles(options: RunOptions) -> dict[str, Any]:
    return {
        "customer": options.customer,
        "time": options.time,
        "amount": options.amount,
        "order": options.order,
    }


def _bounded_log(inputs: Inputs, options: RunOptions, end: str) -> _files.FileLog:
    """The streamed log for retention and cohorts, with the rows after ``end`` left out as
    they are read (those functions have no end bound of their own). Without the order column:
    neither table counts orders, and distinct orders per customer-period would cost memory."""
    log = _files.log(inputs.dataset, **{**_roles(options), "order": None})
    if not isinstance(log, _files.FileLog):  # sources.open_inputs checked the types
        raise JobError(ExitCode.BAD_INPUT, "the input cannot be streamed")
    end_value = _input.time_value(end, log.time_unit, None, name="observation_end")
    unit = pa.timestamp(log.time_unit)
    log.rows_where = pc.field(options.time).cast(unit) <= pa.scalar(end_value, unit)
    return log


def _observation_end(summary: pa.Table, options: RunOptions) -> str:
    """The given end, or the last transaction's time the summary recorded (never "now")."""
    return options.observation_end or _frames.metadata_of(summary)["observation_end"]


def default_calibration_end(first: pd.Timestamp, end: pd.Timestamp) -> str:
    """The day that leaves the last :data:`HOLDOUT_SHARE` of the observed time as holdout.

    Examples
    --------
    >>> from custval.batch.pipeline import default_calibration_end
    >>> import pandas as pd
    >>> default_calibration_end(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-12-31"))
    '2024-10-19'
    """
    return (first + (end - first) * (1 - HOLDOUT_SHARE)).date().isoformat()


def _fit_candidates(holdout: pa.Table, outcome: ModelOutcome, names: tuple[str, ...]) -> dict:
    fitted = {}
    for name in names:
        try:
            fitted[name] = MODELS[name]().fit(
                holdout, frequency="frequency_cal", recency="recency_cal", T="T_cal"
            )
        except ConvergenceError as err:
            outcome.failed_candidates[name] = str(err)
            LOGGER.warning("%s did not converge on the calibration split: %s", name, err)
    return fitted


def _choose_model(options: RunOptions, inputs: Inputs, end: str, first: pd.Timestamp, outcome):
    """Fit the candidates on the calibration split, compare them on the holdout and evaluate
    the best (lowest holdout MAE)."""
    roles = _roles(options)
    outcome.calibration_end = options.calibration_end or default_calibration_end(
        first, pd.Timestamp(end)
    )
    holdout = custval.calibration_holdout(
        inputs.dataset,
        **roles,
        calibration_end=outcome.calibration_end,
        observation_end=end,
        freq=options.freq,
        output="arrow",
    )
    outcome.holdout_meta = _frames.metadata_of(holdout) | {"customers": holdout.num_rows}
    fitted = _fit_candidates(holdout, outcome, options.candidates)
    if not fitted:
        raise ConvergenceError(
            "no candidate model converged on the calibration split: "
            + "; ".join(f"{k}: {v}" for k, v in outcome.failed_candidates.items())
        )
    outcome.comparison = custval.compare_models(fitted, holdout, output="pandas")
    outcome.name = next(n for n in outcome.comparison.index if n != "baseline")
    outcome.calibration_model = fitted[outcome.name]
    outcome.evaluation = custval.evaluate(outcome.calibration_model, holdout)


def _score(options: RunOptions, summary: pa.Table, outcome: ModelOutcome) -> None:
    """Refit the chosen model (and Gamma-Gamma) on the whole history; predict per customer."""
    outcome.purchase = MODELS[outcome.name]().fit(summary)
    if options.amount is not None:
        outcome.spend = custval.GammaGamma().fit(summary)
    unit = outcome.purchase.time_unit_
    factor = _native.time_unit_factor(options.horizon_unit, unit["freq"], unit["freq_multiplier"])
    outcome.horizon_in_model_units = options.horizon * factor
    outcome.predictions = outcome.purchase.predict(
        summary,
        outcome.horizon_in_model_units,
        spend_model=outcome.spend,
        customer=options.customer,
        horizon=options.horizon,
        horizon_unit=options.horizon_unit,
        discount_rate=options.discount_rate,
        margin=options.margin,
        output="arrow",
    )
    if options.amount is not None:
        outcome.at_risk = custval.at_risk(
            outcome.purchase,
            summary,
            spend_model=outcome.spend,
            customer=options.customer,
            output="pandas",
        )


def _segments_table(by_customer: pa.Table) -> pa.Table:
    """One row per segment, most revenue first: customers, their share, exact revenue and its
    share, orders, AOV and mean periods since the last purchase."""
    aggregates = [
        ("segment", "count"),
        ("n_orders", "sum"),
        ("periods_since_last_purchase", "mean"),
    ]
    if "revenue" in by_customer.column_names:
        aggregates.append(("revenue", "sum"))
    grouped = by_customer.group_by("segment").aggregate(aggregates)
    customers = grouped.column("segment_count")
    out = {
        "segment": grouped.column("segment"),
        "customers": customers,
        "customer_share": pc.divide(customers.cast(pa.float64()), by_customer.num_rows),
        "orders": grouped.column("n_orders_sum"),
        "mean_periods_since_last_purchase": grouped.column("periods_since_last_purchase_mean"),
    }
    order_by = [("customers", "descending"), ("segment", "ascending")]
    if "revenue_sum" in grouped.column_names:
        revenue = grouped.column("revenue_sum")
        total = float(pc.sum(revenue).as_py() or 0)
        as_float = revenue.cast(pa.float64())
        out["revenue"] = revenue
        out["revenue_share"] = pc.divide(as_float, total) if total else pc.multiply(as_float, 0)
        out["aov"] = pc.divide(as_float, grouped.column("n_orders_sum").cast(pa.float64()))
        order_by = [("revenue", "descending"), ("segment", "ascending")]
    return pa.table(out).sort_by(order_by)


def _customers(summary: pa.Table, segments: pa.Table, options, outcome) -> pa.Table:
    """One row per customer (first-appearance order): summary, scores, segment, predictions."""
    table = summary.replace_schema_metadata(None)
    for name in ("r_score", "f_score", "m_score", "rfm_score", "segment"):
        if name in segments.column_names:
            table = table.append_column(name, segments.column(name))
    predictions = outcome.predictions
    for name, kind in PREDICTION_COLUMNS.items():
        if predictions is not None and name in predictions.column_names:
            column = predictions.column(name)
        else:  # no model (it did not converge) or no amount: the column is there, null
            column = pa.nulls(table.num_rows, kind)
        table = table.append_column(name, column)
    if outcome.at_risk is not None:
        flagged = pa.array(outcome.at_risk.index.to_numpy())
        at_risk = pc.is_in(
            table.column(options.customer),
            value_set=flagged.cast(table.schema.field(options.customer).type),
        )
    else:
        at_risk = pa.nulls(table.num_rows, pa.bool_())
    return table.append_column("at_risk", at_risk)


def run(options: RunOptions, inputs: Inputs, progress: Progress) -> Results:
    """Every stage of the job over ``inputs``; a model that does not converge is recorded in
    the outcome (the other results are complete)."""
    roles = _roles(options)
    data = inputs.dataset
    with progress.stage("summary"):
        summary = custval.rfm_summary(
            data,
            **roles,
            freq=options.freq,
            observation_end=options.observation_end,
            money="decimal",
            output="arrow",
        )
        if summary.num_rows == 0:
            raise JobError(
                ExitCode.BAD_INPUT,
                f"no transactions up to the observation end in {len(inputs.files)} file(s) "
                f"({inputs.rows:,} rows)",
            )
        end = _observation_end(summary, options)
        first = pd.Timestamp(pc.min(summary.column("first_purchase")).as_py())
        meta = _frames.metadata_of(summary)
    with progress.stage("kpis"):
        kpis = custval.kpis(data, **roles, end=end, margin=options.margin, money="decimal")
    with progress.stage("retention"):
        retention = _retention(
            _bounded_log(inputs, options, end),
            freq=GROWTH_FREQ,
            active_window=1,
            decimal=True,
            scale=2,
            output="arrow",
        )
    with progress.stage("cohorts"):
        cohorts = _cohorts(
            _bounded_log(inputs, options, end),
            freq=GROWTH_FREQ,
            value="active",
            normalize=True,
            decimal=False,
            scale=2,
            output="arrow",
        )
    with progress.stage("segments"):
        by_customer = segments_of_summary(
            summary, customer=options.customer, bins=5, segments=DEFAULT_SEGMENTS
        )
        segments = _segments_table(by_customer)
        concentration = None
        if options.amount is not None:
            concentration = concentration_of(
                summary.column("revenue").cast(pa.float64()).to_numpy()
            )
    outcome = ModelOutcome()
    try:
        with progress.stage("model"):
            _choose_model(options, inputs, end, first, outcome)
        with progress.stage("scoring"):
            _score(options, summary, outcome)
    except ConvergenceError as err:
        outcome.error = str(err)
        outcome.predictions = outcome.at_risk = None
        LOGGER.error("model did not converge: %s", err)
    dropped = {
        "rows_after_observation_end": int(meta.get("rows_after_observation_end", 0)),
        "customers_first_seen_in_holdout": outcome.holdout_meta.get(
            "customers_first_seen_in_holdout"
        ),
        "customers_without_repeat_purchase_not_in_spend_fit": (
            outcome.spend.n_excluded_ if outcome.spend is not None else None
        ),
    }
    return Results(
        observation_end=end,
        first_purchase=first,
        summary=summary,
        kpis=kpis,
        concentration=concentration,
        retention=retention,
        cohorts=cohorts,
        segments=segments,
        customers=_customers(summary, by_customer, options, outcome),
        model=outcome,
        dropped=dropped,
    )
