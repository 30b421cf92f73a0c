"""Throughput of custval calls from 1 vs 2 Python threads (the GIL is released during native
work, so a second thread's call runs while the first one's is in Rust).

Run: python benches/bench_threads.py [--rows 2000000] [--calls 8] [--pool 1]

Each call summarises its own log (``rows`` rows, time-sorted). ``--pool`` sizes custval's
thread pool: with one pool thread per call, two Python threads on two cores can double the
throughput; with the default pool (all cores) each call is already parallel inside.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import custval
import numpy as np
import pyarrow as pa


def make_log(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2023-01-01", "ns").astype(np.int64)
    nanos = np.sort(rng.integers(start, start + 730 * 86_400 * 10**9, size=rows))
    return pa.table(
        {
            "customer_id": rng.integers(0, rows // 10, size=rows),
            "timestamp": pa.array(nanos.view("datetime64[ns]")),
            "amount": np.round(rng.gamma(2.0, 20.0, size=rows), 2),
        }
    )


def throughput(logs: list[pa.Table], threads: int) -> float:
    """Calls per second summarising every log once, from ``threads`` Python threads."""
    call = lambda log: custval.rfm_summary(log, amount="amount", output="arrow")  # noqa: E731
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(call, logs))
    assert all(r.num_rows > 0 for r in results)
    return len(logs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--pool", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    logs = [make_log(args.rows, seed) for seed in range(args.calls)]
    for pool in args.pool:
        custval.set_num_threads(pool)
        one = max(throughput(logs, 1) for _ in range(2))
        two = max(throughput(logs, 2) for _ in range(2))
        print(
            f"pool {pool}: 1 Python thread {one:.2f} calls/s, 2 Python threads {two:.2f} "
            f"calls/s ({two / one:.2f}x), {args.rows:,} rows a call"
        )


if __name__ == "__main__":
    main()
