"""The report's figures: :mod:`custval.plotting` drawn off-screen (Agg, a Figure pyplot never
sees) and inlined as PNG data.

PNG rather than inline SVG: mail clients that strip ``<svg>`` still show ``<img>`` data.
The one figure drawn here is the parameters with their intervals, which no plot of
:mod:`custval.plotting` shows.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import numpy as np

# Fixed size and resolution: the same results give the same bytes.
FIGSIZE = (8.0, 4.6)
DPI = 96
#: Above this many customers the at-risk scatter shows only the selected ones (drawing
#: millions of grey points would take longer than the rest of the report).
SCATTER_EVERYONE_UP_TO = 200_000


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


def plotted(plot: Callable[..., Any], *args: Any, **options: Any) -> Callable[[Any], Any]:
    """A drawing function for :func:`png_data_uri`: ``plot(*args, ax=ax, **options)``."""
    return lambda ax: plot(*args, ax=ax, **options)


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
        high = np.where(np.isfinite(high), high, estimates)
        y = np.arange(len(names))
        ax.errorbar(estimates, y, xerr=[estimates - low, high - estimates], fmt="o", capsize=4)
        ax.set_yticks(y, names)
        ax.set_xscale("log")
        ax.set_xlabel("estimate with its 95 % interval (log scale)")
        ax.set_title(f"{type(model).__name__} parameters")
        return ax

    return draw
