"""Per-customer RFM summary: custval vs lifetimes, pandas, polars and duckdb on the same data.

Run: python benches/bench_summary.py [--rows 1000000 10000000] [--skip-lifetimes]

Every tool computes the same daily summary (frequency, recency, T, monetary_value) from a log
already in memory, and custval and duckdb also from the same log in a Parquet file (custval
streams its record batches), then custval and duckdb on a log shaped like a real export
(Parquet-read chunks, nanosecond times, global time order, gamma purchase rates); the script
checks they agree, then prints seconds, ratios to
custval and the peak memory each call added beyond the input (Linux VmHWM, reset before each
call).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings

import custval
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from _measure import best_of

END = pd.Timestamp("2024-12-31")


def make_log(rows: int, customers: int, seed: int = 0) -> pa.Table:
    """``rows`` transactions of ``customers`` sparse int64 ids over two years, time-sorted,
    with several orders on the same day for some customers."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(2**40, size=customers, replace=False).astype(np.int64)
    weights = rng.gamma(0.8, 1.0, size=customers)
    owner = rng.choice(customers, size=rows, p=weights / weights.sum())
    day = rng.integers(0, 731, size=rows)
    same_day = rng.random(rows) < 0.15  # repeat the previous row's customer and day
    same_day[0] = False
    index = np.arange(rows)
    source = np.maximum.accumulate(np.where(same_day, 0, index))
    owner, day = owner[source], day[source]
    seconds = day * 86_400 + rng.integers(0, 86_400, size=rows)
    order = np.argsort(seconds, kind="stable")
    stamps = np.datetime64("2023-01-01", "ns") + (seconds[order] * 10**9).astype("timedelta64[ns]")
    return pa.table(
        {
            "customer_id": ids[owner[order]],
            "timestamp": stamps,
            "amount": np.round(rng.gamma(2.0, 20.0, size=rows), 2),
        }
    )


def make_export_log(rows: int, customers: int, scratch: str, seed: int = 1) -> pa.Table:
    """A log shaped like a real export, as a Parquet read leaves it: ``customers`` ids with
    gamma-distributed purchase rates, nanosecond timestamps with sub-second parts, rows in
    global time order, written to Parquet in ~80 row groups and read back (one chunk each)."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(2**40, size=customers, replace=False).astype(np.int64)
    rates = rng.gamma(0.5, 1.0, size=customers)
    owner = rng.choice(customers, size=rows, p=rates / rates.sum())
    nanos = np.sort(rng.integers(0, 730 * 86_400 * 10**9, size=rows))
    table = pa.table(
        {
            "customer_id": ids[owner],
            "timestamp": np.datetime64("2023-01-01", "ns") + nanos.astype("timedelta64[ns]"),
            "amount": np.round(rng.gamma(2.0, 20.0, size=rows), 2),
        }
    )
    path = os.path.join(scratch, f"export_{rows}.parquet")
    pq.write_table(table, path, row_group_size=max(1, rows // 80))
    return pq.read_table(path)


def run_custval(table: pa.Table) -> pd.DataFrame:
    out = custval.rfm_summary(table, amount="amount", observation_end=END, output="arrow")
    return out


def run_pandas(frame: pd.DataFrame) -> pd.DataFrame:
    day = frame["timestamp"].dt.floor("D")
    daily = (
        frame.assign(day=day).groupby(["customer_id", "day"], sort=True)["amount"].sum()
    ).reset_index()
    by = daily.groupby("customer_id", sort=False)
    first, last, n = by["day"].min(), by["day"].max(), by.size()
    repeat = by["amount"].sum() - by["amount"].first()
    out = pd.DataFrame({"frequency": n - 1})
    out["recency"] = (last - first).dt.days
    out["T"] = (END - first).dt.days
    out["monetary_value"] = (repeat / (n - 1)).where(n > 1, 0.0)
    return out


def run_polars(table: pa.Table):
    import polars as pl

    daily = (
        pl.from_arrow(table)
        .lazy()
        .with_columns(pl.col("timestamp").dt.truncate("1d").alias("day"))
        .group_by(["customer_id", "day"])
        .agg(pl.col("amount").sum())
        .sort(["customer_id", "day"])
        .group_by("customer_id")
        .agg(
            (pl.len() - 1).alias("frequency"),
            (pl.col("day").max() - pl.col("day").min()).dt.total_days().alias("recency"),
            (pl.lit(END) - pl.col("day").min()).dt.total_days().alias("T"),
            ((pl.col("amount").sum() - pl.col("amount").first()) / (pl.len() - 1)).alias("mv"),
        )
        .with_columns(
            pl.when(pl.col("frequency") > 0)
            .then(pl.col("mv"))
            .otherwise(0.0)
            .alias("monetary_value")
        )
    )
    return daily.collect()


def run_duckdb(table: pa.Table):
    import duckdb

    con = duckdb.connect()
    con.register("log", table)
    return _duckdb_summary(con, "log")


def run_duckdb_file(path: str):
    import duckdb

    return _duckdb_summary(duckdb.connect(), f"read_parquet('{path}')")


def _duckdb_summary(con, source: str):
    return con.execute(
        f"""
        WITH daily AS (
            SELECT customer_id, date_trunc('day', timestamp) AS day, sum(amount) AS amount
            FROM {source} GROUP BY ALL
        ), ranked AS (
            SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY day) AS k FROM daily
        )
        SELECT customer_id, count(*) - 1 AS frequency,
               date_diff('day', min(day), max(day)) AS recency,
               date_diff('day', min(day), TIMESTAMP '{END}') AS T,
               coalesce(sum(amount) FILTER (WHERE k > 1) / nullif(count(*) - 1, 0), 0)
                   AS monetary_value
        FROM ranked GROUP BY customer_id
        """
    ).to_arrow_table()


def run_lifetimes(frame: pd.DataFrame) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes.utils import summary_data_from_transaction_data

        return summary_data_from_transaction_data(
            frame,
            "customer_id",
            "timestamp",
            monetary_value_col="amount",
            observation_period_end=END,
            freq="D",
        )


def timed(fn, data, repeat: int):
    return best_of(lambda: fn(data), repeat)


def as_frame(result) -> pd.DataFrame:
    if isinstance(result, pd.DataFrame):
        frame = result
        if "customer_id" in frame.columns:
            frame = frame.set_index("customer_id")
    elif hasattr(result, "to_pandas"):
        frame = result.to_pandas().set_index("customer_id")
    else:
        frame = result
    return frame[["frequency", "recency", "T", "monetary_value"]].astype(float).sort_index()


def bench(rows: int, customers: int, skip_lifetimes: bool, repeat: int, scratch: str) -> None:
    table = make_log(rows, customers)
    frame = table.to_pandas()
    # The same log as a Parquet file (1M-row groups), summarised while streaming it.
    parquet = os.path.join(scratch, f"log_{rows}.parquet")
    pq.write_table(table, parquet, row_group_size=1_000_000)
    input_bytes = table.nbytes
    print(
        f"\n{rows:,} rows, {customers:,} customers (input {input_bytes / 2**20:.0f} MiB), "
        f"{custval.get_num_threads()} threads"
    )
    tools = [
        ("custval (arrow in)", run_custval, table),
        (
            "custval (pandas in)",
            lambda f: custval.rfm_summary(f, amount="amount", observation_end=END),
            frame,
        ),
        (
            "custval (string ids)",
            run_custval,
            table.set_column(0, "customer_id", table.column("customer_id").cast(pa.string())),
        ),
        ("custval (Parquet file)", run_custval, parquet),
        ("duckdb", run_duckdb, table),
        ("duckdb (Parquet file)", run_duckdb_file, parquet),
        ("polars", run_polars, table),
        ("pandas", run_pandas, frame),
    ]
    if not skip_lifetimes:
        tools.append(("lifetimes", run_lifetimes, frame))
    results = {}
    for name, fn, data in tools:
        seconds, result, peak = timed(fn, data, 1 if name == "lifetimes" else repeat)
        results[name] = (seconds, result, peak)
    reference = as_frame(results["custval (arrow in)"][1])
    base = results["custval (arrow in)"][0]
    print(f"{'tool':<22}{'seconds':>9}{'× custval':>11}{'peak MiB':>10}  agrees")
    for name, (seconds, result, peak) in results.items():
        other = as_frame(result)
        if name == "custval (string ids)":
            other.index = other.index.astype(np.int64)
            other = other.sort_index()
        agrees = other.shape == reference.shape and np.allclose(
            other.to_numpy(), reference.to_numpy(), rtol=1e-9, atol=1e-6
        )
        print(f"{name:<22}{seconds:>9.3f}{seconds / base:>11.1f}{peak / 2**20:>10.0f}  {agrees}")


def bench_export(rows: int, customers: int, repeat: int, scratch: str) -> None:
    """custval against duckdb on the export-shaped log (see :func:`make_export_log`)."""
    table = make_export_log(rows, customers, scratch)
    print(
        f"\nexport-shaped: {rows:,} rows in {table.column(0).num_chunks} chunks, "
        f"{customers:,} customers, ns times, global time order"
    )
    ours, ours_result, ours_peak = timed(run_custval, table, repeat)
    theirs, theirs_result, theirs_peak = timed(run_duckdb, table, repeat)
    agrees = np.allclose(
        as_frame(ours_result).to_numpy(), as_frame(theirs_result).to_numpy(), atol=1e-6
    )
    print(
        f"custval {ours:.3f} s ({ours_peak / 2**20:.0f} MiB peak), duckdb {theirs:.3f} s "
        f"({theirs_peak / 2**20:.0f} MiB): duckdb / custval = {theirs / ours:.1f}x; agrees {agrees}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--skip-lifetimes", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for rows in args.rows:
            bench(rows, rows // 10, args.skip_lifetimes, args.repeat, scratch)
            bench_export(rows, rows // 10, args.repeat, scratch)


if __name__ == "__main__":
    main()
