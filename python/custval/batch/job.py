"""``custval run`` from start to exit code: inputs → pipeline → staged outputs → rename."""

from __future__ import annotations

import importlib.util
import json
import sys

import custval
from custval.batch import logs, manifest
from custval.batch.errors import ExitCode, JobError, Terminated
from custval.batch.logs import LOGGER, Progress
from custval.batch.options import RunOptions
from custval.batch.outputs import Staging, sigterm_unwinds
from custval.batch.pipeline import STAGES, Results, run
from custval.batch.sources import Inputs, open_inputs
from custval.exceptions import CustvalError

WRITE_STAGES = ["write", "report"]


def _write(staging: Staging, options: RunOptions, results: Results) -> None:
    fmt = options.format
    staging.write_table(results.customers, "customers", fmt)
    staging.write_json(manifest.kpis_document(results), "kpis.json")
    staging.write_table(results.retention.replace_schema_metadata(None), "retention", fmt)
    staging.write_table(results.cohorts.replace_schema_metadata(None), "cohorts", fmt)
    staging.write_table(results.segments, "segments", fmt)
    staging.write_json(manifest.model_document(options, results), "model.json")


def _report(staging: Staging, options: RunOptions, inputs: Inputs, results: Results) -> None:
    from custval.batch.report import render  # matplotlib and jinja2 only when reporting

    staging.write_text(render(options, inputs, results), "report.html")


def _check_report_extras() -> None:
    """The report needs the ``batch`` extra: say so before any work, not after an hour."""
    missing = [m for m in ("matplotlib", "jinja2") if importlib.util.find_spec(m) is None]
    if missing:
        raise JobError(
            ExitCode.USAGE,
            f"report.html needs {' and '.join(missing)}: pip install 'custval[batch]', "
            "or pass --no-report",
        )


def execute(options: RunOptions) -> int:
    """Run the job; returns the exit code (see :class:`~custval.batch.errors.ExitCode`)."""
    logs.configure(options.log_format)
    if options.threads is not None:
        custval.set_num_threads(options.threads)
    stages = STAGES + WRITE_STAGES[: 1 + options.report]
    progress = Progress(stages, options.log_format)
    staging = None
    try:
        with sigterm_unwinds():
            if options.report:
                _check_report_extras()
            staging = Staging(options.outdir)  # fails early (exit 5) if OUTDIR can't be made
            for name in staging.abandoned:
                LOGGER.warning("removed %s, left by a run that was killed", name)
            roles = {"customer": options.customer, "time": options.time}
            roles |= {r: getattr(options, r) for r in ("amount", "order") if getattr(options, r)}
            inputs = open_inputs(options.inputs, roles)
            LOGGER.info("%d input file(s), %s rows", len(inputs.files), f"{inputs.rows:,}")
            results = run(options, inputs, progress)
            code = ExitCode.OK if results.model.converged else ExitCode.NOT_CONVERGED
            with progress.stage("write"):
                _write(staging, options, results)
            if options.report:
                with progress.stage("report"):
                    _report(staging, options, inputs, results)
            outputs = sorted(staging.files)
            document = manifest.manifest_document(
                options, inputs, results, dict(staging.files), progress, int(code)
            )
            staging.write_json(document, "manifest.json")
            staging.commit()
            staging = None
    except JobError as err:
        LOGGER.error("%s", err)
        return int(err.code)
    except CustvalError as err:  # the data broke a rule custval checks: bad input
        LOGGER.error("bad input: %s", err)
        return int(ExitCode.BAD_INPUT)
    except Terminated:
        LOGGER.error("terminated by SIGTERM: nothing written to %s", options.outdir)
        return int(ExitCode.TERMINATED)
    finally:
        progress.close()
        if staging is not None:
            staging.discard()
    if code == ExitCode.NOT_CONVERGED:
        LOGGER.error("the model did not converge; the other outputs are in %s", options.outdir)
    else:
        LOGGER.info("wrote %s to %s", ", ".join(outputs), options.outdir)
    print(json.dumps(manifest.stdout_summary(options, results, outputs, int(code))))
    sys.stdout.flush()
    return int(code)
