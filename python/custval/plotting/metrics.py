"""The customer base: cohort heatmaps, growth accounting, the RFM segment map and the Lorenz
curve of value (tables no BTYD peer draws)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from custval import _frames
from custval.exceptions import ColumnNotFoundError, CustvalError
from custval.metrics.segments import DEFAULT_SEGMENTS, Concentration
from custval.plotting._base import axes, percent_axis, thousands_axis

_PERIOD_WORDS = {"h": "hours", "D": "days", "W": "weeks", "M": "months", "Q": "quarters"}
_PERIOD_WORDS["Y"] = "years"
_PERIOD_FORMAT = {"Y": "%Y", "Q": "%Y-%m", "M": "%Y-%m", "W": "%Y-%m-%d", "D": "%Y-%m-%d"}
_COHORT_TITLES = {
    ("active", True): "Share of each cohort active, by periods since first purchase",
    ("active", False): "Active customers of each cohort, by periods since first purchase",
    ("revenue", False): "Revenue of each cohort, by periods since first purchase",
    ("orders", False): "Orders of each cohort, by periods since first purchase",
    ("cumulative_revenue_per_customer", False): "Cumulative revenue per customer of each cohort",
}


def _by_first_column(table: Any, what: str, index: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A custval result as pandas indexed by ``index`` (polars and Arrow results carry it as a
    first column), with its metadata."""
    frame, _ = _frames.to_pandas(table, what=what)
    if index in frame.columns:
        frame = frame.set_index(index)
    return frame, _frames.metadata_of(table)


def _cell_text(value: float, value_kind: str, normalized: bool) -> str:
    if value_kind == "active" and normalized:
        return f"{value:.0%}"
    if value_kind in ("revenue", "cumulative_revenue_per_customer") and abs(value) < 1000:
        return f"{value:,.2f}" if value_kind != "revenue" else f"{value:,.0f}"
    if abs(value) >= 10_000:
        return f"{value / 1000:,.0f}k"
    return f"{value:,.0f}"


def plot_cohorts(
    cohort_table: Any,
    *,
    annotate: bool | None = None,
    title: str | None = None,
    ax: Any = None,
    **kwargs: Any,
):
    """Heatmap of a :func:`custval.cohorts` table: one row per cohort (labelled with its
    size), one column per period since first purchase, cells annotated; cells not yet
    observable (null) are left blank.

    Parameters
    ----------
    cohort_table : DataFrame, pyarrow Table or polars DataFrame
        The result of :func:`custval.cohorts` (share, counts, revenue or cumulative value per
        customer; its metadata says which, for the title and the cell format).
    annotate : bool, optional
        Write each cell's value in it; by default when there are at most 400 cells.
    title : str, optional
        By default it says what the cells hold.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.imshow`` (``cmap="viridis"``, ``vmax=`` …).

    Returns
    -------
    matplotlib Axes
        One image whose array equals the table's cells (masked where null), with a colour
        bar.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_cdnow
    >>> table = custval.cohorts(load_cdnow(), freq="Q")
    >>> ax = custval.plotting.plot_cohorts(table)
    >>> ax.images[0].get_array().round(3).tolist()
    [[1.0, 0.222, 0.177, 0.171, 0.163, 0.127]]
    >>> ax.get_yticklabels()[0].get_text()
    '1997-01  (2,357)'
    """
    frame, meta = _by_first_column(cohort_table, "the table of custval.cohorts", "cohort")
    if "cohort_size" not in frame.columns:
        raise ColumnNotFoundError(
            "cohort_table: column 'cohort_size' not found; pass the table of custval.cohorts"
        )
    periods = [c for c in frame.columns if c != "cohort_size"]
    cells = frame[periods].astype("float64").to_numpy()
    value_kind, normalized = meta.get("value", "active"), bool(meta.get("normalize", False))
    normalized = normalized and value_kind == "active"
    freq = meta.get("freq", "")
    ax = axes(ax, figsize=(max(6.0, 0.55 * len(periods) + 2.5), max(3.0, 0.4 * len(frame) + 1.8)))
    masked = np.ma.masked_invalid(cells)
    kwargs.setdefault("cmap", "Blues")
    kwargs.setdefault("aspect", "auto")
    kwargs.setdefault("interpolation", "none")
    if normalized:
        kwargs.setdefault("vmin", 0.0)
        if len(periods) > 1 and np.isfinite(cells[:, 1:]).any():
            # Period 0 is 100 % by definition: scaling to the later periods shows their spread
            # (the first column saturates, its cells still read 100 %).
            kwargs.setdefault("vmax", float(np.nanmax(cells[:, 1:])))
    image = ax.imshow(masked, **kwargs)
    bar = ax.figure.colorbar(image, ax=ax)
    if normalized:
        percent_axis(bar.ax.yaxis)
    else:
        thousands_axis(bar.ax.yaxis)
    dates = pd.to_datetime(frame.index)
    fmt = _PERIOD_FORMAT.get(freq, "%Y-%m-%d %H:%M")
    labels = [
        f"{d.strftime(fmt)}  ({size:,})"
        for d, size in zip(dates, frame["cohort_size"], strict=True)
    ]
    ax.set_yticks(np.arange(len(frame)), labels)
    ax.set_xticks(np.arange(len(periods)), [str(p) for p in periods])
    ax.tick_params(top=True, labeltop=True, bottom=False, labelbottom=False)
    ax.xaxis.set_label_position("top")
    words = _PERIOD_WORDS.get(freq, "periods")
    ax.set(xlabel=f"{words.capitalize()} since first purchase", ylabel="Cohort  (customers)")
    ax.set_title(title or _COHORT_TITLES.get((value_kind, normalized), "Cohorts"), pad=12)
    if annotate is None:
        annotate = cells.size <= 400
    if annotate:
        norm = image.norm
        for (row, col), value in np.ndenumerate(cells):
            if np.isnan(value):
                continue
            dark = norm(value) > 0.6
            ax.text(
                col,
                row,
                _cell_text(value, value_kind, normalized),
                ha="center",
                va="center",
                fontsize="x-small",
                color="white" if dark else "black",
            )
    return ax


_CUSTOMER_FLOWS = (("new", "C2"), ("resurrected", "C1"), ("retained", "C0"))
_REVENUE_FLOWS = (("new_revenue", "C2"), ("resurrected_revenue", "C1"))
_REVENUE_FLOWS += (("expansion_revenue", "C0"),)
_LOSSES = {"customers": (("churned", "C3"),)}
_LOSSES["revenue"] = (("churned_revenue", "C3"), ("contraction_revenue", "C4"))


def plot_retention(
    retention_table: Any,
    kind: str = "customers",
    *,
    title: str | None = None,
    ax: Any = None,
    **kwargs: Any,
):
    """Growth accounting as diverging stacked bars, the quick ratio as a line.

    Per period of :func:`custval.retention`: above zero the customers (or revenue) gained or
    kept — new, resurrected and retained customers (``kind="customers"``), or new,
    resurrected and expansion revenue (``kind="revenue"``) — below zero those lost: churned
    customers, or churned and contraction revenue. The quick ratio ((gains) / (losses)) is a
    black line on a second y axis, with 1 (as many gained as lost) dotted. Partial first and
    last periods are drawn lighter.

    Parameters
    ----------
    retention_table : DataFrame, pyarrow Table or polars DataFrame
        The result of :func:`custval.retention` (with ``amount=`` for ``kind="revenue"``).
    kind : {"customers", "revenue"}
        What the bars count.
    title : str, optional
        By default it says what is drawn.
    ax : matplotlib Axes, optional
        Where to draw (the quick ratio gets a twin Axes of it); by default a new figure.
    **kwargs
        Passed to every ``Axes.bar`` call.

    Returns
    -------
    matplotlib Axes
        The bars' Axes: one bar container per flow (losses negative), in the order above.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_cdnow
    >>> table = custval.retention(load_cdnow(), amount="amount", freq="Q")
    >>> ax = custval.plotting.plot_retention(table)
    >>> [c.get_label() for c in ax.containers]
    ['new', 'resurrected', 'retained', 'churned']
    >>> [int(bar.get_height()) for bar in ax.containers[3]]  # churned, drawn below zero
    [0, -1833, -310, -215, -208, -215]
    """
    flows = {"customers": _CUSTOMER_FLOWS, "revenue": _REVENUE_FLOWS}
    if kind not in flows:
        raise CustvalError(f"kind must be 'customers' or 'revenue', not {kind!r}")
    frame, meta = _by_first_column(retention_table, "the table of custval.retention", "period")
    needed = [name for name, _ in (*flows[kind], *_LOSSES[kind])]
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        hint = " (make the table with amount=)" if kind == "revenue" else ""
        raise ColumnNotFoundError(f"retention_table: columns {missing} not found{hint}")
    ratio_column = "quick_ratio" if kind == "customers" else "revenue_quick_ratio"
    ax = axes(ax, figsize=(max(7.0, 0.35 * len(frame) + 3), 4.5))
    positions = np.arange(len(frame))
    partial = (
        frame["partial"].to_numpy(dtype=bool) if "partial" in frame else np.zeros(len(frame), bool)
    )
    from matplotlib.patches import Patch

    # Partial periods are drawn lighter; the legend shows the full colours.
    alpha = np.where(partial, 0.45, 1.0)
    handles = []
    for sign, parts in ((1, flows[kind]), (-1, _LOSSES[kind])):
        stacked = np.zeros(len(frame))
        for name, color in parts:
            heights = sign * frame[name].astype("float64").fillna(0).to_numpy()
            bars = ax.bar(positions, heights, bottom=stacked, color=color, label=name, **kwargs)
            for patch, a in zip(bars, alpha, strict=True):
                patch.set_alpha(a)
            handles.append(Patch(color=color, label=name))
            stacked += heights
    ax.axhline(0, color="black", linewidth=0.8)
    thousands_axis(ax.yaxis)
    freq = meta.get("freq", "")
    dates = pd.to_datetime(frame.index)
    fmt = _PERIOD_FORMAT.get(freq, "%Y-%m-%d")
    step = max(1, len(frame) // 12)
    ax.set_xticks(positions[::step], [d.strftime(fmt) for d in dates[::step]])
    ax.tick_params(axis="x", labelrotation=45)
    ylabel = "Customers" if kind == "customers" else "Revenue (money)"
    ax.set(xlabel="Period", ylabel=f"{ylabel}: gained (+) / lost (−)")
    what = "customers" if kind == "customers" else "revenue"
    ax.set_title(title or f"Growth accounting of {what}, per period")
    ratio = ax.twinx()
    ratio.plot(
        positions,
        frame[ratio_column].astype("float64").to_numpy(),
        color="black",
        marker="o",
        markersize=3,
        label="quick ratio",
    )
    ratio.axhline(1.0, color="black", linestyle=":", linewidth=0.8)
    ratio.set_ylabel("Quick ratio (gained / lost)")
    ratio.set_ylim(bottom=0)
    handles += ratio.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize="small", loc="upper left", bbox_to_anchor=(1.1, 1.0))
    return ax


def _segment_grid(frame: pd.DataFrame, value: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(values per (F, R) cell, segment name per cell, bins) from per-customer segments."""
    missing = [c for c in ("r_score", "f_score", "segment") if c not in frame.columns]
    if missing:
        raise ColumnNotFoundError(
            f"segments: columns {missing} not found; pass the table of custval.rfm_segments "
            "or of custval.segment_summary"
        )
    if value == "revenue" and "revenue" not in frame.columns:
        raise ColumnNotFoundError("segments: value='revenue' needs rfm_segments(amount=)")
    bins = int(max(frame["r_score"].max(), frame["f_score"].max()))
    r = frame["r_score"].to_numpy(dtype=np.int64) - 1
    f = frame["f_score"].to_numpy(dtype=np.int64) - 1
    weights = None if value == "customers" else frame["revenue"].astype("float64").to_numpy()
    cells = np.bincount(f * bins + r, weights=weights, minlength=bins * bins)
    names = np.full(bins * bins, "", dtype=object)
    cell_names = pd.Series(frame["segment"].to_numpy()).groupby(f * bins + r)
    for cell, group in cell_names:
        names[cell] = group.mode().iloc[0]
    return cells.reshape(bins, bins).astype(np.float64), names.reshape(bins, bins), bins


def _summary_grid(frame: pd.DataFrame, value: str) -> tuple[np.ndarray, np.ndarray, int]:
    """The default segments' rectangles, each cell holding its segment's total."""
    column = {"customers": "customers", "revenue": "revenue"}[value]
    if column not in frame.columns:
        raise ColumnNotFoundError(f"segments: column {column!r} not found")
    cells = np.zeros((5, 5))
    names = np.full((5, 5), "", dtype=object)
    for name, (r_low, r_high), (f_low, f_high) in reversed(DEFAULT_SEGMENTS):
        names[f_low - 1 : f_high, r_low - 1 : r_high] = name
    for name in np.unique(names):
        total = float(frame[column].get(name, 0.0))
        cells[names == name] = total
    return cells, names, 5


def plot_segments(
    segments_or_summary: Any,
    value: str = "customers",
    *,
    title: str | None = None,
    ax: Any = None,
    **kwargs: Any,
):
    """The RFM segment map: the R × F grid coloured by customers or revenue, the segments
    outlined and named with their share.

    From :func:`custval.rfm_segments` (per customer) each cell is coloured by its own
    customers or revenue and annotated with it; from :func:`custval.segment_summary` the
    cells of each default segment (DESIGN.md's rules) share the segment's total.

    Parameters
    ----------
    segments_or_summary : DataFrame, pyarrow Table or polars DataFrame
        The result of :func:`custval.rfm_segments` or of :func:`custval.segment_summary`.
    value : {"customers", "revenue"}
        What colours the cells.
    title : str, optional
        By default it says what colours the cells.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.imshow``.

    Returns
    -------
    matplotlib Axes
        One image of shape (bins, bins): row = F score − 1 (bottom to top), column = R score
        − 1 (left to right).

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_cdnow
    >>> segments = custval.rfm_segments(load_cdnow(), amount="amount")
    >>> ax = custval.plotting.plot_segments(segments)
    >>> int(ax.images[0].get_array().sum()) == len(segments)
    True
    """
    if value not in ("customers", "revenue"):
        raise CustvalError(f"value must be 'customers' or 'revenue', not {value!r}")
    frame, _ = _frames.to_pandas(segments_or_summary, what="a table of rfm_segments")
    if "segment" in frame.columns and "r_score" not in frame.columns:
        frame = frame.set_index("segment")
    per_customer = "r_score" in frame.columns
    if per_customer:
        cells, names, bins = _segment_grid(frame, value)
    else:
        cells, names, bins = _summary_grid(frame, value)
    ax = axes(ax, figsize=(7.5, 6.0))
    kwargs.setdefault("cmap", "YlGnBu")
    kwargs.setdefault("origin", "lower")
    kwargs.setdefault("interpolation", "none")
    image = ax.imshow(cells, **kwargs)
    bar = ax.figure.colorbar(image, ax=ax)
    thousands_axis(bar.ax.yaxis)
    total = cells.sum() if per_customer else frame[value].sum()
    # Outline each segment: a line wherever two neighbouring cells belong to different ones.
    for row in range(bins):
        for col in range(bins):
            if col + 1 < bins and names[row, col] != names[row, col + 1]:
                ax.plot([col + 0.5] * 2, [row - 0.5, row + 0.5], color="black", linewidth=1.5)
            if row + 1 < bins and names[row, col] != names[row + 1, col]:
                ax.plot([col - 0.5, col + 0.5], [row + 0.5] * 2, color="black", linewidth=1.5)
    norm = image.norm
    if per_customer:
        for (row, col), amount in np.ndenumerate(cells):
            dark = norm(amount) > 0.6
            ax.text(
                col - 0.45,
                row + 0.45,
                f"{amount:,.0f}",
                ha="left",
                va="top",
                fontsize="x-small",
                color="white" if dark else "0.3",
            )
    for name in np.unique(names[names != ""]):
        rows, cols = np.nonzero(names == name)
        amount = cells[rows, cols].sum() if per_customer else cells[rows[0], cols[0]]
        share = amount / total if total else 0.0
        dark = norm(cells[rows, cols].mean()) > 0.6
        ax.text(
            cols.mean(),
            rows.mean(),
            f"{name}\n{share:.0%}",
            ha="center",
            va="center",
            fontsize="small",
            fontweight="bold",
            color="white" if dark else "black",
        )
    ticks = np.arange(bins)
    ax.set_xticks(ticks, [str(t + 1) for t in ticks])
    ax.set_yticks(ticks, [str(t + 1) for t in ticks])
    ax.set(xlabel="Recency score (5 = most recent)", ylabel="Frequency score (5 = most orders)")
    what = "customers" if value == "customers" else "revenue (money)"
    where = "per cell" if per_customer else "per segment"
    ax.set_title(title or f"RFM segments: {what} {where}, share per segment")
    return ax


def plot_lorenz(
    concentration: Concentration,
    *,
    title: str = "Concentration of customer value (Lorenz curve)",
    ax: Any = None,
    **kwargs: Any,
):
    """The Lorenz curve of customer value with the line of equality, the Gini coefficient and
    the top 20 % of customers' share annotated.

    Parameters
    ----------
    concentration : Concentration
        The result of :func:`custval.value_concentration`.
    title : str
        Title of the Axes.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.plot`` of the curve.

    Returns
    -------
    matplotlib Axes
        Lines: the Lorenz curve (from (0, 0) to (1, 1)), then the line of equality.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_cdnow
    >>> c = custval.value_concentration(load_cdnow(), amount="amount")
    >>> ax = custval.plotting.plot_lorenz(c)
    >>> x, y = ax.lines[0].get_data()
    >>> float(x[-1]), round(float(y[-1]), 12)
    (1.0, 1.0)
    """
    if not isinstance(concentration, Concentration):
        raise CustvalError(
            "concentration must be the Concentration of custval.value_concentration, not "
            f"{type(concentration).__name__}"
        )
    if concentration.gini is None:
        raise CustvalError("concentration: there is no value to draw (no customers or total 0)")
    ax = axes(ax, figsize=(5.5, 5.5))
    kwargs.setdefault("label", "Lorenz curve")
    x, y = concentration.lorenz_customers, concentration.lorenz_value
    ax.plot(x, y, **kwargs)
    ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", label="Equality")
    ax.fill_between(x, y, x, color="C0", alpha=0.15)
    top = concentration.top_20pct
    below = 1.0 - top
    ax.annotate(
        "", xy=(0.8, 1.0), xytext=(0.8, below), arrowprops={"arrowstyle": "<->", "color": "C3"}
    )
    ax.text(
        0.78,
        (1 + below) / 2,
        f"top 20% of customers:\n{top:.1%} of value",
        ha="right",
        va="center",
        color="C3",
        fontsize="small",
    )
    ax.text(
        0.05,
        0.92,
        f"Gini = {concentration.gini:.3f}\n{concentration.customers:,} customers",
        transform=ax.transAxes,
        va="top",
    )
    ax.set(xlim=(0, 1), ylim=(0, 1), title=title, aspect="equal")
    ax.set(xlabel="Share of customers (lowest value first)", ylabel="Share of value")
    percent_axis(ax.xaxis, decimals=0)
    percent_axis(ax.yaxis, decimals=0)
    ax.legend(loc="lower right")
    return ax
