"""custval at scale: summary, monthly retention, cohorts and a BG/NBD fit on one big log in
memory, with the time and peak resident memory of each step.

Run: python benches/bench_scale.py [--rows 100000000] [--customers 10000000]

The log is built in memory (int64 ids, nanosecond timestamps with sub-second parts in global
time order, float amounts) and handed over as a pyarrow Table. For each step the script prints
seconds, the process's peak RSS during the step (Linux VmHWM, reset before it) and that peak
minus the RSS before the step (what the step added beyond the input).
"""

from __future__ import annotations

import argparse
import gc
import time

import custval
import numpy as np
import pyarrow as pa


def make_log(rows: int, customers: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    rates = rng.gamma(0.5, 1.0, size=customers)
    cumulative = np.cumsum(rates)
    # Owners by inverse-CDF sampling in blocks (np.random.choice with p= holds 3 copies).
    ids = np.empty(rows, dtype=np.int64)
    block = 10_000_000
    for start in range(0, rows, block):
        n = min(block, rows - start)
        ids[start : start + n] = np.searchsorted(cumulative, rng.random(n) * cumulative[-1])
    ids = np.minimum(ids, customers - 1) * 7_919 + 1_000_000  # sparse, not 0..n
    start_ns = np.datetime64("2023-01-01", "ns").astype(np.int64)
    nanos = rng.integers(start_ns, start_ns + 730 * 86_400 * 10**9, size=rows)
    nanos.sort()
    times = pa.array(nanos.view("datetime64[ns]"))
    amounts = np.round(rng.gamma(2.0, 20.0, size=rows), 2)
    return pa.table({"customer_id": ids, "timestamp": times, "amount": amounts})


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def step(name: str, fn):
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS
    before = _status("VmRSS")
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    peak = _status("VmHWM")
    print(
        f"{name:<22}{seconds:>9.1f} s   peak RSS {peak / 2**30:6.2f} GiB   "
        f"(+{(peak - before) / 2**30:.2f} GiB over {before / 2**30:.2f})",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--customers", type=int, default=10_000_000)
    args = parser.parse_args()
    log = step("build the log", lambda: make_log(args.rows, args.customers))
    print(
        f"{args.rows:,} rows, {args.customers:,} customers drawn; input "
        f"{log.nbytes / 2**30:.2f} GiB; {custval.get_num_threads()} threads",
        flush=True,
    )
    summary = step("rfm_summary (D)", lambda: custval.rfm_summary(log, amount="amount"))
    step("retention (M)", lambda: custval.retention(log, amount="amount", freq="M"))
    step("cohorts (M)", lambda: custval.cohorts(log, freq="M"))
    model = step("BG/NBD fit", lambda: custval.BetaGeo().fit(summary))
    print(f"{len(summary):,} customers; BG/NBD {model.params_}")


if __name__ == "__main__":
    main()
