"""Cross-sell in pictures: the strongest product pairs, and how recommendations fared on a
holdout against the best-sellers."""

from __future__ import annotations

from typing import Any

import numpy as np

from custval import _frames
from custval.exceptions import ColumnNotFoundError
from custval.plotting._base import axes, check_positive_int, percent_axis

# A pair is drawn in colour when its one-sided Fisher p-value is below this: a high lift on
# a handful of baskets is often chance.
SIGNIFICANT = 0.05

_EVALUATION_METRICS = {
    "hit_rate": "Hit rate",
    "precision": "Precision",
    "recall": "Recall",
    "coverage": "Coverage",
}


def plot_affinity(
    pairs: Any,
    top: int = 15,
    *,
    title: str | None = None,
    ax: Any = None,
    **kwargs: Any,
):
    """The ``top`` product pairs of highest lift, from :func:`custval.affinity`: one
    horizontal bar per pair, strongest at the top (ties: higher count, then product ids, as
    ``affinity(top_k=...)`` orders them), a dashed line at lift 1 (bought together as often
    as chance alone gives), each bar labelled with its count and both confidences (the
    share of A's baskets holding B, and of B's holding A). Pairs
    whose p-value is not below 0.05 are grey: their lift may be chance.

    Parameters
    ----------
    pairs : DataFrame, pyarrow Table or polars DataFrame
        The result of :func:`custval.affinity`.
    top : int
        How many pairs to draw.
    title : str, optional
        By default says how many pairs are drawn, of how many.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to ``Axes.barh``.

    Returns
    -------
    matplotlib Axes
        One bar container, bars from the strongest pair down; tick labels ``"A + B"``.

    Examples
    --------
    >>> import pandas as pd, custval
    >>> lines = pd.DataFrame({
    ...     "order_id": [1, 1, 2, 2, 3, 3, 3, 4],
    ...     "product_id": ["tea", "cup", "tea", "cup", "tea", "pot", "cup", "pot"],
    ... })
    >>> ax = custval.plotting.plot_affinity(custval.affinity(lines))
    >>> [tick.get_text() for tick in ax.get_yticklabels()]
    ['cup + tea', 'cup + pot', 'pot + tea']
    >>> [round(float(bar.get_width()), 3) for bar in ax.containers[0]]
    [1.333, 0.667, 0.667]
    """
    top = check_positive_int(top, "top")
    frame, _ = _frames.to_pandas(pairs, what="the pairs of custval.affinity")
    needed = ["product_a", "product_b", "count", "confidence_a_b", "confidence_b_a", "lift"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ColumnNotFoundError(
            f"pairs: column {missing[0]!r} not found; pass the pairs of custval.affinity"
        )
    order = np.lexsort(
        (
            frame["product_b"].to_numpy(),
            frame["product_a"].to_numpy(),
            -frame["count"].to_numpy(),
            -frame["lift"].to_numpy(),
        )
    )
    shown = frame.iloc[order[:top]]
    lift = shown["lift"].to_numpy(dtype="float64")
    significant = (
        shown["p_value"].to_numpy() < SIGNIFICANT
        if "p_value" in shown.columns
        else np.ones(len(shown), dtype=bool)
    )
    ax = axes(ax, figsize=(7.0, 0.8 + 0.35 * max(len(shown), 3)))
    positions = np.arange(len(shown))
    kwargs.setdefault("color", list(np.where(significant, "C0", "0.7")))
    ax.barh(positions, lift, **kwargs)
    labels = [f"{a} + {b}" for a, b in zip(shown["product_a"], shown["product_b"], strict=True)]
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()
    rows = zip(
        positions,
        lift,
        shown["count"],
        shown["confidence_a_b"],
        shown["confidence_b_a"],
        strict=True,
    )
    for position, value, count, a_b, b_a in rows:
        ax.annotate(
            f"{count:,} together · in {a_b:.0%} of A's, {b_a:.0%} of B's",
            (value, position),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
    ax.axvline(1.0, color="0.5", linestyle="--", linewidth=1)
    if title is None:
        title = f"Strongest product pairs: top {len(shown)} of {len(frame):,} by lift"
    ax.set(title=title, xlabel="Lift (times as often as chance)")
    # Room on the right for the labels.
    ax.set_xlim(0, max(float(lift.max(initial=1.0)), 1.0) * 1.8)
    return ax


def plot_recommendation_evaluation(
    evaluation: Any,
    *,
    title: str | None = None,
    ax: Any = None,
    **kwargs: Any,
):
    """How recommendations fared on the holdout, from
    :func:`custval.evaluate_recommendations`: hit rate, precision, recall and coverage side by
    side, one bar per method (item similarity against the popularity baseline), each labelled
    with its value.

    Parameters
    ----------
    evaluation : DataFrame, pyarrow Table or polars DataFrame
        The result of :func:`custval.evaluate_recommendations`.
    title : str, optional
        By default names the holdout's customers.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure.
    **kwargs
        Passed to each ``Axes.bar``.

    Returns
    -------
    matplotlib Axes
        One bar container per method, in the table's order, labelled with its name; each
        holds the four metrics in the order above.

    Examples
    --------
    >>> import custval
    >>> from custval.datasets import simulate_baskets
    >>> lines = simulate_baskets(2_000, 200, seed=1)
    >>> table = custval.evaluate_recommendations(lines, split="2024-09-30", top_k=10)
    >>> ax = custval.plotting.plot_recommendation_evaluation(table)
    >>> [container.get_label() for container in ax.containers]
    ['item_similarity', 'popularity']
    """
    frame, _ = _frames.to_pandas(evaluation, what="the table of custval.evaluate_recommendations")
    if "method" in frame.columns:
        frame = frame.set_index("method")
    missing = [m for m in _EVALUATION_METRICS if m not in frame.columns]
    if missing:
        raise ColumnNotFoundError(
            f"evaluation: column {missing[0]!r} not found; pass the table of "
            "custval.evaluate_recommendations"
        )
    ax = axes(ax)
    methods = [str(m) for m in frame.index]
    width = 0.8 / max(len(methods), 1)
    groups = np.arange(len(_EVALUATION_METRICS))
    for i, method in enumerate(methods):
        values = frame.loc[frame.index[i], list(_EVALUATION_METRICS)].to_numpy(dtype="float64")
        shift = (i - (len(methods) - 1) / 2) * width
        bars = ax.bar(groups + shift, values, width, label=method, **kwargs)
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], fontsize="small", padding=2)
    ax.set_xticks(groups, list(_EVALUATION_METRICS.values()))
    # Rates run to 100 %: the legend takes the band above, clear of the bars' labels.
    ax.set_ylim(0, 1.25)
    ax.set_yticks(np.linspace(0, 1, 6))
    percent_axis(ax.yaxis)
    if title is None:
        customers = frame["customers"].iloc[0] if "customers" in frame.columns else None
        where = f" ({int(customers):,} customers)" if customers is not None else ""
        title = f"Recommendations on the holdout{where}"
    ax.set(title=title, ylabel="Share")
    ax.legend(loc="upper center", ncols=max(len(methods), 1), frameon=False)
    return ax
