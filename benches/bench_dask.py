"""custval.dask on a LocalCluster vs in-memory custval vs the same summary in plain Dask.

Run: python benches/bench_dask.py [--rows 10000000] [--customers 1000000] [--partitions 16]

The log (the one benches/bench_summary.py makes) is written as a directory of Parquet files
(one per partition). Three ways compute the daily RFM summary (frequency, recency, T,
monetary_value) from those files:

- custval in memory, reading the directory (one process, custval's threads);
- ``custval.dask.rfm_summary`` on a ``LocalCluster`` of 2 worker processes (1 thread each):
  one reduction for the last transaction, one shuffle by customer, the native kernel per
  partition;
- the same summary written as plain Dask groupby code (what a Dask user writes without
  custval: floor to days, groupby (customer, day), then groupby customer), on that cluster.

It checks the three agree (custval's two to the bit), then prints seconds, ratios and the peak
memory: what each call added to this process (Linux VmHWM, reset before each call) and the
largest peak resident memory of a worker process (MiB).
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
import warnings

import custval
import custval.dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from bench_summary import END, _peak_reset, _rss, make_log


def run_plain_dask(path: str) -> pd.DataFrame:
    log = dd.read_parquet(path)
    log = log.assign(day=log["timestamp"].dt.floor("D"))
    daily = log.groupby(["customer_id", "day"])["amount"].sum().reset_index()
    out = daily.groupby("customer_id").agg(
        first=("day", "min"), last=("day", "max"), n=("day", "count"), total=("amount", "sum")
    )
    firsts = daily.rename(columns={"day": "first", "amount": "first_amount"})
    out = out.reset_index().merge(firsts, on=["customer_id", "first"]).set_index("customer_id")

    def finish(part: pd.DataFrame) -> pd.DataFrame:
        frequency = part["n"] - 1
        return pd.DataFrame(
            {
                "frequency": frequency.astype("float64"),
                "recency": (part["last"] - part["first"]).dt.days.astype("float64"),
                "T": (END - part["first"]).dt.days.astype("float64"),
                "monetary_value": ((part["total"] - part["first_amount"]) / frequency).where(
                    frequency > 0, 0.0
                ),
            },
            index=part.index,
        )

    return out.map_partitions(finish).compute()


def run_custval_dask(path: str) -> pd.DataFrame:
    return custval.dask.rfm_summary(path, amount="amount", observation_end=END).compute()


def run_custval(path: str) -> pd.DataFrame:
    return custval.rfm_summary(path, amount="amount", observation_end=END)


def timed(fn, data, client):
    gc.collect()
    try:
        _peak_reset()
        client.run(_peak_reset)
    except OSError:
        pass
    before = _rss("VmRSS")
    start = time.perf_counter()
    result = fn(data)
    seconds = time.perf_counter() - start
    workers = max(client.run(_rss, "VmHWM").values())
    return seconds, result, _rss("VmHWM") - before, workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--skip-plain", action="store_true", help="leave out plain Dask")
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    table = make_log(args.rows, args.customers)
    with tempfile.TemporaryDirectory() as scratch:
        size = -(-table.num_rows // args.partitions)
        for k in range(args.partitions):
            pq.write_table(table.slice(k * size, size), os.path.join(scratch, f"{k:03d}.parquet"))
        del table
        print(
            f"{args.rows:,} rows, {args.customers:,} customers in {args.partitions} Parquet files;"
            " LocalCluster of 2 worker processes x 1 thread; in-memory custval with "
            f"{custval.get_num_threads()} threads"
        )
        results = {}
        runs = [("custval (in memory)", run_custval), ("custval.dask", run_custval_dask)]
        if not args.skip_plain:
            runs.append(("plain dask groupby", run_plain_dask))
        for name, fn in runs:
            files = os.path.join(scratch, "*.parquet")
            seconds, result, peak, worker_peak = timed(fn, files, client)
            results[name] = (seconds, result, peak, worker_peak)
        reference = results["custval (in memory)"][1].sort_index()
        ours = results["custval.dask"][1].sort_index()
        pd.testing.assert_frame_equal(ours, reference, check_exact=True)
        if "plain dask groupby" in results:
            plain = results["plain dask groupby"][1].sort_index()
            columns = ["frequency", "recency", "T", "monetary_value"]
            np.testing.assert_allclose(plain[columns].to_numpy(), reference[columns].to_numpy())
        base = results["custval.dask"][0]
        header = f"{'seconds':>8} {'vs custval.dask':>16} {'client MiB':>11} {'worker RSS':>11}"
        print(f"{'':22} {header}")
        for name, (seconds, _, peak, worker_peak) in results.items():
            # A worker's peak is its whole resident memory (about 150 MiB when idle); the
            # in-memory call does not use the workers.
            worker = "-" if name.startswith("custval (") else f"{worker_peak / 2**20:.0f}"
            print(
                f"{name:22} {seconds:8.2f} {seconds / base:15.2f}x {peak / 2**20:11.0f}"
                f" {worker:>11}"
            )
        print("custval.dask equals in-memory custval exactly (checked)")
        if "plain dask groupby" in results:
            print("plain dask agrees with custval to float rounding (checked)")
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
