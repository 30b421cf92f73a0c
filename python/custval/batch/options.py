"""``custval run``'s command line: the options, their checks and the ``--help`` text."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from custval.batch.errors import ExitCode, JobError

#: Purchase models ``--model`` accepts besides "auto" (all are compared under "auto").
CANDIDATE_MODELS = ("bgnbd", "mbgnbd", "pnbd")
FREQS = ("h", "D", "W", "M", "Q", "Y")
FORMATS = ("parquet", "csv")

EPILOG = """\
outputs (in OUTDIR, written to a temporary directory beside it and renamed into place only
when complete):
  customers.FMT   one row per customer: RFM summary (exact revenue), R/F/M scores, segment,
                  p_alive, expected_purchases over the horizon, expected_spend (per purchase),
                  clv and the at_risk flag
  kpis.json       KPIs (money as exact decimal strings) and value concentration
  retention.FMT   monthly growth accounting;  cohorts.FMT  monthly acquisition cohorts (share)
  segments.FMT    one row per RFM segment;    model.json   parameters, standard errors,
                  time unit, holdout evaluation and model comparison
  report.html     self-contained report (inline PNG plots; no network)
  manifest.json   inputs (bytes, rows), options, versions, checksums, rows dropped and why

exit codes: 0 done; 2 usage error; 3 bad input data (the message names the file, the column
and, where it applies, the row); 4 a model did not converge (the other outputs are written and
the manifest says so); 5 cannot write OUTDIR; 143 terminated by SIGTERM (nothing left behind).
Logs go to stderr; the last line on stdout is one JSON summary (Airflow pushes it to XCom).

inputs are streamed one record batch at a time, so memory is O(customers): times must be
timestamps (no zone) or dates, amounts numbers, order ids integers. Rows after
--observation-end are dropped and counted in the manifest.

example:
  custval run 'logs/2024-*.parquet' -o out/2024-12-31 --customer customer_id \\
      --time timestamp --amount amount --observation-end 2024-12-31 --model auto
"""


@dataclass(frozen=True)
class RunOptions:
    """Everything one run depends on (written whole into the manifest)."""

    inputs: tuple[str, ...]
    outdir: str
    customer: str = "customer_id"
    time: str = "timestamp"
    amount: str | None = None
    order: str | None = None
    freq: str = "D"
    observation_end: str | None = None
    calibration_end: str | None = None
    model: str = "auto"
    horizon: int = 12
    horizon_unit: str = "M"
    discount_rate: float = 0.01
    margin: float = 1.0
    format: str = "parquet"
    report: bool = True
    log_format: str = "text"
    threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["inputs"] = list(self.inputs)
        return out

    @property
    def candidates(self) -> tuple[str, ...]:
        """The models fitted on the calibration split and compared."""
        return CANDIDATE_MODELS if self.model == "auto" else (self.model,)


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """The ``run`` sub-command on ``commands`` (an argparse sub-parsers object)."""
    run = commands.add_parser(
        "run",
        help="the nightly job: scored customers, KPIs, cohorts, model, report, manifest",
        description=(
            "Summarise a transaction log, fit a purchase model (and Gamma-Gamma for spend), "
            "score every customer and write the outputs, a report and a manifest into OUTDIR "
            "atomically. Safe to re-run: the same inputs and options give byte-identical data "
            "files."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("inputs", nargs="+", metavar="INPUT", help="Parquet/CSV files, dirs, globs")
    run.add_argument("-o", "--outdir", required=True, help="output directory (replaced whole)")
    run.add_argument("--customer", default="customer_id", help="customer id column")
    run.add_argument("--time", default="timestamp", help="transaction time column")
    run.add_argument("--amount", default=None, help="amount column (without: no spend or CLV)")
    run.add_argument("--order", default=None, help="order id column (default: a row an order)")
    run.add_argument("--freq", default="D", choices=FREQS, help="period of the RFM summary")
    run.add_argument(
        "--observation-end",
        default=None,
        metavar="DATE",
        help="last day observed, inclusive (default: the last transaction's date, never now)",
    )
    run.add_argument(
        "--calibration-end",
        default=None,
        metavar="DATE",
        help="end of the calibration split (default: leaves the last fifth as holdout)",
    )
    run.add_argument("--model", default="auto", choices=("auto", *CANDIDATE_MODELS))
    run.add_argument("--horizon", type=int, default=12, help="CLV horizon, in --horizon-unit")
    run.add_argument("--horizon-unit", default="M", choices=FREQS)
    run.add_argument("--discount-rate", type=float, default=0.01, help="per --horizon-unit")
    run.add_argument("--margin", type=float, default=1.0, help="profit margin on spend")
    run.add_argument("--format", default="parquet", choices=FORMATS, help="table format")
    run.add_argument("--no-report", dest="report", action="store_false", help="skip report.html")
    run.add_argument("--log-format", default="text", choices=("text", "json"))
    run.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    return run


def _date(value: str | None, flag: str) -> str | None:
    """``value`` as an ISO date/time string, or a usage error naming ``flag``."""
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise JobError(ExitCode.USAGE, f"{flag}: cannot read {value!r} as a date") from None
    if stamp.tzinfo is not None:
        raise JobError(ExitCode.USAGE, f"{flag}: give a local date or time, not {value!r}")
    return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()


def from_args(args: argparse.Namespace) -> RunOptions:
    """The checked options of a parsed ``custval run`` command line."""
    options = RunOptions(
        inputs=tuple(args.inputs),
        outdir=args.outdir,
        customer=args.customer,
        time=args.time,
        amount=args.amount,
        order=args.order,
        freq=args.freq,
        observation_end=_date(args.observation_end, "--observation-end"),
        calibration_end=_date(args.calibration_end, "--calibration-end"),
        model=args.model,
        horizon=args.horizon,
        horizon_unit=args.horizon_unit,
        discount_rate=args.discount_rate,
        margin=args.margin,
        format=args.format,
        report=args.report,
        log_format=args.log_format,
        threads=args.threads,
    )
    check(options)
    return options


def check(options: RunOptions) -> None:
    """Usage errors that argparse cannot see."""
    problems = []
    if options.horizon < 1:
        problems.append(f"--horizon must be at least 1, got {options.horizon}")
    if not options.discount_rate >= 0:
        problems.append(f"--discount-rate must be ≥ 0, got {options.discount_rate}")
    if not options.margin > 0:
        problems.append(f"--margin must be > 0, got {options.margin}")
    if options.threads is not None and options.threads < 1:
        problems.append(f"--threads must be at least 1, got {options.threads}")
    if options.calibration_end and options.observation_end:
        if pd.Timestamp(options.calibration_end) >= pd.Timestamp(options.observation_end):
            problems.append("--calibration-end must be before --observation-end")
    if problems:
        raise JobError(ExitCode.USAGE, "; ".join(problems))
