"""``custval run`` at scale: wall time, peak RSS and time per stage of the nightly job.

Run: python benches/bench_batch.py [--rows 100000000] [--customers 5000000] [--dir DIR]

Writes a simulated Parquet log (BG/NBD purchases with Gamma-Gamma spend over two years, in
files of whole customers, each file in time order) into DIR (a temporary directory by default;
an existing log of the same size there is reused), then runs ``custval run`` on it in a child
process and prints its wall time, its peak resident memory (the child's ru_maxrss) and the
seconds of each stage from the manifest. The generator never holds more than one file's rows.
The issue's target: 100M transactions / 5M customers with a peak RSS below 4 GiB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import custval
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# Purchase rates per day and dropout such that a customer makes ~20 transactions in two years
# (the 100M rows / 5M customers); spend as CDNOW's Gamma-Gamma estimates.
PARAMS = {"r": 2.0, "alpha": 24.0, "a": 0.6, "b": 14.0}
CUSTOMERS_PER_FILE = 250_000


def _part(index: int, customers: int, seed: int) -> pa.Table:
    """One file's customers (ids offset so they are unique across files), in time order."""
    log = custval.datasets.simulate_transactions(
        customers, seed=seed + index, params=PARAMS, output="arrow"
    )
    offset = index * CUSTOMERS_PER_FILE
    log = log.set_column(0, "customer_id", pc.add(log["customer_id"], offset))
    return log.set_column(1, "order_id", pc.add(log["order_id"], offset * 1_000))


def write_log(directory: Path, customers: int, rows: int, seed: int = 0) -> int:
    """Files of CUSTOMERS_PER_FILE customers until ``customers``; returns the rows written.

    The simulated rows per customer vary around ~20; ``rows`` is the target the parameters
    aim at and is only reported.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written, index = 0, 0
    started = time.perf_counter()
    while index * CUSTOMERS_PER_FILE < customers:
        n = min(CUSTOMERS_PER_FILE, customers - index * CUSTOMERS_PER_FILE)
        part = _part(index, n, seed)
        pq.write_table(part, directory / f"part-{index:04d}.parquet", row_group_size=1 << 20)
        written += part.num_rows
        index += 1
        print(
            f"  wrote part {index}: {written:,} rows so far (target {rows:,}), "
            f"{time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
    return written


def run_job(log_dir: Path, out: Path, threads: int | None) -> dict:
    """``custval run`` in a child process; its wall time, peak RSS and the manifest."""
    command = [
        sys.executable,
        "-m",
        "custval",
        "run",
        str(log_dir),
        "-o",
        str(out),
        "--amount",
        "amount",
        "--order",
        "order_id",
        "--log-format",
        "json",
    ]
    if threads:
        command += ["--threads", str(threads)]
    started = time.perf_counter()
    child = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB
    if child.returncode != 0:
        sys.exit(f"custval run exited {child.returncode}:\n{child.stderr[-4000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    return {
        "wall_s": wall,
        "peak_rss_mib": peak_kib / 1024,
        "manifest": manifest,
        "summary": json.loads(child.stdout.strip().splitlines()[-1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000, help="target transactions")
    parser.add_argument("--customers", type=int, default=5_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="where the log is (re)used")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.dir or Path(scratch)
        log_dir = root / f"log-{args.customers}"
        if not log_dir.exists():
            print(
                f"generating ~{args.rows:,} rows of {args.customers:,} customers", file=sys.stderr
            )
            write_log(log_dir, args.customers, args.rows)
        files = sorted(log_dir.iterdir())
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        size = sum(f.stat().st_size for f in files)
        in_memory = rows * (8 + 8 + 8 + 8)  # four 8-byte columns as Arrow holds them
        print(
            f"log: {rows:,} rows, {len(files)} Parquet files, {size / 2**30:.2f} GiB on disk, "
            f"{in_memory / 2**30:.2f} GiB as Arrow columns"
        )
        result = run_job(log_dir, root / "out", args.threads)
    manifest, summary = result["manifest"], result["summary"]
    print(
        f"custval run: {result['wall_s']:.1f} s wall, peak RSS {result['peak_rss_mib']:,.0f} MiB "
        f"({result['peak_rss_mib'] / (in_memory / 2**20):.0%} of the log as Arrow columns)"
    )
    print(
        f"  {summary['customers']:,} customers, revenue {summary['revenue']}, model "
        f"{summary['model']}, {summary['at_risk']:,} at risk"
    )
    peaks = manifest["peak_rss_mib"]
    for stage, seconds in manifest["timings_s"].items():
        print(f"  {stage:<10} {seconds:8.1f} s  peak {peaks.get(stage) or 0:8,.0f} MiB")
    limit = 4 * 1024
    verdict = "below" if result["peak_rss_mib"] < limit else "ABOVE"
    print(f"peak RSS {verdict} the 4 GiB target")


if __name__ == "__main__":
    main()
