"""A fitted model on its own: the lifetimes plots of what a purchase model believes.

Names, arguments and titles follow lifetimes' ``plotting`` module so that a lifetimes user's
calls work on custval models; what lifetimes simulates (the period-transactions histogram) is
computed exactly here from the model's P(X(t) = n).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from custval.exceptions import CustvalError
from custval.models.inputs import _rfm_columns
from custval.plotting._base import (
    axes,
    check_positive_int,
    fitted_params,
    percent_axis,
    thousands_axis,
    unit_label,
)

# Calendar days in one period of each freq (pandas Period lengths on average).
_DAYS = {"h": 1 / 24, "H": 1 / 24, "D": 1.0, "W": 7.0, "M": 365.25 / 12, "Q": 365.25 / 4}
_DAYS["Y"] = 365.25


def expected_frequency_counts(model: Any, T: np.ndarray, max_frequency: int) -> np.ndarray:
    """Expected customers with 0, 1, …, max_frequency−1 and ≥ max_frequency repeat purchases:
    Σ_i P(X(T_i) = n), computed once per distinct T."""
    if not hasattr(model, "probability_of_purchases"):
        raise CustvalError(
            f"model: {type(model).__name__} gives no P(X(t) = n); use BetaGeo, "
            "ModifiedBetaGeo or ParetoNBD"
        )
    ages, customers = np.unique(T, return_counts=True)
    n = np.arange(max_frequency, dtype=np.float64)
    probabilities = model.probability_of_purchases(n[:, None], ages[None, :])
    below = probabilities @ customers.astype(np.float64)
    return np.append(below, customers.sum() - below.sum())


def plot_period_transactions(
    model: Any,
    summary: Any,
    max_frequency: int = 7,
    *,
    frequency: str = "frequency",
    recency: str = "recency",
    T: str = "T",
    title: str = "Frequency of Repeat Transactions",
    xlabel: str = "Number of Calibration Period Transactions",
    ylabel: str = "Customers",
    ax: Any = None,
    **kwargs: Any,
):
    """Customers by number of repeat purchases: actual against the model's expectation.

    lifetimes' ``plot_period_transactions`` and Fader, Hardie & Lee (2005), Figure 2. The
    model's bar for n is Σ_i P(X(T_i) = n) over the customers of ``summary``, exactly (lifetimes
    simulates a data set instead); the last bar is ``max_frequency`` or more purchases.

    Parameters
    ----------
    model : BetaGeo, ModifiedBetaGeo or ParetoNBD
        A fitted continuous-time purchase model.
    summary : DataFrame, pyarrow Table, polars DataFrame
        The per-customer summary it was fitted on (:func:`custval.rfm_summary`).
    max_frequency : int
        Bars for 0 … max_frequency − 1 repeat purchases, then one for ``max_frequency+``.
    frequency, recency, T : str
        Column names in ``summary``.
    title, xlabel, ylabel : str
        Texts of the Axes.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to both ``Axes.bar`` calls.

    Returns
    -------
    matplotlib Axes
        Two bar containers, "Actual" then "Model", one bar per frequency.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_cdnow_summary
    >>> summary = load_cdnow_summary()
    >>> model = custval.BetaGeo().fit(summary)
    >>> ax = custval.plotting.plot_period_transactions(model, summary)
    >>> [int(bar.get_height()) for bar in ax.containers[0]]  # actual
    [1411, 439, 214, 100, 62, 38, 29, 64]
    >>> [round(float(bar.get_height())) for bar in ax.containers[1]]  # BG/NBD
    [1408, 460, 192, 101, 60, 38, 26, 72]

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers the
       Easy Way: An Alternative to the Pareto/NBD Model." Marketing Science 24(2), 275–284.
    """
    fitted_params(model)
    max_frequency = check_positive_int(max_frequency, "max_frequency")
    cols = _rfm_columns(summary, {"frequency": frequency, "recency": recency, "T": T})
    x = cols["frequency"]
    actual = np.bincount(np.minimum(x, max_frequency).astype(np.int64), minlength=max_frequency + 1)
    expected = expected_frequency_counts(model, cols["T"], max_frequency)
    ax = axes(ax)
    positions = np.arange(max_frequency + 1)
    width = 0.4
    ax.bar(positions - width / 2, actual, width, label="Actual", **kwargs)
    ax.bar(positions + width / 2, expected, width, label="Model", **kwargs)
    ax.set_xticks(positions, [*map(str, range(max_frequency)), f"{max_frequency}+"])
    thousands_axis(ax.yaxis)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return ax


def _grid_limits(summary: Any, max_frequency: Any, max_recency: Any) -> tuple[int, int]:
    if max_frequency is None or max_recency is None:
        if summary is None:
            raise CustvalError(
                "max_frequency and max_recency are needed (or summary=, to take them from its "
                "frequency and T columns)"
            )
        cols = _rfm_columns(summary, {"frequency": "frequency", "recency": "recency", "T": "T"})
        if max_frequency is None:
            max_frequency = int(np.ceil(cols["frequency"].max()))
        if max_recency is None:
            max_recency = int(np.ceil(cols["T"].max()))
    return check_positive_int(max_frequency, "max_frequency"), check_positive_int(
        max_recency, "max_recency"
    )


def _rfm_grid(max_frequency: int, max_recency: int, predict) -> np.ndarray:
    """``predict(frequency, recency, T)`` on the grid recency 0…max_recency (rows) ×
    frequency 0…max_frequency (columns) with T = max_recency; the impossible cells (no repeat
    purchase but a recency > 0) are NaN, drawn blank."""
    recency, frequency = np.meshgrid(
        np.arange(max_recency + 1, dtype=np.float64), np.arange(max_frequency + 1.0), indexing="ij"
    )
    possible = (frequency > 0) | (recency == 0)
    values = np.full(recency.shape, np.nan)
    values[possible] = predict(frequency[possible], recency[possible], float(max_recency))
    return values


def _matrix(ax: Any, values: np.ndarray, title: str, xlabel: str, ylabel: str, kwargs) -> Any:
    kwargs.setdefault("interpolation", "none")
    kwargs.setdefault("aspect", "auto")
    image = ax.imshow(values, **kwargs)
    ax.figure.colorbar(image, ax=ax)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return image


def plot_frequency_recency_matrix(
    model: Any,
    T: float = 1,
    max_frequency: int | None = None,
    max_recency: int | None = None,
    *,
    summary: Any = None,
    title: str | None = None,
    xlabel: str = "Customer's Historical Frequency",
    ylabel: str = "Customer's Recency",
    ax: Any = None,
    **kwargs: Any,
):
    """Expected purchases in the next ``T`` time units for every (frequency, recency).

    lifetimes' ``plot_frequency_recency_matrix``: rows are recency 0 … max_recency (the most
    recent customers at the bottom, as lifetimes draws it), columns frequency 0 …
    max_frequency, every customer observed for ``max_recency`` time units. Cells no customer
    can have (no repeat purchase but a recency above 0) are blank.

    Parameters
    ----------
    model : BetaGeo, ModifiedBetaGeo, ParetoNBD or BetaGeoBetaBinom
        A fitted purchase model.
    T : float
        The horizon of the expectation, in the model's time unit.
    max_frequency, max_recency : int, optional
        The grid's size; by default the largest frequency and T of ``summary``.
    summary : frame, optional
        A per-customer summary to size the grid from.
    title, xlabel, ylabel : str
        Texts of the Axes (a title naming ``T`` by default).
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.imshow``.

    Returns
    -------
    matplotlib Axes
        One image of shape (max_recency + 1, max_frequency + 1), with a colour bar.

    Examples
    --------
    >>> import custval
    >>> model = custval.BetaGeo.from_dict({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> ax = custval.plotting.plot_frequency_recency_matrix(model, T=1, max_frequency=5,
    ...                                                      max_recency=10)
    >>> ax.images[0].get_array().shape
    (11, 6)
    """
    fitted_params(model)
    max_frequency, max_recency = _grid_limits(summary, max_frequency, max_recency)
    horizon = float(T)
    values = _rfm_grid(
        max_frequency,
        max_recency,
        lambda x, tx, age: model.conditional_expected_purchases(horizon, x, tx, age),
    )
    if title is None:
        unit = unit_label(getattr(model, "time_unit_", None))
        unit = unit.removesuffix("s") if horizon == 1 else unit
        title = (
            f"Expected Number of Future Purchases for {horizon:g} {unit},\n"
            "by Frequency and Recency of a Customer"
        )
    ax = axes(ax)
    _matrix(ax, values, title, xlabel, ylabel, kwargs)
    return ax


def plot_probability_alive_matrix(
    model: Any,
    max_frequency: int | None = None,
    max_recency: int | None = None,
    *,
    summary: Any = None,
    title: str = "Probability Customer is Alive,\nby Frequency and Recency of a Customer",
    xlabel: str = "Customer's Historical Frequency",
    ylabel: str = "Customer's Recency",
    ax: Any = None,
    **kwargs: Any,
):
    """P(alive) for every (frequency, recency), every customer observed ``max_recency`` units.

    lifetimes' ``plot_probability_alive_matrix``, laid out as
    :func:`plot_frequency_recency_matrix`; the colour bar reads in percent.

    Parameters
    ----------
    model : BetaGeo, ModifiedBetaGeo, ParetoNBD or BetaGeoBetaBinom
        A fitted purchase model.
    max_frequency, max_recency : int, optional
        The grid's size; by default the largest frequency and T of ``summary``.
    summary : frame, optional
        A per-customer summary to size the grid from.
    title, xlabel, ylabel : str
        Texts of the Axes.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.imshow``.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import custval
    >>> model = custval.BetaGeo.from_dict({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> ax = custval.plotting.plot_probability_alive_matrix(model, max_frequency=5, max_recency=10)
    >>> round(float(ax.images[0].get_array()[10, 5]), 4)  # 5 repeat purchases, last today
    0.8902
    """
    fitted_params(model)
    max_frequency, max_recency = _grid_limits(summary, max_frequency, max_recency)
    values = _rfm_grid(max_frequency, max_recency, model.p_alive)
    kwargs.setdefault("vmin", 0.0)
    kwargs.setdefault("vmax", 1.0)
    ax = axes(ax)
    image = _matrix(ax, values, title, xlabel, ylabel, kwargs)
    percent_axis(image.colorbar.ax.yaxis)
    return ax


def _one_year(model: Any) -> float:
    unit = getattr(model, "time_unit_", None)
    if not unit or unit.get("freq") not in _DAYS:
        raise CustvalError(
            "t is needed: the model's time unit is unknown (fit it on an rfm_summary or pass "
            "time_unit=)"
        )
    return 365.25 / (_DAYS[unit["freq"]] * float(unit.get("freq_multiplier", 1)))


def plot_expected_repeat_purchases(
    model: Any,
    t: float | None = None,
    *,
    title: str = "Expected Number of Repeat Purchases per Customer",
    xlabel: str | None = None,
    label: str | None = None,
    ax: Any = None,
    **kwargs: Any,
):
    """E[X(τ)] for a new customer, τ from 0 to ``t`` (lifetimes'
    ``plot_expected_repeat_purchases``).

    Parameters
    ----------
    model : BetaGeo, ModifiedBetaGeo, ParetoNBD or BetaGeoBetaBinom
        A fitted purchase model.
    t : float, optional
        The horizon in the model's time unit; by default one year of it.
    title, xlabel : str
        Texts of the Axes (the x label names the time unit by default).
    label : str, optional
        The line's legend label (the model's class name by default); call again on the same
        ``ax`` to overlay models.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.plot``.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import custval
    >>> model = custval.BetaGeo.from_dict({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> ax = custval.plotting.plot_expected_repeat_purchases(model, t=52)
    >>> x, y = ax.lines[0].get_data()
    >>> float(x[-1]), round(float(y[-1]), 4) == round(float(model.expected_purchases(52)), 4)
    (52.0, True)
    """
    fitted_params(model)
    horizon = _one_year(model) if t is None else float(t)
    if not horizon > 0:
        raise CustvalError(f"t must be positive, got {t!r}")
    times = np.linspace(0.0, horizon, 200)
    ax = axes(ax)
    kwargs.setdefault("label", label or type(model).__name__)
    ax.plot(times, model.expected_purchases(times), **kwargs)
    unit = unit_label(getattr(model, "time_unit_", None))
    ax.set(title=title, xlabel=xlabel or f"Time since first purchase ({unit})")
    ax.set_ylabel("Expected repeat purchases")
    ax.set_xlim(0, horizon)
    ax.set_ylim(bottom=0)
    if len(ax.lines) > 1:
        ax.legend()
    return ax


def _gamma_pdf(x: np.ndarray, shape: float, rate: float) -> np.ndarray:
    log_pdf = shape * math.log(rate) + (shape - 1) * np.log(x) - rate * x - math.lgamma(shape)
    return np.exp(log_pdf)


def _beta_pdf(x: np.ndarray, a: float, b: float) -> np.ndarray:
    log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    return np.exp((a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - log_beta)


def _density(ax: Any, kind: str, p1: float, p2: float, title: str, xlabel: str, kwargs) -> Any:
    """Draw a Gamma(shape p1, rate p2) or Beta(p1, p2) density with its mean and CV in the
    title (the mixing distributions of the BTYD models)."""
    if kind == "gamma":
        mean, variance = p1 / p2, p1 / p2**2
        upper = mean + 4 * math.sqrt(variance)
        x = np.linspace(upper / 1000, upper, 500)
        y = _gamma_pdf(x, p1, p2)
    else:
        mean = p1 / (p1 + p2)
        variance = p1 * p2 / ((p1 + p2) ** 2 * (p1 + p2 + 1))
        x = np.linspace(0.001, 0.999, 500)
        y = _beta_pdf(x, p1, p2)
    ax.plot(x, y, **kwargs)
    if y[0] > y[len(y) // 50]:
        # A density rising without bound at 0 (shape below 1) would flatten the rest of the
        # curve: the y axis stops at its height 2 % of the way along the x axis.
        ax.set_ylim(0, 1.2 * y[len(y) // 50])
    cv = math.sqrt(variance) / mean
    ax.set_title(f"{title}\nmean: {mean:.4g}, coefficient of variation: {cv:.4g}")
    ax.set(xlabel=xlabel, ylabel="Density")
    ax.set_xlim(x[0], x[-1])
    return ax


def plot_transaction_rate_heterogeneity(
    model: Any,
    *,
    title: str = "Heterogeneity in Transaction Rate",
    ax: Any = None,
    **kwargs: Any,
):
    """The mixing distribution of purchase rates across customers (lifetimes'
    ``plot_transaction_rate_heterogeneity``): λ ~ Gamma(r, α) for BG/NBD, MBG/NBD and
    Pareto/NBD, p ~ Beta(α, β) per opportunity for BG/BB.

    Parameters
    ----------
    model : BetaGeo, ModifiedBetaGeo, ParetoNBD or BetaGeoBetaBinom
        A fitted purchase model.
    title : str
        First line of the title (the second gives the mean and coefficient of variation).
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.plot``.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import custval
    >>> model = custval.BetaGeo.from_dict({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> ax = custval.plotting.plot_transaction_rate_heterogeneity(model)
    >>> ax.get_title().splitlines()[1]
    'mean: 0.05505, coefficient of variation: 2.029'
    """
    params = fitted_params(model)
    unit = unit_label(getattr(model, "time_unit_", None))
    ax = axes(ax)
    if "r" in params:
        xlabel = f"Transaction rate (purchases per {unit.rstrip('s')})"
        return _density(ax, "gamma", params["r"], params["alpha"], title, xlabel, kwargs)
    if "gamma" in params and "delta" in params:
        xlabel = "Purchase probability per opportunity"
        return _density(ax, "beta", params["alpha"], params["beta"], title, xlabel, kwargs)
    raise CustvalError(f"model: {type(model).__name__} has no transaction rate")


def plot_dropout_rate_heterogeneity(
    model: Any,
    *,
    title: str = "Heterogeneity in Dropout Probability",
    ax: Any = None,
    **kwargs: Any,
):
    """The mixing distribution of dropout across customers (lifetimes'
    ``plot_dropout_rate_heterogeneity``): p ~ Beta(a, b) after each purchase for BG/NBD and
    MBG/NBD, μ ~ Gamma(s, β) per time unit for Pareto/NBD, θ ~ Beta(γ, δ) for BG/BB and
    Beta(α, β) for sBG.

    Parameters
    ----------
    model : BetaGeo, ModifiedBetaGeo, ParetoNBD, BetaGeoBetaBinom or ShiftedBetaGeo
        A fitted model.
    title : str
        First line of the title (the second gives the mean and coefficient of variation).
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.plot``.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import custval
    >>> model = custval.BetaGeo.from_dict({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> ax = custval.plotting.plot_dropout_rate_heterogeneity(model)
    >>> ax.get_xlabel()
    'Dropout probability after a purchase'
    """
    params = fitted_params(model)
    ax = axes(ax)
    if "a" in params:
        xlabel = "Dropout probability after a purchase"
        return _density(ax, "beta", params["a"], params["b"], title, xlabel, kwargs)
    if "s" in params:
        unit = unit_label(getattr(model, "time_unit_", None)).rstrip("s")
        xlabel = f"Dropout rate (per {unit})"
        return _density(ax, "gamma", params["s"], params["beta"], title, xlabel, kwargs)
    if "delta" in params:
        xlabel = "Dropout probability per opportunity"
        return _density(ax, "beta", params["gamma"], params["delta"], title, xlabel, kwargs)
    if set(params) == {"alpha", "beta"}:
        xlabel = "Churn probability per period"
        return _density(ax, "beta", params["alpha"], params["beta"], title, xlabel, kwargs)
    raise CustvalError(f"model: {type(model).__name__} has no dropout process")
