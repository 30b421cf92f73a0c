"""The report's figures, drawn off-screen (Agg, no pyplot state) and inlined as PNG data.

PNG rather than inline SVG: mail clients that strip ``<svg>`` still show ``<img>`` data.
Each function takes the table the job computed and returns an Axes-drawing closure's PNG;
``png_data_uri`` renders any drawing function the same way.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

# Fixed size and resolution: the same results give the same bytes.
FIGSIZE = (8.0, 4.2)
DPI = 96


def png_data_uri(draw: Callable[[Any], Any], figsize: tuple[float, float] = FIGSIZE) -> str:
    """``draw(ax)`` on a fresh Agg figure, as a ``data:image/png;base64,…`` URI."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    draw(figure.add_subplot())
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def retention_chart(retention: pd.DataFrame) -> Callable[[Any], Any]:
    """Growth accounting per period: new, resurrected, retained up; churned down."""

    def draw(ax):
        x = np.arange(len(retention))
        bottom = np.zeros(len(retention))
        for name, color in (
            ("retained", "#4c72b0"),
            ("new", "#55a868"),
            ("resurrected", "#8172b2"),
        ):
            values = retention[name].to_numpy(dtype=float)
            ax.bar(x, values, bottom=bottom, color=color, label=name)
            bottom += values
        ax.bar(x, -retention["churned"].to_numpy(dtype=float), color="#c44e52", label="churned")
        ax.axhline(0, color="black", linewidth=0.8)
        _period_ticks(ax, retention.index, x)
        ax.set_ylabel("customers")
        ax.set_title("Growth accounting: active customers by period")
        ax.legend(loc="upper left", ncols=4, fontsize="small")
        return ax

    return draw


def cohort_heatmap(cohorts: pd.DataFrame) -> Callable[[Any], Any]:
    """Share of each acquisition cohort active k periods later; unobservable cells blank."""

    def draw(ax):
        ks = [c for c in cohorts.columns if c != "cohort_size"]
        values = cohorts[ks].to_numpy(dtype=float)
        image = ax.imshow(values, aspect="auto", cmap="Blues", vmin=0, vmax=1)
        ax.figure.colorbar(image, ax=ax, label="share of cohort active")
        ax.set_xlabel("periods since first purchase")
        ax.set_ylabel("cohort (first purchase)")
        step = max(1, len(cohorts) // 12)
        rows = np.arange(0, len(cohorts), step)
        ax.set_yticks(rows, [f"{cohorts.index[i]:%Y-%m}" for i in rows])
        ax.set_title("Acquisition cohorts")
        return ax

    return draw


def segment_map(grid: pd.DataFrame) -> Callable[[Any], Any]:
    """The R × F grid: cell colour by customers, labelled with the segment and its count."""

    def draw(ax):
        counts = np.zeros((5, 5))
        for row in grid.itertuples():
            counts[row.f_score - 1, row.r_score - 1] = row.customers
        image = ax.imshow(counts, origin="lower", cmap="Greens", extent=(0.5, 5.5, 0.5, 5.5))
        ax.figure.colorbar(image, ax=ax, label="customers")
        for row in grid.itertuples():
            ax.text(
                row.r_score,
                row.f_score,
                f"{row.segment}\n{row.customers:,}",
                ha="center",
                va="center",
                fontsize=6.5,
            )
        ax.set_xlabel("R score (5 = most recent)")
        ax.set_ylabel("F score (5 = most orders)")
        ax.set_title("RFM segment map")
        return ax

    return draw


def lorenz_curve(concentration: Any) -> Callable[[Any], Any]:
    def draw(ax):
        ax.plot(concentration.lorenz_customers, concentration.lorenz_value, label="customers")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="equality")
        ax.set_xlabel("share of customers (lowest value first)")
        ax.set_ylabel("share of revenue")
        ax.set_title(
            f"Value concentration: Gini {concentration.gini:.3f}, "
            f"top 20 % hold {concentration.top_20pct:.1%}"
        )
        ax.legend(loc="upper left")
        return ax

    return draw


def parameter_intervals(model: Any) -> Callable[[Any], Any]:
    """Each parameter's estimate with its 95 % interval (log scale: they differ by orders)."""

    def draw(ax):
        names = list(model.params_)
        estimates = np.array([model.params_[n] for n in names])
        intervals = model.confidence_intervals_ or {}
        bounds = [intervals.get(n, (v, v)) for n, v in zip(names, estimates, strict=True)]
        low = np.array([lo for lo, _ in bounds], dtype=float)
        high = np.array([hi for _, hi in bounds], dtype=float)
        low = np.where(np.isfinite(low) & (low > 0), low, estimates)
        y = np.arange(len(names))
        ax.errorbar(estimates, y, xerr=[estimates - low, high - estimates], fmt="o", capsize=4)
        ax.set_yticks(y, names)
        ax.set_xscale("log")
        ax.set_xlabel("estimate (95 % interval)")
        ax.set_title(f"{type(model).__name__} parameters")
        return ax

    return draw


def model_comparison(comparison: pd.DataFrame) -> Callable[[Any], Any]:
    def draw(ax):
        names = list(comparison.index)
        colors = ["#999999" if n == "baseline" else "#4c72b0" for n in names]
        ax.barh(names, comparison["mae"].to_numpy(dtype=float), color=colors)
        ax.invert_yaxis()
        ax.set_xlabel("holdout MAE (purchases per customer)")
        ax.set_title("Model comparison on the holdout (lower is better)")
        return ax

    return draw


def calibration_purchases(conditional: pd.DataFrame) -> Callable[[Any], Any]:
    def draw(ax):
        x = list(conditional.index)
        ax.plot(x, conditional["actual_mean"], marker="o", label="actual")
        ax.plot(x, conditional["predicted_mean"], marker="s", label="model")
        ax.set_xlabel("purchases in the calibration period")
        ax.set_ylabel("mean purchases in the holdout")
        ax.set_title("Calibration vs holdout purchases")
        ax.legend()
        return ax

    return draw


def tracking(curves: pd.DataFrame, calibration_end: str | None) -> Callable[[Any], Any]:
    def draw(ax):
        ax.plot(curves.index, curves["actual"], label="actual")
        ax.plot(curves.index, curves["predicted"], linestyle="--", label="model")
        if calibration_end is not None:
            ax.axvline(
                pd.Timestamp(calibration_end), color="grey", linestyle=":", label="calibration end"
            )
        ax.set_ylabel("cumulative repeat purchases")
        ax.set_title("Tracking: the model against the log")
        ax.legend(loc="upper left")
        return ax

    return draw


def _period_ticks(ax: Any, index: pd.Index, x: np.ndarray) -> None:
    step = max(1, len(index) // 12)
    ax.set_xticks(x[::step], [f"{p:%Y-%m}" for p in index[::step]], rotation=45, ha="right")
