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
    """Run the job with ``options``, as ``custval run`` does; returns the exit code.

    Exit codes (:class:`ExitCode`): 0 done, 2 usage error, 3 bad input data, 4 a model did not
    converge (everything else written), 5 cannot write OUTDIR, 143 SIGTERM. Logs go to
    stderr; the last line printed on stdout is the JSON summary.

    Parameters
    ----------
    options : RunOptions
        The inputs, OUTDIR and every option of ``custval run`` (see ``custval run --help``).

    Returns
    -------
    int

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import pyarrow.parquet as pq
    >>> import custval
    >>> from custval.batch import RunOptions, execute
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> log = custval.datasets.simulate_transactions(500, seed=1, output="arrow")
    >>> pq.write_table(log, folder / "log.parquet")
    >>> options = RunOptions(inputs=(str(folder / "log.parquet"),), outdir=str(folder / "out"),
    ...                      amount="amount", order="order_id", report=False)
    >>> execute(options)  # doctest: +ELLIPSIS
    {"status": "complete", "exit_code": 0, ..., "customers": 500, ...}
    0
    >>> sorted(p.name for p in (folder / "out").iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['cohorts.parquet', 'customers.parquet', 'kpis.json', 'manifest.json', 'model.json',
     'retention.parquet', 'segments.parquet']
    """
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
