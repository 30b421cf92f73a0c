"""``custval run``: the nightly job for schedulers such as Airflow.

One command reads a transaction log streamed from Parquet/CSV files, computes the summary,
KPIs, retention, cohorts, segments and value concentration, picks and fits a purchase model
(plus Gamma-Gamma for spend), scores every customer and writes the outputs, a report and a
manifest into a directory, atomically. Modules by concern: ``options`` (command line),
``sources`` (input files, checks, the dataset), ``pipeline`` (the computations), ``outputs``
(staging, atomic rename, deterministic writes, SIGTERM), ``manifest`` (the JSON documents),
``report`` and ``figures`` (report.html), ``logs`` (stderr logs and progress), ``job`` (the
whole run and its exit code).
"""

from __future__ import annotations

import argparse
import sys

from custval.batch.errors import ExitCode, JobError
from custval.batch.options import RunOptions, add_parser, from_args

__all__ = ["ExitCode", "RunOptions", "add_parser", "execute", "main"]


def execute(options: RunOptions) -> int:
    """Run the job with ``options``; the exit code (0 done, 3 bad input, 4 no convergence,
    5 cannot write, 143 SIGTERM)."""
    from custval.batch.job import execute as run_job

    return run_job(options)


def main(args: argparse.Namespace) -> int:
    """``custval run`` with parsed arguments (usage errors give exit code 2)."""
    try:
        options = from_args(args)
    except JobError as err:
        print(f"custval run: error: {err}", file=sys.stderr)
        return int(err.code)
    return execute(options)
