"""Timing and peak memory of one call, shared by the benches.

Peak memory is Linux's VmHWM (the resident high-water mark), reset through
``/proc/self/clear_refs`` before each call, minus the resident size just before it: what the
call added beyond its input. Elsewhere (no /proc) the peak reads 0. custval keeps the large
blocks a call frees for the next call (``custval.release_memory``): the first of a series of
calls starts with none kept, so that its peak counts all the memory it needs, while the best
time is that of repeated calls, as a notebook makes them (and as the peers' own allocators
keep memory too).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import custval


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


def measure(fn: Callable[[], Any], *, first: bool = False) -> tuple[float, Any, int]:
    """(seconds, result, peak bytes added) of one call of ``fn``; the ``first`` of a series
    starts with no memory kept by custval."""
    gc.collect()
    if first:
        custval.release_memory()
    _peak_reset()
    before = _rss("VmRSS")
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    return seconds, result, max(_rss("VmHWM") - before, 0)


def best_of(fn: Callable[[], Any], runs: int) -> tuple[float, Any, int]:
    """The least seconds of ``runs`` calls, the last result and the largest peak."""
    best, result, peak = float("inf"), None, 0
    for run in range(runs):
        seconds, result, call_peak = measure(fn, first=run == 0)
        best, peak = min(best, seconds), max(peak, call_peak)
    return best, result, peak


def alternating(
    ours: Callable[[], Any], theirs: Callable[[], Any] | None, runs: int
) -> tuple[tuple[float, Any, int], tuple[float, Any, int] | None]:
    """Both calls ``runs`` times, alternating (ours, theirs, ours, …) so that load from other
    processes on a shared machine falls on both alike; best seconds and largest peak of each."""
    mine: list[tuple[float, Any, int]] = []
    other: list[tuple[float, Any, int]] = []
    for run in range(runs):
        mine.append(measure(ours, first=run == 0))
        if theirs is not None:
            other.append(measure(theirs, first=run == 0))

    def best(results: list[tuple[float, Any, int]]) -> tuple[float, Any, int]:
        return (min(r[0] for r in results), results[-1][1], max(r[2] for r in results))

    return best(mine), (best(other) if other else None)
