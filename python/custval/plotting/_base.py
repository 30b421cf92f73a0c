"""What every plot shares: matplotlib imported on first use, the Axes to draw on, axis formats.

matplotlib is an optional extra (``custval[plot]``): nothing here imports it at module level,
so ``import custval`` works without it and only a plot call asks for it.
"""

from __future__ import annotations

from typing import Any

from custval._display import time_unit_text
from custval.exceptions import CustvalError

unit_label = time_unit_text  # the plots' axis labels say the time unit the same way

INSTALL_HINT = "install the plotting extra: pip install 'custval[plot]'"


def matplotlib_module() -> Any:
    """The matplotlib package, or a CustvalError saying how to install it."""
    try:
        import matplotlib
    except ImportError as err:
        raise CustvalError(f"custval.plotting needs matplotlib; {INSTALL_HINT}") from err
    return matplotlib


def axes(ax: Any = None, *, figsize: tuple[float, float] = (7.0, 4.5)) -> Any:
    """``ax`` itself, or the Axes of a new figure.

    A given Axes is used as is: nothing touches pyplot's current figure or axes. A new figure
    comes from pyplot so that Jupyter shows it, as peers' plots do.
    """
    matplotlib_module()
    if ax is not None:
        from matplotlib.axes import Axes

        if not isinstance(ax, Axes):
            raise CustvalError(f"ax must be a matplotlib Axes, not {type(ax).__name__}")
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def percent_axis(axis: Any, decimals: int | None = None) -> None:
    """Show a 0–1 rate on ``axis`` (``ax.xaxis``/``ax.yaxis``) as percentages."""
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=decimals))


def thousands_axis(axis: Any) -> None:
    """Counts and money with thousands separators (12,500), no currency sign."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.10g}"))


def plain_log_axis(axis: Any) -> None:
    """A log axis labelled 20, 30, 100, 1,000 rather than 2×10¹ (for money and counts)."""
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda value, _: f"{value:,.10g}")
    axis.set_major_formatter(plain)
    axis.set_minor_formatter(FuncFormatter(lambda value, _: ""))


def date_axis(axis: Any) -> None:
    """Dates as matplotlib's concise labels (year once, then months), never overlapping."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()
    axis.set_major_locator(locator)
    axis.set_major_formatter(ConciseDateFormatter(locator))


def check_positive_int(value: Any, name: str) -> int:
    """``value`` as an int ≥ 1, or a CustvalError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CustvalError(f"{name} must be a whole number ≥ 1, got {value!r}")
    return value


def fitted_params(model: Any, argument: str = "model") -> dict[str, float]:
    """A fitted custval model's parameters, or a CustvalError naming ``argument``."""
    params = getattr(model, "params_", None)
    if params is None:
        name = type(model).__name__
        raise CustvalError(f"{argument} must be a fitted custval model; got an unfitted {name}")
    return dict(params)
