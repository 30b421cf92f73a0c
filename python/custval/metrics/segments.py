"""RFM scores and segments, and how concentrated customer value is.

Both rank the per-customer summary of :func:`custval.rfm_summary` with vectorised NumPy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custval import _display, _frames
from custval.exceptions import ArgumentError
from custval.summary import rfm_summary

#: Default (R, F) segments, first match wins; covers the whole 5 × 5 grid (DESIGN.md §4).
DEFAULT_SEGMENTS: list[tuple[str, tuple[int, int], tuple[int, int]]] = [
    ("Champions", (5, 5), (4, 5)),
    ("Loyal", (3, 4), (4, 5)),
    ("Potential Loyalist", (4, 5), (2, 3)),
    ("New", (5, 5), (1, 1)),
    ("Promising", (4, 4), (1, 1)),
    ("Need Attention", (3, 3), (3, 3)),
    ("About to Sleep", (3, 3), (1, 2)),
    ("Can't Lose Them", (1, 2), (5, 5)),
    ("At Risk", (1, 2), (3, 4)),
    ("Hibernating", (1, 2), (1, 2)),
]

SegmentRules = Sequence[tuple[str, Any, Any]] | Callable[[np.ndarray, np.ndarray, np.ndarray], Any]


class Ranks:
    """Where values rank among a population, from its distinct values and their counts (which
    add up over parts of the population, so a distributed one ranks exactly as in memory)."""

    def __init__(self, values: Any, counts: Any):
        order = np.argsort(np.asarray(values), kind="stable")
        self.values = np.asarray(values)[order]
        counts = np.asarray(counts, dtype=np.int64)[order]
        self.below = np.cumsum(counts) - counts  # population members strictly below each
        self.n = int(counts.sum())

    @classmethod
    def of(cls, population: Any) -> Ranks:
        values, counts = np.unique(np.asarray(population), return_counts=True)
        return cls(values, counts)

    def scores(self, goodness: Any, bins: int) -> np.ndarray:
        """1 + floor(bins × (rank − 1) / n), rank = "min" rank of each value (members of the
        population)."""
        at = np.searchsorted(self.values, np.asarray(goodness), side="left")
        return (1 + (bins * self.below[at]) // max(self.n, 1)).astype(np.int64)


def rank_scores(goodness: Any, bins: int = 5) -> np.ndarray:
    """Scores 1..``bins``: 1 + floor(bins × (rank − 1) / n), rank = "min" rank of goodness.

    Equal values always get equal scores (ties take the lowest rank).

    Examples
    --------
    >>> from custval.metrics import rank_scores
    >>> rank_scores([1, 1, 1, 1, 2, 3, 5, 8, 9, 9], bins=5).tolist()
    [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    """
    values = np.asarray(goodness)
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    return Ranks.of(values).scores(values, bins)


def _bounds(spec: Any) -> tuple[int, int]:
    if isinstance(spec, int | np.integer):
        return int(spec), int(spec)
    lo, hi = spec
    return int(lo), int(hi)


def _segment_names(rules: SegmentRules, r: np.ndarray, f: np.ndarray, m: np.ndarray) -> pa.Array:
    if callable(rules):
        names = np.asarray(rules(r, f, m), dtype=object)
        if names.shape != r.shape:
            raise ArgumentError("a segments callable must return one name per customer")
        return pa.array(names.tolist(), pa.string())
    conditions, names = [], []
    for rule in rules:
        name, r_spec, f_spec = rule
        (r_lo, r_hi), (f_lo, f_hi) = _bounds(r_spec), _bounds(f_spec)
        conditions.append((r >= r_lo) & (r <= r_hi) & (f >= f_lo) & (f <= f_hi))
        names.append(str(name))
    # Rule numbers, then names looked up in Arrow: no Python string per customer (millions).
    which = np.select(conditions, np.arange(len(names)), default=len(names)).astype(np.int32)
    dictionary = pa.array([*names, "Other"], pa.string())
    return pa.DictionaryArray.from_arrays(which, dictionary).dictionary_decode()


def _score_text(scores: list[np.ndarray], bins: int) -> pa.Array:
    """The scores as one string per customer ("545"; joined with "-" when ``bins`` > 9)."""
    if bins <= 9:  # one digit each: the digits of one integer, formatted by Arrow
        code = np.zeros_like(scores[0])
        for score in scores:
            code = code * 10 + score
        return pa.array(code).cast(pa.string())
    text = scores[0].astype(str).astype(object)
    for score in scores[1:]:
        text = text + "-" + score.astype(str).astype(object)
    return pa.array(text.tolist(), pa.string())


def rfm_segments(
    data: Any,
    *,
    customer: str = "customer_id",
    time: str = "timestamp",
    amount: str | None = None,
    order: str | None = None,
    freq: str = "D",
    observation_end: Any = None,
    bins: int = 5,
    segments: SegmentRules | None = None,
    output: str = "auto",
    money: str = "float",
    scale: int = 2,
    dropna: bool = False,
):
    """R, F and M scores, the ``rfm_score`` string and a named segment per customer.

    R = periods since the last purchase (T − recency of :func:`custval.rfm_summary`, fewer is
    better), F = ``n_orders``, M = ``revenue``. Each is scored 1..``bins`` by rank: score =
    1 + floor(bins × (rank − 1) / n), rank = 1-based ascending rank of goodness, ties given
    the lowest rank, so equal values always get equal scores. ``rfm_score`` concatenates the
    three scores ("545"; joined with "-" when ``bins`` > 9).

    ``segments`` replaces the default (R, F) map :data:`DEFAULT_SEGMENTS` (which needs
    ``bins=5``): either a sequence of ``(name, r, f)`` rules, ``r`` and ``f`` an int or an
    inclusive ``(low, high)`` pair, first match wins, unmatched customers get "Other"; or a
    callable ``(r, f, m) -> names`` taking the three score arrays and returning one name per
    customer.

    Columns: ``periods_since_last_purchase, n_orders, revenue, r_score, f_score, m_score,
    rfm_score, segment`` (pandas indexed by customer id). Without ``amount`` the M score and
    ``revenue`` are absent and ``rfm_score`` has two digits.

    Examples
    --------
    >>> import pandas as pd, custval
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 2, 3, 3, 4, 5],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-30", "2024-01-15",
    ...                                  "2024-02-01", "2024-03-01", "2024-03-29", "2024-01-02"]),
    ...     "amount": [50.0, 60.0, 70.0, 20.0, 30.0, 35.0, 10.0, 5.0],
    ... })
    >>> s = custval.rfm_segments(log, amount="amount")
    >>> s[["periods_since_last_purchase", "n_orders", "rfm_score", "segment"]]
                 periods_since_last_purchase  n_orders rfm_score      segment
    customer_id
    1                                    0.0         3       555    Champions
    2                                   75.0         1       213  Hibernating
    3                                   29.0         2       344        Loyal
    4                                    1.0         1       412    Promising
    5                                   88.0         1       111  Hibernating
    """
    segments = check_segments(bins, segments)
    summary = rfm_summary(
        data,
        customer=customer,
        time=time,
        amount=amount,
        order=order,
        freq=freq,
        observation_end=observation_end,
        money=money,
        scale=scale,
        dropna=dropna,
        output="arrow",
    )
    table = segments_of_summary(summary, customer=customer, bins=bins, segments=segments)
    metadata = {**_frames.metadata_of(summary), "bins": bins}
    kind = _frames.resolve(output, _frames.kind_of(data))
    return _frames.convert(table, kind, index=customer, metadata=metadata)


def check_segments(bins: Any, segments: SegmentRules | None) -> SegmentRules:
    """The segment rules for ``bins`` (the default map needs 5), ``bins`` checked."""
    if not isinstance(bins, int) or bins < 1:
        raise ArgumentError(f"bins must be a positive integer, got {bins!r}")
    if segments is None:
        if bins != 5:
            raise ArgumentError("the default segments need bins=5; pass segments= for other bins")
        return DEFAULT_SEGMENTS
    return segments


def rfm_goodness(summary: pa.Table, with_amount: bool) -> dict[str, np.ndarray]:
    """What R, F and M rank, higher is better: −(T − recency), ``n_orders``, ``revenue``."""
    since = pc.subtract(summary.column("T"), summary.column("recency")).to_numpy()
    out = {"r": -since, "f": summary.column("n_orders").to_numpy()}
    if with_amount:
        out["m"] = summary.column("revenue").cast(pa.float64()).to_numpy()
    return out


def segment_table(
    summary: pa.Table,
    customer: str,
    goodness: dict[str, np.ndarray],
    ranks: dict[str, Ranks],
    bins: int,
    segments: SegmentRules,
) -> pa.Table:
    """The segments of the customers of ``summary``, scored by their ``ranks`` among all."""
    r = ranks["r"].scores(goodness["r"], bins)
    f = ranks["f"].scores(goodness["f"], bins)
    with_amount = "m" in goodness
    columns: dict[str, Any] = {
        customer: summary.column(customer),
        "periods_since_last_purchase": pc.subtract(summary.column("T"), summary.column("recency")),
        "n_orders": summary.column("n_orders"),
    }
    scores = [r, f]
    if with_amount:
        m = ranks["m"].scores(goodness["m"], bins)
        columns["revenue"] = summary.column("revenue")
        scores.append(m)
    else:
        m = np.zeros_like(r)
    columns.update(r_score=r, f_score=f)
    if with_amount:
        columns["m_score"] = m
    columns["rfm_score"] = _score_text(scores, bins)
    columns["segment"] = _segment_names(segments, r, f, m)
    return pa.table(columns)


def segments_of_summary(
    summary: pa.Table, *, customer: str, bins: int, segments: SegmentRules
) -> pa.Table:
    """The columns of :func:`rfm_segments` for an Arrow summary of :func:`custval.rfm_summary`
    (with its ``customer`` column), in the summary's row order; ``revenue`` (and the M score)
    only when the summary has it. For a caller that has the summary already (one pass over
    the log fewer).

    Examples
    --------
    >>> import pandas as pd, custval
    >>> from custval.metrics.segments import DEFAULT_SEGMENTS, segments_of_summary
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 2],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-30", "2024-01-02"]),
    ...     "amount": [10.0, 30.0, 20.0],
    ... })
    >>> summary = custval.rfm_summary(log, amount="amount", output="arrow")
    >>> table = segments_of_summary(summary, customer="customer_id", bins=5,
    ...                             segments=DEFAULT_SEGMENTS)
    >>> table.column("rfm_score").to_pylist(), table.column("segment").to_pylist()
    (['333', '111'], ['Need Attention', 'Hibernating'])
    """
    goodness = rfm_goodness(summary, "revenue" in summary.column_names)
    ranks = {name: Ranks.of(values) for name, values in goodness.items()}
    return segment_table(summary, customer, goodness, ranks, bins, segments)


def segment_summary(segments_frame: Any, *, output: str = "auto"):
    """Per segment of :func:`rfm_segments`: size, revenue share, AOV and recency.

    Columns: ``customers``, ``customer_share``, ``revenue``, ``revenue_share``, ``aov``
    (revenue / orders) and ``mean_periods_since_last_purchase``, one row per segment,
    largest revenue first (pandas indexed by ``segment``).

    Examples
    --------
    >>> import pandas as pd, custval
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 2, 3],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-30", "2024-01-02", "2024-01-29"]),
    ...     "amount": [10.0, 30.0, 20.0, 40.0],
    ... })
    >>> seg = custval.rfm_segments(log, amount="amount", segments=[("recent", (3, 5), (1, 5))])
    >>> seg["segment"].tolist()
    ['recent', 'Other', 'Other']
    >>> custval.segment_summary(seg)[["customers", "revenue", "revenue_share", "aov"]]
             customers  revenue  revenue_share   aov
    segment
    Other            2     60.0            0.6  30.0
    recent           1     40.0            0.4  20.0
    """
    frame, kind = _frames.to_pandas(segments_frame, what="a frame made by rfm_segments")
    if "revenue" not in frame.columns:
        raise ArgumentError("segment_summary needs the revenue column (rfm_segments with amount=)")
    work = pd.DataFrame(
        {
            "segment": frame["segment"].to_numpy(),
            "revenue": frame["revenue"].astype("float64").to_numpy(),
            "n_orders": frame["n_orders"].to_numpy(),
            "since": frame["periods_since_last_purchase"].to_numpy(),
        }
    )
    grouped = work.groupby("segment", sort=False)
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "revenue": grouped["revenue"].sum(),
            "orders": grouped["n_orders"].sum(),
            "mean_periods_since_last_purchase": grouped["since"].mean(),
        }
    )
    total_revenue = work["revenue"].sum()
    out["customer_share"] = out["customers"] / len(work)
    out["revenue_share"] = out["revenue"] / total_revenue if total_revenue else np.nan
    out["aov"] = out["revenue"] / out["orders"]
    out = out.sort_values("revenue", ascending=False, kind="stable")
    out = out[
        [
            "customers",
            "customer_share",
            "revenue",
            "revenue_share",
            "aov",
            "mean_periods_since_last_purchase",
        ]
    ]
    out.index.name = "segment"
    return _frames.from_pandas(out, output, kind)


@dataclass(frozen=True)
class Concentration:
    """How concentrated customer value is (see :func:`value_concentration`)."""

    customers: int
    total: float
    top_1pct: float | None
    top_5pct: float | None
    top_10pct: float | None
    top_20pct: float | None
    gini: float | None
    lorenz_customers: np.ndarray
    lorenz_value: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lorenz_customers"] = self.lorenz_customers.tolist()
        out["lorenz_value"] = self.lorenz_value.tolist()
        return out

    def __repr__(self) -> str:
        shown = ("customers", "total", "top_1pct", "top_5pct", "top_10pct", "top_20pct", "gini")
        body = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"Concentration({body})"

    def _repr_html_(self) -> str:
        rows = [
            ("customers", _display.count(self.customers)),
            ("total value", _display.money(self.total)),
            *(
                (f"share of the top {p} %", _display.rate(getattr(self, f"top_{p}pct")))
                for p in (1, 5, 10, 20)
            ),
            ("Gini coefficient", _display.number(self.gini, 3)),
        ]
        return _display.html_table(["", "value"], rows, caption="Value concentration")


def concentration_of(values: Any, *, points: int = 101) -> Concentration:
    """:class:`Concentration` of per-customer values (see :func:`value_concentration`).

    Examples
    --------
    >>> from custval.metrics import concentration_of
    >>> c = concentration_of([1.0, 1.0, 1.0, 1.0, 96.0], points=6)
    >>> c.top_20pct, round(c.gini, 4)
    (0.96, 0.76)
    >>> c.lorenz_value.tolist()
    [0.0, 0.01, 0.02, 0.03, 0.04, 1.0]
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    total = float(x.sum()) if n else 0.0
    if points < 2:
        raise ArgumentError("points must be at least 2")
    if n == 0 or total == 0:
        empty = np.zeros(0)
        return Concentration(n, total, None, None, None, None, None, empty, empty)
    cumulative = np.concatenate([[0.0], np.cumsum(x)])
    descending = cumulative[-1] - cumulative[::-1]  # value of the top m customers, m = 0..n

    def top(percent: int) -> float:
        m = max(1, -(-percent * n // 100))
        return float(descending[m] / total)

    ranks = np.arange(1, n + 1, dtype=np.float64)
    gini = float(2.0 * np.dot(ranks, x) / (n * total) - (n + 1) / n)
    at = np.rint(np.linspace(0, n, points)).astype(np.int64)
    return Concentration(
        customers=n,
        total=total,
        top_1pct=top(1),
        top_5pct=top(5),
        top_10pct=top(10),
        top_20pct=top(20),
        gini=gini,
        lorenz_customers=at / n,
        lorenz_value=cumulative[at] / total,
    )


def concentration_column(by: str, amount: str | None) -> str:
    """The summary column :func:`value_concentration` measures for ``by`` (checked)."""
    if by not in ("revenue", "orders"):
        raise ArgumentError(f"by must be 'revenue' or 'orders', not {by!r}")
    if by == "revenue" and amount is None:
        raise ArgumentError("by='revenue' needs amount=")
    return "revenue" if by == "revenue" else "n_orders"


def value_concentration(
    data: Any,
    *,
    customer: str = "customer_id",
    time: str = "timestamp",
    amount: str | None = None,
    order: str | None = None,
    by: str = "revenue",
    points: int = 101,
    scale: int = 2,
    dropna: bool = False,
) -> Concentration:
    """Share of value held by the top customers, the Lorenz curve and the Gini coefficient.

    Per-customer value is total ``revenue`` (needs ``amount``) or ``orders`` (``by=``).
    ``top_1pct`` … ``top_20pct`` are the fractions of the total held by the top ⌈x % × n⌉
    customers (at least one). The Lorenz curve is sampled at ``points`` evenly spaced customer
    shares (``lorenz_customers``: share of customers, poorest first; ``lorenz_value``: their
    share of value). ``gini`` = 2 Σ i·x₍ᵢ₎ / (n Σ x) − (n + 1) / n over values sorted ascending.

    Examples
    --------
    >>> import pandas as pd, custval
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 2, 3, 4, 5, 5],
    ...     "timestamp": pd.to_datetime(["2024-01-01"] * 6),
    ...     "amount": [1.0, 1.0, 1.0, 1.0, 90.0, 6.0],
    ... })
    >>> c = custval.value_concentration(log, amount="amount")
    >>> c.top_1pct, c.top_20pct, round(c.gini, 2)
    (0.96, 0.96, 0.76)
    """
    column = concentration_column(by, amount)
    summary = rfm_summary(
        data,
        customer=customer,
        time=time,
        amount=amount,
        order=order,
        scale=scale,
        dropna=dropna,
        output="arrow",
    )
    return concentration_of(summary.column(column).to_numpy(), points=points)
