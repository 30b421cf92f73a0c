"""The job's voice: logs on stderr (plain text or one JSON object a line) and progress by
stage (a bar on a terminal, a plain line per stage otherwise, as schedulers capture it)."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LOGGER = logging.getLogger("custval.run")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, message and any ``extra={"fields": {...}}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        return json.dumps(entry, default=str)


def configure(log_format: str) -> None:
    """Route the job's log records to stderr in ``log_format`` ("text" or "json")."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s custval %(levelname)s %(message)s"))
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False


def _reset_peak_rss() -> None:
    """Start a new peak-memory window (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _peak_rss_mib() -> float | None:
    """The process's peak resident memory since the last reset, in MiB (Linux only)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def release_memory() -> None:
    """Hand freed memory back to the system between stages: Arrow's pool and the C heap
    (where the native passes allocate) keep it otherwise, and each stage's peak would stack
    on the last one's leftovers."""
    import ctypes
    import ctypes.util

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        trim = getattr(ctypes.CDLL(libc_name), "malloc_trim", None)  # glibc only
        if trim is not None:
            trim(0)


class Progress:
    """Stages of the job, timed and with their peak memory; a tqdm bar when stderr is a
    terminal and text logs are on."""

    def __init__(self, stages: list[str], log_format: str):
        self.timings: dict[str, float] = {}
        self.peak_rss_mib: dict[str, float | None] = {}
        self._total = len(stages)
        self._bar = None
        if log_format == "text" and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=len(stages), unit="stage", file=sys.stderr, leave=False)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        step = len(self.timings) + 1
        _reset_peak_rss()
        if self._bar is not None:
            self._bar.set_description(name)
        else:
            LOGGER.info(
                "stage %d/%d: %s", step, self._total, name, extra={"fields": {"stage": name}}
            )
        yield
        seconds = time.perf_counter() - started
        self.timings[name] = round(seconds, 3)
        self.peak_rss_mib[name] = peak = _peak_rss_mib()
        release_memory()
        if self._bar is not None:
            self._bar.update(1)
        LOGGER.info(
            "%s done in %.2f s, peak memory %s MiB",
            name,
            seconds,
            peak,
            extra={"fields": {"stage": name, "seconds": round(seconds, 3), "peak_rss_mib": peak}},
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
