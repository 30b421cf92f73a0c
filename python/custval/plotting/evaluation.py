"""Holdout and value: calibration against holdout, models against the baseline, the spread
of predicted CLV and the valuable customers at risk."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from custval import _frames
from custval.exceptions import ColumnNotFoundError, CustvalError
from custval.models.evaluation import Evaluation, evaluate
from custval.models.risk import customer_risk, value_cut
from custval.plotting._base import (
    axes,
    check_positive_int,
    percent_axis,
    plain_log_axis,
    thousands_axis,
)


def plot_calibration_purchases_vs_holdout_purchases(
    model: Any,
    calibration_holdout: Any = None,
    n: int = 7,
    *,
    title: str = "Actual Purchases in Holdout Period vs Predicted Purchases",
    xlabel: str = "Purchases in calibration period",
    ylabel: str = "Average of purchases in holdout period",
    ax: Any = None,
    **kwargs: Any,
):
    """Mean holdout purchases by calibration purchases, actual against predicted.

    lifetimes' ``plot_calibration_purchases_vs_holdout_purchases`` (Fader, Hardie & Lee 2005,
    Figure 4), drawn from the conditional-expectation table of :func:`custval.evaluate`:
    groups 0 … n − 1 and ``n+`` calibration purchases.

    Parameters
    ----------
    model : fitted purchase model or Evaluation
        A model fitted on the calibration columns, or the result of :func:`custval.evaluate`
        (then ``calibration_holdout`` and ``n`` are not needed).
    calibration_holdout : frame, optional
        The table of :func:`custval.calibration_holdout`.
    n : int
        Number of groups before the last, open one.
    title, xlabel, ylabel : str
        Texts of the Axes.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to both ``Axes.plot`` calls.

    Returns
    -------
    matplotlib Axes
        Lines "Actual" and "Model", one point per group.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_cdnow
    >>> table = custval.calibration_holdout(load_cdnow(), calibration_end="1997-09-30",
    ...                                     freq="D", freq_multiplier=7)
    >>> model = custval.BetaGeo().fit(table, frequency="frequency_cal",
    ...                               recency="recency_cal", T="T_cal")
    >>> ax = custval.plotting.plot_calibration_purchases_vs_holdout_purchases(model, table)
    >>> [round(float(v), 2) for v in ax.lines[0].get_ydata()]  # actual means
    [0.24, 0.7, 1.39, 1.56, 2.53, 2.95, 3.86, 6.36]

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers the
       Easy Way: An Alternative to the Pareto/NBD Model." Marketing Science 24(2), 275–284.
    """
    if isinstance(model, Evaluation):
        table = model.conditional_expectation
    else:
        if calibration_holdout is None:
            raise CustvalError(
                "calibration_holdout is needed with a model (or pass the Evaluation of "
                "custval.evaluate)"
            )
        n = check_positive_int(n, "n")
        table = evaluate(model, calibration_holdout, max_frequency=n).conditional_expectation
    ax = axes(ax)
    positions = np.arange(len(table))
    ax.plot(positions, table["actual_mean"].to_numpy(), marker="o", label="Actual", **kwargs)
    ax.plot(positions, table["predicted_mean"].to_numpy(), marker="s", label="Model", **kwargs)
    ax.set_xticks(positions, [str(label) for label in table.index])
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.set_ylim(bottom=0)
    ax.legend()
    return ax


_METRIC_NAMES = {
    "mae": "Mean absolute error",
    "rmse": "Root mean squared error",
    "bias": "Bias (mean predicted − actual)",
    "relative_total_error": "Relative error of the total",
}


def plot_model_comparison(
    table: Any,
    metric: str = "mae",
    *,
    title: str | None = None,
    ax: Any = None,
    **kwargs: Any,
):
    """Holdout error of each model against the naive baseline, from
    :func:`custval.compare_models`: one horizontal bar per row, best at the top, the
    baseline grey with a dashed line through its value, each bar labelled with its value and
    its change against the baseline.

    Parameters
    ----------
    table : DataFrame, pyarrow Table or polars DataFrame
        The result of :func:`custval.compare_models`.
    metric : {"mae", "rmse", "bias", "relative_total_error"}
        The column drawn (rates in percent).
    title : str, optional
        By default the metric's name and the holdout's customers.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.barh``.

    Returns
    -------
    matplotlib Axes
        One bar container, bars in the table's order (top to bottom).

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_cdnow
    >>> table = custval.calibration_holdout(load_cdnow(), calibration_end="1997-09-30",
    ...                                     freq="D", freq_multiplier=7)
    >>> comparison = custval.compare_models(["bgnbd", "pnbd"], table)
    >>> ax = custval.plotting.plot_model_comparison(comparison)
    >>> [tick.get_text() for tick in ax.get_yticklabels()]
    ['pnbd', 'bgnbd', 'baseline']
    >>> [round(float(bar.get_width()), 3) for bar in ax.containers[0]]
    [0.755, 0.785, 1.024]
    """
    if metric not in _METRIC_NAMES:
        allowed = ", ".join(map(repr, _METRIC_NAMES))
        raise CustvalError(f"metric must be one of {allowed}, not {metric!r}")
    frame, _ = _frames.to_pandas(table, what="the table of custval.compare_models")
    if "name" in frame.columns:
        frame = frame.set_index("name")
    if metric not in frame.columns or "model" not in frame.columns:
        raise ColumnNotFoundError(
            f"table: column {metric!r} not found; pass the table of custval.compare_models"
        )
    values = frame[metric].astype("float64").to_numpy()
    names = [str(name) for name in frame.index]
    baseline = frame["model"].to_numpy() == "baseline"
    colors = np.where(baseline, "0.7", "C0")
    ax = axes(ax)
    positions = np.arange(len(values))
    kwargs.setdefault("color", list(colors))
    ax.barh(positions, values, **kwargs)
    ax.set_yticks(positions, names)
    ax.invert_yaxis()
    rate = metric == "relative_total_error"
    reference = values[baseline][0] if baseline.any() else None
    for position, value, is_baseline in zip(positions, values, baseline, strict=True):
        text = f"{value:.1%}" if rate else f"{value:,.3f}"
        if reference and not is_baseline:
            text += f"  ({abs(value) / abs(reference) - 1:+.0%} vs baseline)"
        ax.annotate(
            text,
            (value, position),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            ha="left" if value >= 0 else "right",
            fontsize="small",
        )
    if reference is not None:
        ax.axvline(reference, color="0.5", linestyle="--", linewidth=1)
    ax.axvline(0, color="black", linewidth=0.8)
    if rate:
        percent_axis(ax.xaxis)
    customers = _frames.metadata_of(table).get("customers")
    where = f" on {customers:,} holdout customers" if customers else ""
    if title is None:
        better = "" if metric == "bias" else "\n(lower is better)"
        title = f"{_METRIC_NAMES[metric]}{where}{better}"
    ax.set(title=title, xlabel=_METRIC_NAMES[metric])
    ax.margins(x=0.3)
    return ax


def _values(clv: Any) -> np.ndarray:
    if isinstance(clv, pd.DataFrame | pd.Series):
        series = clv["clv"] if isinstance(clv, pd.DataFrame) else clv
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if type(clv).__module__.split(".")[0] == "polars":
        column = clv["clv"] if hasattr(clv, "columns") else clv
        return column.to_numpy().astype(np.float64)
    if hasattr(clv, "column_names"):  # pyarrow Table
        return np.asarray(clv.column("clv").to_numpy(), dtype=np.float64)
    return np.asarray(clv, dtype=np.float64)


def plot_clv_distribution(
    clv: Any,
    bins: int = 50,
    *,
    title: str = "Distribution of predicted customer lifetime value",
    xlabel: str = "Predicted CLV (money, log scale)",
    ax: Any = None,
    **kwargs: Any,
):
    """Histogram of predicted CLV on a logarithmic scale, the top-decile cut marked.

    Bins are evenly spaced in log(CLV) over the positive values (the lowest 0.5 % of them
    counted in the first bin; customers with a CLV of 0 are counted in the legend); the
    dashed line is the value the top 10 % of customers reach, labelled with their share of
    the total.

    Parameters
    ----------
    clv : Series, array, or frame with a ``clv`` column
        Per-customer CLV, e.g. from :func:`custval.customer_lifetime_value`.
    bins : int
        Number of bins.
    title, xlabel : str
        Texts of the Axes.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.hist``.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import custval
    >>> from custval.plotting import plot_clv_distribution
    >>> ax = plot_clv_distribution([1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0,
    ...                             1000.0], bins=5)
    >>> int(sum(patch.get_height() for patch in ax.patches))
    10
    >>> ax.lines[0].get_label()
    'Top 10%: CLV ≥ 550.0 (53.0% of the total)'
    """
    values = _values(clv)
    bins = check_positive_int(bins, "bins")
    if np.isnan(values).any():
        raise CustvalError(f"clv: {int(np.isnan(values).sum())} values are NaN or null")
    if (values < 0).any():
        raise CustvalError(f"clv: {int((values < 0).sum())} values are negative")
    positive = values[values > 0]
    if positive.size == 0:
        raise CustvalError("clv: no positive values to draw")
    cut = float(np.quantile(values, 0.9))
    share = values[values >= cut].sum() / values.sum()
    ax = axes(ax)
    # A few near-zero predictions would stretch the log axis over many empty decades: the
    # lowest 0.5 % of positive values are counted in the first bin.
    low, high = float(np.quantile(positive, 0.005)), positive.max()
    positive = np.clip(positive, low, None)
    edges = np.geomspace(low, high if high > low else low * 10, bins + 1)
    zeros = values.size - positive.size
    label = f"{positive.size:,} customers" + (f" ({zeros:,} with CLV 0 not shown)" if zeros else "")
    kwargs.setdefault("label", label)
    ax.hist(positive, bins=edges, **kwargs)
    ax.set_xscale("log")
    plain_log_axis(ax.xaxis)
    share_text = f"{share:.1%}"
    ax.axvline(
        cut,
        color="C3",
        linestyle="--",
        label=f"Top 10%: CLV ≥ {cut:,.1f} ({share_text} of the total)",
    )
    ax.set(title=title, xlabel=xlabel, ylabel="Customers")
    thousands_axis(ax.yaxis)
    ax.legend()
    return ax


def plot_at_risk(
    at_risk_table: Any,
    purchase_model: Any = None,
    summary: Any = None,
    *,
    spend_model: Any = None,
    title: str = "Valuable customers at risk of being lost",
    ax: Any = None,
    **kwargs: Any,
):
    """Value against P(alive): the customers :func:`custval.at_risk` selected, highlighted.

    The selected customers are drawn in red, their marker area proportional to the value at
    risk; the horizontal line is the P(alive) threshold. Given the model and the summary
    ``at_risk`` was called with, every other customer is drawn in grey behind them and the
    vertical line marks the value cut of the top share.

    Parameters
    ----------
    at_risk_table : DataFrame, pyarrow Table or polars DataFrame
        The result of :func:`custval.at_risk` (its threshold and share are read from its
        metadata).
    purchase_model, summary, spend_model : optional
        The arguments ``at_risk`` was given, to draw everyone else.
    title : str
        Title of the Axes.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.scatter`` of the selected customers.

    Returns
    -------
    matplotlib Axes
        The scatter collections: everyone (when given), then the selected customers.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_cdnow
    >>> summary = custval.rfm_summary(load_cdnow(), amount="amount", freq="D",
    ...                               freq_multiplier=7)
    >>> model = custval.BetaGeo().fit(summary)
    >>> risky = custval.at_risk(model, summary)
    >>> ax = custval.plotting.plot_at_risk(risky, model, summary)
    >>> [len(c.get_offsets()) for c in ax.collections] == [len(summary), len(risky)]
    True
    """
    frame, _ = _frames.to_pandas(at_risk_table, what="the table of custval.at_risk")
    missing = [c for c in ("value", "p_alive", "value_at_risk") if c not in frame.columns]
    if missing:
        raise ColumnNotFoundError(
            f"at_risk_table: columns {missing} not found; pass the table of custval.at_risk"
        )
    meta = _frames.metadata_of(at_risk_table)
    threshold = meta.get("p_alive_below")
    ax = axes(ax)
    if (purchase_model is None) != (summary is None):
        raise CustvalError("purchase_model and summary go together (to draw every customer)")
    if purchase_model is not None:
        roles = {"frequency": "frequency", "recency": "recency", "T": "T"}
        _, value, p_alive, _ = customer_risk(purchase_model, summary, spend_model, roles)
        ax.scatter(value, p_alive, s=6, color="0.75", label=f"All {value.size:,} customers")
        share = meta.get("top_value_share")
        if share is not None:
            ax.axvline(
                value_cut(value, share),
                color="0.4",
                linestyle=":",
                label=f"Top {share:.0%} by value",
            )
    at_stake = frame["value_at_risk"].to_numpy(dtype=np.float64)
    area = 20 + 200 * at_stake / at_stake.max() if at_stake.size else 20
    kwargs.setdefault("color", "C3")
    kwargs.setdefault("alpha", 0.7)
    ax.scatter(
        frame["value"].to_numpy(dtype=np.float64),
        frame["p_alive"].to_numpy(),
        s=area,
        label=f"At risk: {len(frame):,} customers, {at_stake.sum():,.0f} value at risk",
        **kwargs,
    )
    if threshold is not None:
        ax.axhline(threshold, color="C3", linestyle="--", label=f"P(alive) < {threshold:.0%}")
    what = meta.get("value", "value")
    xlabel = {"expected_spend": "Expected spend per purchase (money)"}.get(
        what, f"Past {what} (money)"
    )
    if (frame["value"] > 0).all() and (purchase_model is None or (value > 0).all()):
        ax.set_xscale("log")  # values span orders of magnitude
        plain_log_axis(ax.xaxis)
    ax.set(title=title, xlabel=xlabel, ylabel="P(alive)")
    ax.set_ylim(-0.02, 1.02)
    percent_axis(ax.yaxis)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, fontsize="small")
    return ax
