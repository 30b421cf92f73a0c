"""The ``custval`` command: ``custval demo``, ``custval summary IN -o OUT``, ``custval run``
(the nightly job, in :mod:`custval.batch`), ``--version``."""

from __future__ import annotations

import argparse
import os
import sys
import time

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import custval
from custval import batch


def _demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    log = custval.datasets.simulate_transactions(args.customers, seed=args.seed, output="arrow")
    print(f"simulated {log.num_rows:,} transactions of {args.customers:,} customers")
    print(custval.kpis(log, amount="amount", order="order_id"))
    summary = custval.rfm_summary(log, amount="amount", order="order_id", output="pandas")
    top = summary.sort_values("revenue", ascending=False).head(args.top)
    print(f"\ntop {args.top} customers by revenue:")
    print(top[["frequency", "recency", "T", "n_orders", "revenue", "aov"]].to_string())
    print(f"\ndone in {time.perf_counter() - started:.2f} s on {custval.get_num_threads()} threads")
    return 0


def _write(table: pa.Table, path: str) -> None:
    if os.path.splitext(path)[1].lower() == ".csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)


def _summary(args: argparse.Namespace) -> int:
    table = custval.rfm_summary(
        args.input,
        customer=args.customer,
        time=args.time,
        amount=args.amount,
        order=args.order,
        freq=args.freq,
        freq_multiplier=args.freq_multiplier,
        observation_end=args.observation_end,
        money=args.money,
        output="arrow",
    )
    _write(table, args.output)
    print(f"wrote {table.num_rows:,} customers to {args.output}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="custval", description=custval.__doc__.splitlines()[0])
    root.add_argument("--version", action="version", version=f"custval {custval.__version__}")
    commands = root.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="simulate a log, print KPIs and top customers")
    demo.add_argument("--customers", type=int, default=10_000)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--top", type=int, default=10)
    demo.set_defaults(run=_demo)
    summary = commands.add_parser("summary", help="per-customer RFM summary of a file")
    summary.add_argument("input", help="Parquet or CSV file (or glob)")
    summary.add_argument("-o", "--output", required=True, help="Parquet or .csv output path")
    summary.add_argument("--customer", default="customer_id")
    summary.add_argument("--time", default="timestamp")
    summary.add_argument("--amount", default=None)
    summary.add_argument("--order", default=None)
    summary.add_argument("--freq", default="D")
    summary.add_argument("--freq-multiplier", type=float, default=1.0)
    summary.add_argument("--observation-end", default=None)
    summary.add_argument("--money", choices=["float", "decimal"], default="float")
    summary.set_defaults(run=_summary)
    batch.add_parser(commands).set_defaults(run=batch.main)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (custval.CustvalError, FileNotFoundError) as err:
        print(f"custval: error: {err}", file=sys.stderr)
        return 2
