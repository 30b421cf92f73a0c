"""A model against the log over time: tracking curves (CLVTools' ``plot(which="tracking")``,
lifetimes' cumulative and incremental transaction plots) and one customer's P(alive) history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from custval import _frames
from custval.exceptions import ColumnNotFoundError, CustvalError
from custval.models.tracking import alive_history, expected_cumulative_transactions
from custval.plotting._base import (
    axes,
    date_axis,
    percent_axis,
    thousands_axis,
    unit_label,
)

_FREQ_WORDS = {"h": "hours", "H": "hours", "D": "days", "W": "weeks", "M": "months"}
_FREQ_WORDS |= {"Q": "quarters", "Y": "years"}


def _models(model: Any) -> list[tuple[str, Any]]:
    """(label, model) pairs from one model, a list of models or a mapping label → model."""
    if isinstance(model, Mapping):
        return [(str(label), m) for label, m in model.items()]
    if isinstance(model, list | tuple):
        if not model:
            raise CustvalError("model: the list of models is empty")
        names = [type(m).__name__ for m in model]
        return [
            (f"{name} ({i + 1})" if names.count(name) > 1 else name, m)
            for i, (name, m) in enumerate(zip(names, model, strict=True))
        ]
    return [(type(model).__name__, model)]


def _calibration_end(index: pd.Index, t_cal: Any, freq: str, step: int) -> pd.Timestamp:
    """Where the calibration period ends on the date axis: ``t_cal`` periods of ``freq`` after
    the start of the log's first period (a whole number), or a date."""
    if isinstance(t_cal, bool) or not isinstance(t_cal, int | np.integer):
        try:
            return pd.Timestamp(t_cal)
        except (TypeError, ValueError):
            raise CustvalError(
                f"t_cal must be a number of {freq} periods or a date, not {t_cal!r}"
            ) from None
    pandas_freq = "h" if freq == "H" else freq
    # Row k is labelled by the start of its last period, (k + 1) × step − 1 periods after the
    # start of the first one.
    first = pd.Period(index[0], freq=pandas_freq) - (step - 1)
    return (first + int(t_cal)).to_timestamp()


def _tracking(
    column: str,
    model: Any,
    data: Any,
    *,
    t: int,
    t_cal: Any,
    freq: str,
    freq_multiplier: int,
    title: str,
    ylabel: str,
    ax: Any,
    kwargs: dict[str, Any],
    log_options: dict[str, Any],
) -> Any:
    entries = _models(model)
    frames = [
        (
            label,
            expected_cumulative_transactions(
                m,
                data,
                t=t,
                freq=freq,
                freq_multiplier=freq_multiplier,
                output="pandas",
                **log_options,
            ),
        )
        for label, m in entries
    ]
    ax = axes(ax)
    index = frames[0][1].index
    ax.plot(index, frames[0][1][column].to_numpy(), color="black", label="Actual", **kwargs)
    for label, frame in frames:
        ax.plot(
            frame.index,
            frame[f"predicted{column[len('actual') :]}"].to_numpy(),
            linestyle="--",
            label=label,
            **kwargs,
        )
    if t_cal is not None:
        end = _calibration_end(index, t_cal, freq, freq_multiplier)
        ax.axvline(end, color="grey", linestyle=":", label="End of calibration")
    every = f"{freq_multiplier} " if freq_multiplier != 1 else ""
    ax.set(title=title, xlabel=f"Period (rows every {every}{_FREQ_WORDS.get(freq, freq)})")
    ax.set_ylabel(ylabel)
    thousands_axis(ax.yaxis)
    ax.legend()
    date_axis(ax.xaxis)
    return ax


def plot_cumulative_transactions(
    model: Any,
    data: Any,
    *,
    customer: str = "customer_id",
    time: str = "timestamp",
    t: int,
    t_cal: Any = None,
    freq: str = "D",
    freq_multiplier: int = 1,
    observation_end: Any = None,
    title: str = "Tracking Cumulative Transactions",
    ylabel: str = "Cumulative repeat transactions",
    ax: Any = None,
    **kwargs: Any,
):
    """Actual against expected cumulative repeat purchases of the whole customer base.

    lifetimes' ``plot_cumulative_transactions`` and CLVTools' tracking plot (Fader, Hardie &
    Lee 2005, Figure 3), drawn from :func:`custval.expected_cumulative_transactions`. Given a
    list (or a mapping label → model) it overlays one dashed curve per model, as CLVTools'
    ``other.models``.

    Parameters
    ----------
    model : fitted purchase model, list of them or mapping label → model
        Models whose time unit is known.
    data : DataFrame, pyarrow Table, polars DataFrame, duckdb relation, dict or path
        The transaction log.
    customer, time : str
        Column names.
    t : int
        Periods of ``freq`` to track.
    t_cal : int or date, optional
        The end of the calibration period, drawn as a vertical line: periods of ``freq`` from
        the start of the first period (as lifetimes), or a date.
    freq, freq_multiplier, observation_end
        As :func:`custval.expected_cumulative_transactions`.
    title, ylabel : str
        Texts of the Axes.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to every ``Axes.plot`` call.

    Returns
    -------
    matplotlib Axes
        Lines "Actual" (solid) and one per model (dashed), x the start of each row's last
        period.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_cdnow, load_cdnow_summary
    >>> model = custval.BetaGeo().fit(load_cdnow_summary())
    >>> ax = custval.plotting.plot_cumulative_transactions(
    ...     model, load_cdnow(), t=546, t_cal=273, freq="D", freq_multiplier=7)
    >>> [line.get_label() for line in ax.lines]
    ['Actual', 'BetaGeo', 'End of calibration']
    >>> int(ax.lines[0].get_ydata()[-1])  # repeat purchases up to 1998-06-30
    4339

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers the
       Easy Way: An Alternative to the Pareto/NBD Model." Marketing Science 24(2), 275–284.
    """
    return _tracking(
        "actual",
        model,
        data,
        t=t,
        t_cal=t_cal,
        freq=freq,
        freq_multiplier=freq_multiplier,
        title=title,
        ylabel=ylabel,
        ax=ax,
        kwargs=kwargs,
        log_options={"customer": customer, "time": time, "observation_end": observation_end},
    )


def plot_incremental_transactions(
    model: Any,
    data: Any,
    *,
    customer: str = "customer_id",
    time: str = "timestamp",
    t: int,
    t_cal: Any = None,
    freq: str = "D",
    freq_multiplier: int = 1,
    observation_end: Any = None,
    title: str = "Tracking Incremental Transactions",
    ylabel: str = "Repeat transactions per row",
    ax: Any = None,
    **kwargs: Any,
):
    """Actual against expected repeat purchases per row (lifetimes'
    ``plot_incremental_transactions``; arguments as :func:`plot_cumulative_transactions`).

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_cdnow, load_cdnow_summary
    >>> model = custval.BetaGeo().fit(load_cdnow_summary())
    >>> ax = custval.plotting.plot_incremental_transactions(
    ...     model, load_cdnow(), t=546, t_cal=273, freq="D", freq_multiplier=7)
    >>> len(ax.lines[0].get_xdata())  # weeks
    78
    """
    return _tracking(
        "actual_incremental",
        model,
        data,
        t=t,
        t_cal=t_cal,
        freq=freq,
        freq_multiplier=freq_multiplier,
        title=title,
        ylabel=ylabel,
        ax=ax,
        kwargs=kwargs,
        log_options={"customer": customer, "time": time, "observation_end": observation_end},
    )


def plot_history_alive(
    model: Any,
    data: Any,
    *,
    customer_id: Any,
    customer: str = "customer_id",
    time: str = "timestamp",
    t: int | None = None,
    freq: str = "D",
    freq_multiplier: int = 1,
    observation_end: Any = None,
    title: str | None = None,
    ax: Any = None,
    **kwargs: Any,
):
    """One customer's P(alive) after each period of their history, purchases marked
    (lifetimes' ``plot_history_alive``, from :func:`custval.alive_history`).

    Parameters
    ----------
    model : fitted purchase model
        Its time unit must be known.
    data : DataFrame, pyarrow Table, polars DataFrame, duckdb relation, dict or path
        The transaction log.
    customer_id : int or str
        The customer.
    customer, time, t, freq, freq_multiplier, observation_end
        As :func:`custval.alive_history`.
    title : str, optional
        By default "History of P(alive) of customer …".
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.plot`` (the P(alive) line).

    Returns
    -------
    matplotlib Axes
        The line "P(alive)" and one dotted vertical line per purchase period.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_cdnow, load_cdnow_summary
    >>> model = custval.BetaGeo().fit(load_cdnow_summary())
    >>> ax = custval.plotting.plot_history_alive(
    ...     model, load_cdnow(), customer_id=1, freq="D", freq_multiplier=7)
    >>> len(ax.lines) - 1  # purchase weeks
    4
    """
    path = alive_history(
        model,
        data,
        customer_id=customer_id,
        customer=customer,
        time=time,
        t=t,
        freq=freq,
        freq_multiplier=freq_multiplier,
        observation_end=observation_end,
        output="pandas",
    )
    ax = axes(ax)
    kwargs.setdefault("label", "P(alive)")
    ax.plot(path.index, path["p_alive"].to_numpy(), **kwargs)
    frequency = path["frequency"].to_numpy()
    purchases = path.index[np.flatnonzero(np.diff(frequency, prepend=-1) > 0)]
    for i, when in enumerate(purchases):
        ax.axvline(when, color="red", linestyle=":", label="Purchase" if i == 0 else None)
    ax.set_ylim(0, 1.05)
    date_axis(ax.xaxis)
    percent_axis(ax.yaxis)
    ax.set(title=title or f"History of P(alive) of customer {customer_id}", xlabel="Period")
    ax.set_ylabel("P(alive)")
    ax.legend()
    return ax


def plot_customer_exposure(
    summary: Any,
    *,
    recency: str = "recency",
    T: str = "T",
    title: str = "Customer Exposure",
    ax: Any = None,
    **kwargs: Any,
):
    """Each customer of ``summary`` as a horizontal line: from the first purchase to the last
    (recency), then on to the end of observation (T) — pymc-marketing's
    ``plot_customer_exposure``. Customers are drawn bottom-up in the summary's order; pass a
    few rows (``summary.head(50)``, a sample, a sorted slice) rather than thousands.

    Parameters
    ----------
    summary : DataFrame, pyarrow Table, polars DataFrame
        Per-customer summary with ``recency`` and ``T``.
    recency, T : str
        Column names.
    title : str
        Title of the Axes.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to both ``Axes.hlines`` calls.

    Returns
    -------
    matplotlib Axes
        Two line collections (recency, then the time since the last purchase) and two
        scatters of their end points.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import load_cdnow_summary
    >>> ax = custval.plotting.plot_customer_exposure(load_cdnow_summary().head(30))
    >>> len(ax.collections[0].get_segments())
    30
    """
    frame, _ = _frames.to_pandas(summary, what="a per-customer summary")
    missing = [c for c in (recency, T) if c not in frame.columns]
    if missing:
        raise ColumnNotFoundError(f"summary: columns {missing} not found")
    last = frame[recency].to_numpy(dtype=np.float64)
    age = frame[T].to_numpy(dtype=np.float64)
    if (last > age).any():
        raise CustvalError(f"summary: {int((last > age).sum())} rows have recency > T")
    rows = np.arange(1, len(frame) + 1)
    ax = axes(ax, figsize=(7.0, max(3.0, 0.12 * len(frame) + 1.5)))
    ax.hlines(rows, 0, last, color="C0", label="Recency (first to last purchase)", **kwargs)
    ax.hlines(rows, last, age, color="C1", label="Since the last purchase (to T)", **kwargs)
    ax.scatter(last, rows, color="C0", s=10)
    ax.scatter(age, rows, color="C1", s=10)
    unit = unit_label(_frames.metadata_of(summary) or None)
    ax.set(xlabel=f"Time since first purchase ({unit})", ylabel="Customer")
    ax.set_title(title, pad=22)
    ax.set_ylim(0.5, len(frame) + 0.5)
    ax.legend(
        loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, fontsize="small", frameon=False
    )
    return ax
