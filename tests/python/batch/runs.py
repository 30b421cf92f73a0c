"""Helpers of the ``custval run`` tests: simulated logs on disk, the command's result, and the
command as a subprocess (for signals)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import custval
import pyarrow as pa
import pyarrow.parquet as pq


def simulated_log(customers: int, seed: int = 3) -> pa.Table:
    """A BG/NBD + Gamma-Gamma log in time order (how logs are appended)."""
    log = custval.datasets.simulate_transactions(customers, seed=seed, output="arrow")
    return log.sort_by([("timestamp", "ascending"), ("customer_id", "ascending")])


def write_parts(log: pa.Table, directory: Path, parts: int = 3) -> Path:
    """``log`` as ``parts`` Parquet files (consecutive slices) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    step = -(-log.num_rows // parts)
    for i in range(parts):
        pq.write_table(log.slice(i * step, step), directory / f"part-{i}.parquet")
    return directory


class Run:
    """One finished run: exit code, the JSON summary on stdout (if any), stderr."""

    def __init__(self, code: int, stdout: str, stderr: str):
        self.code, self.stdout, self.stderr = code, stdout, stderr
        lines = stdout.strip().splitlines()
        self.summary = json.loads(lines[-1]) if lines else None


COLUMNS = ("--amount", "amount", "--order", "order_id")


def subprocess_env() -> dict[str, str]:
    """The environment of a ``python -m custval`` child: this custval on its path."""
    package_root = str(Path(custval.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": package_root + (os.pathsep + path if path else "")}


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "custval", "run", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
