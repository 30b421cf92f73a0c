"""Models beyond purchase counts: Gamma-Gamma spend against the observed spend, and sBG
survival against the cohorts it was fitted on."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from custval import _frames
from custval.exceptions import ColumnNotFoundError, CustvalError
from custval.plotting._base import axes, check_positive_int, fitted_params, percent_axis


def _columns(data: Any, names: list[str], argument: str) -> Any:
    frame, _ = _frames.to_pandas(data, what=f"a frame with columns {names}")
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ColumnNotFoundError(f"{argument}: columns {missing} not found")
    return frame


def mean_spend_density(params: dict[str, float], x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The Gamma-Gamma density of a customer's mean spend z̄ over x purchases, averaged over
    the customers' x (Fader, Hardie & Lee 2005b, eq. 4):
    f(z̄ | x) = Γ(px+q) / (Γ(px) Γ(q)) γ^q x^{px} z̄^{px−1} / (γ + x z̄)^{px+q}."""
    p, q, gamma = params["p"], params["q"], params["gamma"]
    counts_of, weights = np.unique(x, return_counts=True)
    px = p * counts_of
    log_norm = np.array([math.lgamma(a + q) - math.lgamma(a) for a in px]) - math.lgamma(q)
    log_norm += q * math.log(gamma) + px * np.log(counts_of)
    log_f = (
        log_norm[:, None]
        + (px[:, None] - 1) * np.log(z[None, :])
        - (px[:, None] + q) * np.log(gamma + counts_of[:, None] * z[None, :])
    )
    return weights @ np.exp(log_f) / weights.sum()


def plot_spend_distribution(
    spend_model: Any,
    summary: Any,
    *,
    frequency: str = "frequency",
    monetary_value: str = "monetary_value",
    bins: int = 40,
    title: str = "Mean spend per customer: actual and Gamma-Gamma",
    ax: Any = None,
    **kwargs: Any,
):
    """Histogram of the repeat customers' mean spend, with the density the Gamma-Gamma model
    implies for the same customers (CLVTools' ``plotSpending``; Fader, Hardie & Lee 2005b,
    Figure 2).

    The model's curve averages the density of the mean of x purchases over the customers' x;
    the histogram is scaled to the same density (customers per unit of money over all repeat
    customers; the top 1 % of means, beyond the x axis, still count).

    Parameters
    ----------
    spend_model : GammaGamma
        A fitted spend model.
    summary : DataFrame, pyarrow Table, polars DataFrame
        Per-customer summary with ``frequency`` and ``monetary_value`` (customers without a
        repeat purchase are left out, as in the fit).
    frequency, monetary_value : str
        Column names.
    bins : int
        Bins of the histogram.
    title : str
        Title of the Axes.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.plot`` of the model's density.

    Returns
    -------
    matplotlib Axes
        The histogram's bars, then the model's density line.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_cdnow_summary
    >>> summary = load_cdnow_summary()
    >>> spend = custval.GammaGamma().fit(summary)
    >>> ax = custval.plotting.plot_spend_distribution(spend, summary)
    >>> ax.lines[0].get_label(), len(ax.patches)
    ('Gamma-Gamma', 40)

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "RFM and CLV: Using Iso-Value
       Curves for Customer Base Analysis." Journal of Marketing Research 42(4), 415–430.
    .. [2] Fader, P. S. and Hardie, B. G. S. (2013). "The Gamma-Gamma Model of Monetary
       Value." http://brucehardie.com/notes/025/
    """
    params = fitted_params(spend_model, "spend_model")
    if not {"p", "q", "gamma"} <= set(params):
        raise CustvalError(f"spend_model must be a GammaGamma, not {type(spend_model).__name__}")
    bins = check_positive_int(bins, "bins")
    frame = _columns(summary, [frequency, monetary_value], "summary")
    x = frame[frequency].to_numpy(dtype=np.float64)
    z = frame[monetary_value].to_numpy(dtype=np.float64)
    repeat = (x > 0) & (z > 0)
    x, z = x[repeat], z[repeat]
    if x.size == 0:
        raise CustvalError("summary: no customer with a repeat purchase and a positive spend")
    high = float(np.quantile(z, 0.99))
    edges = np.linspace(0.0, high, bins + 1)
    width = edges[1] - edges[0]
    ax = axes(ax)
    ax.hist(
        z,
        bins=edges,
        weights=np.full(z.size, 1.0 / (z.size * width)),
        color="0.75",
        label=f"Actual ({z.size:,} repeat customers)",
    )
    grid = np.linspace(high / 500, high, 500)
    kwargs.setdefault("label", "Gamma-Gamma")
    kwargs.setdefault("color", "C3")
    ax.plot(grid, mean_spend_density(params, x, grid), **kwargs)
    ax.set(title=title, xlabel="Mean spend per repeat purchase (money)", ylabel="Density")
    ax.set_xlim(0, high)
    ax.legend()
    return ax


def plot_survival(
    model: Any,
    data: Any = None,
    *,
    recency: str = "recency",
    T: str = "T",
    cohort: str | None = None,
    horizon: int | None = None,
    title: str = "Survival: share of customers still subscribed",
    ax: Any = None,
    **kwargs: Any,
):
    """sBG survival S(t) after t renewals, with the observed survival of the data it was
    fitted on and its projection beyond (Fader & Hardie 2007, Figure 3).

    Observed S(t) = among customers observed for more than t periods, the share still paying
    after t renewals (``recency`` > t). With a per-cohort fit, one curve per cohort.

    Parameters
    ----------
    model : ShiftedBetaGeo
        A fitted sBG model (per cohort or not).
    data : DataFrame, pyarrow Table, polars DataFrame, optional
        The table it was fitted on: ``recency`` (periods paid for) and ``T`` (periods
        observed), and ``cohort`` for a per-cohort fit.
    recency, T, cohort : str
        Column names.
    horizon : int, optional
        Renewals drawn; by default twice the longest observation (or 12 without data).
    title : str
        Title of the Axes.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.plot`` of the model's curves.

    Returns
    -------
    matplotlib Axes
        Per cohort: the model's line, then the observed points (a dotted vertical line marks
        the last renewal observed).

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_sbg_cohorts
    >>> data = load_sbg_cohorts()
    >>> model = custval.ShiftedBetaGeo().fit(data, cohort="cohort")
    >>> ax = custval.plotting.plot_survival(model, data, cohort="cohort")
    >>> [line.get_label() for line in ax.lines if not line.get_label().startswith("_")]
    ['highend: sBG', 'highend: observed', 'regular: sBG', 'regular: observed']

    References
    ----------
    .. [1] Fader, P. S. and Hardie, B. G. S. (2007). "How to Project Customer Retention."
       Journal of Interactive Marketing 21(1), 76–90.
    """
    if not hasattr(model, "survival"):
        raise CustvalError(f"model must be a ShiftedBetaGeo, not {type(model).__name__}")
    cohorts = getattr(model, "cohorts_", None) or [None]
    if cohorts != [None]:
        fitted_params(next(iter(model._by_cohort.values())))
        if data is not None and cohort is None:
            raise CustvalError("cohort is needed: the model has one fit per cohort")
    else:
        fitted_params(model)
    frame = None
    if data is not None:
        frame = _columns(data, [recency, T] + ([cohort] if cohort else []), "data")
    if horizon is None:
        horizon = 12 if frame is None else 2 * int(frame[T].max())
    horizon = check_positive_int(horizon, "horizon")
    ax = axes(ax)
    renewals = np.arange(horizon + 1)
    for i, label in enumerate(cohorts):
        color = f"C{i}"
        prefix = "" if label is None else f"{label}: "
        curve = model.survival(renewals, cohort=label)
        ax.plot(renewals, curve, color=color, label=f"{prefix}sBG", **kwargs)
        if frame is None:
            continue
        rows = frame if label is None else frame[frame[cohort] == label]
        paid = rows[recency].to_numpy(dtype=np.float64)
        seen = rows[T].to_numpy(dtype=np.float64)
        observed = np.arange(int(seen.max()))
        at_risk = np.array([np.count_nonzero(seen > t) for t in observed])
        still = np.array([np.count_nonzero((seen > t) & (paid > t)) for t in observed])
        ax.plot(observed, still / at_risk, "o", color=color, label=f"{prefix}observed")
        ax.axvline(observed[-1], color="0.6", linestyle=":", linewidth=0.8)
    ax.set(title=title, xlabel="Renewals (periods after the first)", ylabel="Surviving")
    ax.set_ylim(0, 1.02)
    percent_axis(ax.yaxis)
    ax.legend()
    return ax
