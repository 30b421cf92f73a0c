"""report.html: the job's results → figures and small tables → one self-contained page.

Data, figures and template are kept apart (as ydata-profiling does): this module picks what
to show and formats it, :mod:`custval.batch.figures` draws, ``templates/report.html.j2``
(autoescaped jinja2, inline CSS, no scripts, no external references) lays it out.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import jinja2
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import custval
from custval import _files, plotting
from custval.batch import figures
from custval.batch.options import RunOptions
from custval.batch.pipeline import TOP_ROWS, Results
from custval.batch.sources import Inputs

#: Section ids, in page order (tests check that each one is there).
SECTIONS = (
    "kpis",
    "retention",
    "cohorts",
    "segments",
    "concentration",
    "model-fit",
    "comparison",
    "calibration",
    "tracking",
    "top-clv",
    "at-risk",
    "inputs",
)


def _text(value: Any, digits: int = 2) -> str:
    """A number as people read it: thousands separators, money to the cent, '—' for none."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, dt.date):  # datetimes and pandas Timestamps too
        return f"{value:%Y-%m-%d}"
    return str(value)


def _percent(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:.1%}"


#: How columns of these names read best (anything else: by its type, see ``_text``).
_WHOLE = {"frequency", "recency", "T", "n_orders", "orders"}
_SHARES = {"customer_share", "revenue_share", "p_alive"}
_ERRORS = {"mae", "rmse", "bias"}  # errors of about one purchase: four places tell models apart


def _cell(column: str, value: Any, ids: str | None) -> str:
    value = value.item() if hasattr(value, "item") else value
    if column == ids:
        return str(value)  # an id, not a quantity: no thousands separators
    if column in _SHARES and isinstance(value, float):
        return _percent(value)
    if column in _WHOLE and isinstance(value, float) and value == int(value):
        return f"{int(value):,}"
    if column in _ERRORS:
        return _text(value, 4)
    return _text(value)


def _rows(
    table: pa.Table | pd.DataFrame, columns: list[str], ids: str | None = None
) -> list[list[str]]:
    """Formatted cells of ``columns`` (``ids`` names the customer id column, kept verbatim)."""
    if isinstance(table, pd.DataFrame):
        data = {c: table[c].tolist() for c in columns}
        n = len(table)
    else:
        data = {c: table.column(c).to_pylist() for c in columns}
        n = table.num_rows
    return [[_cell(c, data[c][i], ids) for c in columns] for i in range(n)]


def _kpi_cards(results: Results) -> list[tuple[str, str]]:
    k = results.kpis
    cards = [
        ("customers", _text(k.customers)),
        ("orders", _text(k.orders)),
        ("revenue", _text(k.revenue)),
        ("average order value", _text(k.aov)),
        ("orders per customer", _text(k.purchase_frequency)),
        ("repeat-customer rate", _percent(k.repeat_customer_rate)),
        ("spend per customer", _text(k.spend_per_customer)),
    ]
    if k.gross_margin is not None:
        cards.append(("gross margin", _text(k.gross_margin)))
    return cards


def _top(customers: pa.Table, sort_by: str) -> pa.Table:
    table = customers.filter(pc.is_valid(customers.column(sort_by)))
    return table.sort_by([(sort_by, "descending")]).slice(0, TOP_ROWS)


CUSTOMER_COLUMNS = ["frequency", "recency", "T", "revenue", "segment", "p_alive", "clv"]


def _customer_rows(table: pa.Table, options: RunOptions) -> list[list[str]]:
    present = [c for c in CUSTOMER_COLUMNS if c in table.column_names]
    return _rows(table, [options.customer, *present], ids=options.customer)


def _png(plot: Any, *args: Any, figsize: tuple[float, float] = figures.FIGSIZE, **options: Any):
    return figures.png_data_uri(figures.plotted(plot, *args, **options), figsize=figsize)


#: Periods per tracking row: a row a day (or hour) is finer than a chart shows. Periods stay
#: the summary's, so the log's purchases are counted as the model counts them.
TRACKING_STEP = {"h": 24, "D": 7}


#: Above this many customers, tracking follows a sample of them: the kernel keeps every
#: customer-period of the log (about 3 GiB for 100M transactions on distinct days).
TRACKING_ALL_UP_TO = 1_000_000
#: The sample: customers whose integer id is 0 modulo this (a power of two).
TRACKING_SAMPLE = 16


def _tracking_log(options: RunOptions, inputs: Inputs, results: Results):
    """(the log tracking reads, the sample it is: 1 = every customer)."""
    log = _files.log(inputs.dataset, customer=options.customer, time=options.time)
    integer_ids = pa.types.is_integer(log.customer_type)
    if results.customers.num_rows <= TRACKING_ALL_UP_TO or not integer_ids:
        return log, 1
    picked = pc.bit_wise_and(pc.field(options.customer), TRACKING_SAMPLE - 1)
    log.rows_where = pc.equal(picked, 0)
    return log, TRACKING_SAMPLE


def _tracking_png(options: RunOptions, inputs: Inputs, results: Results) -> tuple[str, int]:
    """The calibration model's expected cumulative repeat purchases against the log's, from
    the first purchase period to the observation end (one more pass over the input), and the
    sample of customers it follows."""
    m = results.model
    freq = options.freq
    end = pd.Timestamp(results.observation_end)
    periods = pd.Period(end, freq) - pd.Period(results.first_purchase, freq)
    log, sample = _tracking_log(options, inputs, results)
    title = "Tracking cumulative transactions"
    if sample > 1:
        title += f" (customers with id ≡ 0 mod {sample})"
    png = _png(
        plotting.plot_cumulative_transactions,
        m.calibration_model,
        log,
        customer=options.customer,
        time=options.time,
        t=periods.n + 1,
        t_cal=m.calibration_end,
        freq=freq,
        freq_multiplier=TRACKING_STEP.get(freq, 1),
        observation_end=results.observation_end,
        title=title,
    )
    return png, sample


def _model_section(options: RunOptions, inputs: Inputs, results: Results) -> dict[str, Any]:
    m = results.model
    out: dict[str, Any] = dict.fromkeys(
        (
            "parameters",
            "fit_png",
            "period_png",
            "fit_stats",
            "comparison_header",
            "comparison_rows",
            "comparison_png",
            "evaluation",
            "calibration_png",
            "tracking_png",
            "tracking_sample",
        )
    )
    out.update(converged=m.converged, error=m.error, name=m.name, calibration_end=m.calibration_end)
    if m.comparison is not None:
        columns = ["model", "aic", "bic", "mae", "rmse", "bias"]
        frame = m.comparison.reset_index()
        out["comparison_header"] = ["name", *columns]
        out["comparison_rows"] = _rows(frame, ["name", *columns])
        out["comparison_png"] = _png(plotting.plot_model_comparison, m.comparison)
    if m.evaluation is not None:
        e = m.evaluation
        out["evaluation"] = [
            ("MAE", _text(e.mae, 4), _text(e.baseline.mae, 4)),
            ("RMSE", _text(e.rmse, 4), _text(e.baseline.rmse, 4)),
            ("bias", _text(e.bias, 4), _text(e.baseline.bias, 4)),
            ("normalized Gini", _text(e.gini, 4), "—"),
        ]
        out["calibration_png"] = _png(plotting.plot_calibration_purchases_vs_holdout_purchases, e)
        out["tracking_png"], out["tracking_sample"] = _tracking_png(options, inputs, results)
    if m.purchase is not None:
        summary = m.purchase.summary()
        out["parameters"] = [
            [name, *(_text(float(v), 4) for v in row)] for name, row in summary.iterrows()
        ]
        out["fit_png"] = figures.png_data_uri(
            figures.parameter_intervals(m.purchase),
            figsize=(8, 1.2 + 0.45 * len(m.purchase.params_)),
        )
        out["period_png"] = _png(plotting.plot_period_transactions, m.purchase, results.summary)
        out["fit_stats"] = (
            f"log-likelihood {m.purchase.log_likelihood_:,.2f}, AIC {m.purchase.aic_:,.2f}, "
            f"BIC {m.purchase.bic_:,.2f}, {m.purchase.n_obs_:,.0f} customers, time unit "
            f"{m.purchase.time_unit_['freq']}"
        )
    return out


def _segment_cells(results: Results) -> pa.Table:
    """What the segment map reads of each customer: scores and a dictionary-encoded segment
    (pandas gets a categorical, not a Python string per customer)."""
    table = results.customers
    segment = pc.dictionary_encode(table.column("segment"))
    return pa.table({"r_score": table["r_score"], "f_score": table["f_score"], "segment": segment})


def _at_risk_png(results: Results) -> str:
    m = results.model
    everyone = results.customers.num_rows <= figures.SCATTER_EVERYONE_UP_TO
    context = (m.purchase, results.summary) if everyone else ()
    return _png(plotting.plot_at_risk, m.at_risk, *context, spend_model=m.spend)


def context(options: RunOptions, inputs: Inputs, results: Results) -> dict[str, Any]:
    """Everything the template shows, formatted."""
    customers = results.customers
    retention = results.retention
    segment_columns = [
        c
        for c in ("segment", "customers", "customer_share", "revenue", "revenue_share", "aov")
        if c in results.segments.column_names
    ]
    ctx: dict[str, Any] = {
        "version": custval.__version__,
        "observation_end": results.observation_end,
        "options": options,
        "inputs": inputs,
        "kpis": _kpi_cards(results),
        "retention_png": _png(plotting.plot_retention, retention),
        "retention_revenue_png": None,
        "retention_rows": _rows(
            retention.slice(max(0, retention.num_rows - 12)),
            ["period", "active", "new", "retained", "resurrected", "churned"],
        ),
        "cohorts_png": _png(plotting.plot_cohorts, results.cohorts, figsize=(8, 5.5)),
        "segments_png": _png(plotting.plot_segments, _segment_cells(results), figsize=(8, 5.5)),
        "segment_header": segment_columns,
        "segment_rows": _rows(results.segments, segment_columns),
        "concentration": results.concentration,
        "model": _model_section(options, inputs, results),
        "dropped": results.dropped,
        "customer_header": [options.customer]
        + [c for c in CUSTOMER_COLUMNS if c in customers.column_names],
    }
    keys = ("lorenz_png", "clv_png", "top_clv_rows", "at_risk_png", "at_risk_header")
    ctx.update(dict.fromkeys((*keys, "at_risk_rows")))
    ctx["at_risk_total"] = 0
    if options.amount is not None:
        ctx["retention_revenue_png"] = _png(plotting.plot_retention, retention, "revenue")
    if results.concentration is not None:
        ctx["lorenz_png"] = _png(plotting.plot_lorenz, results.concentration)
    if results.model.converged and options.amount is not None:
        ctx["top_clv_rows"] = _customer_rows(_top(customers, "clv"), options)
        clv = customers.column("clv").to_numpy()
        ctx["clv_png"] = _png(plotting.plot_clv_distribution, clv)
    if results.model.at_risk is not None:
        risky = results.model.at_risk.head(TOP_ROWS).reset_index()
        ctx["at_risk_header"] = list(risky.columns)
        ctx["at_risk_rows"] = _rows(risky, list(risky.columns), ids=options.customer)
        ctx["at_risk_total"] = len(results.model.at_risk)
        ctx["at_risk_png"] = _at_risk_png(results)
    return ctx


def render(options: RunOptions, inputs: Inputs, results: Results) -> str:
    """The report as one HTML string."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("custval.batch", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["num"] = _text
    environment.filters["pct"] = _percent
    template = environment.get_template("report.html.j2")
    return template.render(sections=SECTIONS, **context(options, inputs, results))
