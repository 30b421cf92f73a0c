"""Net Promoter Score with its standard error, overall or by group."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from custval import _display, _frames
from custval.exceptions import ColumnNotFoundError, DataError

_Z95 = 1.959963984540054

_DEFAULT_CUTOFFS = {(0, 10): (6, 8), (1, 10): (6, 8), (1, 7): (5, 6), (1, 5): (3, 4)}


@dataclass(frozen=True)
class Nps:
    """Net Promoter Score with its counts and a Wald 95 % interval (see :func:`nps`)."""

    nps: float | None
    promoters: int
    passives: int
    detractors: int
    n: int
    stderr: float | None
    ci_low: float | None
    ci_high: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _repr_html_(self) -> str:
        def share(part: int) -> str:
            return _display.rate(part / self.n if self.n else None)

        score = "—" if self.nps is None else f"{self.nps:+.1f}"
        interval = (
            "—"
            if self.ci_low is None or self.ci_high is None
            else f"{self.ci_low:+.1f} … {self.ci_high:+.1f}"
        )
        rows = [
            ("NPS", score, ""),
            ("95 % interval", interval, ""),
            ("promoters", _display.count(self.promoters), share(self.promoters)),
            ("passives", _display.count(self.passives), share(self.passives)),
            ("detractors", _display.count(self.detractors), share(self.detractors)),
            ("responses", _display.count(self.n), ""),
        ]
        return _display.html_table(["", "value", "share"], rows, caption="Net Promoter Score")


def _nps_columns(promoters, passives, detractors) -> dict[str, np.ndarray]:
    promoters = np.asarray(promoters, dtype=np.int64)
    passives = np.asarray(passives, dtype=np.int64)
    detractors = np.asarray(detractors, dtype=np.int64)
    n = promoters + passives + detractors
    with np.errstate(invalid="ignore", divide="ignore"):
        p_p = promoters / n
        p_d = detractors / n
        score = 100 * (p_p - p_d)
        stderr = 100 * np.sqrt(np.maximum(p_p + p_d - (p_p - p_d) ** 2, 0) / n)
    return {
        "nps": score,
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
        "n": n,
        "stderr": stderr,
        "ci_low": score - _Z95 * stderr,
        "ci_high": score + _Z95 * stderr,
    }


def nps(
    data: Any,
    *,
    score: str | None = None,
    by: str | Sequence[str] | None = None,
    scale: tuple[int, int] = (0, 10),
    cutoffs: tuple[float, float] | None = None,
    dropna: bool = False,
    output: str = "auto",
):
    """Net Promoter Score: 100 × (promoters − detractors) / responses.

    ``data`` is a frame (``score`` names the column) or a sequence of scores. A response is a
    detractor when ≤ ``cutoffs[0]``, a passive when ≤ ``cutoffs[1]``, else a promoter.
    Default cut points: scale 0–10 and 1–10 → (6, 8); 1–7 → (5, 6); 1–5 → (3, 4); other
    scales need ``cutoffs=``. ``stderr`` = 100 √((p_P + p_D − (p_P − p_D)²) / n) with a Wald
    95 % interval ``ci_low``, ``ci_high``. Invalid scores (null, non-integer or outside
    ``scale``) raise :class:`custval.DataError` with their count, or with ``dropna=True`` are
    dropped with a warning giving the count.

    Returns an :class:`Nps` object, or with ``by`` a frame with one row per group and
    columns ``nps, promoters, passives, detractors, n, stderr, ci_low, ci_high``.

    Examples
    --------
    >>> import custval
    >>> r = custval.nps([10, 9, 9, 8, 7, 6, 3, 10, 10, 0])
    >>> r.nps, r.promoters, r.passives, r.detractors, r.n
    (20.0, 5, 2, 3, 10)
    >>> round(r.stderr, 2), round(r.ci_low, 2), round(r.ci_high, 2)
    (27.57, -34.03, 74.03)
    """
    low, high = scale
    if cutoffs is None:
        if (low, high) not in _DEFAULT_CUTOFFS:
            raise ValueError(f"scale {scale} has no default cut points; pass cutoffs=")
        cutoffs = _DEFAULT_CUTOFFS[(low, high)]
    detractor_max, passive_max = cutoffs
    kind = "other"
    name = score or "score"
    if by is not None or score is not None:
        if score is None:
            raise ValueError("score= must name the score column when data is a frame")
        frame, kind = _frames.to_pandas(data, what="a frame or a dict of columns for nps")
        keys = [by] if isinstance(by, str) else list(by or [])
        missing = [c for c in [score, *keys] if c not in frame.columns]
        if missing:
            raise ColumnNotFoundError(f"column {missing[0]!r} not found")
        values = pd.to_numeric(frame[score], errors="coerce").to_numpy(dtype=np.float64)
        groups = frame[keys] if keys else None
    else:
        values = pd.to_numeric(pd.Series(list(data), dtype=object), errors="coerce")
        values = values.to_numpy(dtype=np.float64)
        groups = None
    finite = np.isfinite(values)
    valid = finite.copy()
    valid[finite] = (
        (values[finite] == np.round(values[finite]))
        & (values[finite] >= low)
        & (values[finite] <= high)
    )
    bad = int((~valid).sum())
    if bad:
        message = f"column {name!r}: {bad} scores are null, non-integer or outside {low}–{high}"
        if not dropna:
            raise DataError(message + "; pass dropna=True to drop them")
        warnings.warn(
            f"custval dropped {bad} invalid scores ({message})", UserWarning, stacklevel=2
        )
    kept = values[valid]
    promoter = kept > passive_max
    detractor = kept <= detractor_max
    passive = ~promoter & ~detractor
    if groups is None:
        cols = _nps_columns([promoter.sum()], [passive.sum()], [detractor.sum()])
        n = int(cols["n"][0])

        def value(key: str) -> float | None:
            return float(cols[key][0]) if n else None

        return Nps(
            nps=value("nps"),
            promoters=int(cols["promoters"][0]),
            passives=int(cols["passives"][0]),
            detractors=int(cols["detractors"][0]),
            n=n,
            stderr=value("stderr"),
            ci_low=value("ci_low"),
            ci_high=value("ci_high"),
        )
    counts = groups[valid].assign(
        _promoter=promoter.astype(np.int64),
        _passive=passive.astype(np.int64),
        _detractor=detractor.astype(np.int64),
    )
    summed = counts.groupby(keys, sort=True)[["_promoter", "_passive", "_detractor"]].sum()
    out = pd.DataFrame(
        _nps_columns(summed["_promoter"], summed["_passive"], summed["_detractor"]),
        index=summed.index,
    )
    return _frames.from_pandas(out, output, kind)
