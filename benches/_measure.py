"""Timing and peak memory of one call, shared by the benches.

Peak memory is Linux's VmHWM (the resident high-water mark), reset through
``/proc/self/clear_refs`` before each call, minus the resident size just before it: what the
call added beyond its input. Elsewhere (no /proc) the peak reads 0.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any


def _peak_reset() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _rss(field: str) -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(fn: Callable[[], Any]) -> tuple[float, Any, int]:
    """(seconds, result, peak bytes added) of one call of ``fn``."""
    gc.collect()
    _peak_reset()
    before = _rss("VmRSS")
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    return seconds, result, max(_rss("VmHWM") - before, 0)


def best_of(fn: Callable[[], Any], runs: int) -> tuple[float, Any, int]:
    """The least seconds of ``runs`` calls, the last result and the largest peak."""
    best, result, peak = float("inf"), None, 0
    for _ in range(runs):
        seconds, result, call_peak = measure(fn)
        best, peak = min(best, seconds), max(peak, call_peak)
    return best, result, peak


def alternating(
    ours: Callable[[], Any], theirs: Callable[[], Any] | None, runs: int
) -> tuple[tuple[float, Any, int], tuple[float, Any, int] | None]:
    """Both calls ``runs`` times, alternating (ours, theirs, ours, …) so that load from other
    processes on a shared machine falls on both alike; best seconds and largest peak of each."""
    mine: list[tuple[float, Any, int]] = []
    other: list[tuple[float, Any, int]] = []
    for _ in range(runs):
        mine.append(measure(ours))
        if theirs is not None:
            other.append(measure(theirs))

    def best(results: list[tuple[float, Any, int]]) -> tuple[float, Any, int]:
        return (min(r[0] for r in results), results[-1][1], max(r[2] for r in results))

    return best(mine), (best(other) if other else None)
