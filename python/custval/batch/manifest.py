"""What the job writes about itself and its numbers as JSON: ``kpis.json``, ``model.json``,
``manifest.json`` and the one-line summary on stdout.

Money is written as exact decimal strings ("1234.56"): a JSON number would go through a
binary float in most readers. Missing values (NaN) are ``null``.
"""

from __future__ import annotations

import datetime as dt
import math
import platform
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

import custval
from custval.batch.logs import Progress
from custval.batch.options import RunOptions
from custval.batch.pipeline import Results
from custval.batch.sources import Inputs


def jsonable(value: Any) -> Any:
    """``value`` with only JSON types: Decimal → exact string, NaN → None, NumPy → Python."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        return value.isoformat()
    return value


def kpis_document(results: Results) -> dict[str, Any]:
    out: dict[str, Any] = {"observation_end": results.observation_end}
    out.update(results.kpis.to_dict())
    if results.concentration is not None:
        c = results.concentration
        out["value_concentration"] = {
            "by": "revenue",
            "gini": c.gini,
            "top_1pct": c.top_1pct,
            "top_5pct": c.top_5pct,
            "top_10pct": c.top_10pct,
            "top_20pct": c.top_20pct,
        }
    return jsonable(out)


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    if frame is None:
        return None
    return jsonable(frame.reset_index().to_dict(orient="records"))


def model_document(options: RunOptions, results: Results) -> dict[str, Any]:
    m = results.model
    return jsonable(
        {
            "status": "fitted" if m.converged else "not_converged",
            "error": m.error,
            "model": m.name,
            "selection": (
                "auto: lowest holdout MAE among " + ", ".join(options.candidates)
                if options.model == "auto"
                else "given by --model"
            ),
            "purchase_model": m.purchase.to_dict() if m.purchase is not None else None,
            "spend_model": m.spend.to_dict() if m.spend is not None else None,
            "horizon": {
                "periods": options.horizon,
                "unit": options.horizon_unit,
                "in_model_time_units": m.horizon_in_model_units,
                "discount_rate": options.discount_rate,
                "margin": options.margin,
            },
            "calibration": {
                "calibration_end": m.calibration_end,
                "observation_end": results.observation_end,
                "customers": m.holdout_meta.get("customers"),
                "customers_first_seen_in_holdout": m.holdout_meta.get(
                    "customers_first_seen_in_holdout"
                ),
            },
            "candidates_not_converged": m.failed_candidates,
            "comparison": _records(m.comparison),
            "evaluation": m.evaluation.to_dict() if m.evaluation is not None else None,
        }
    )


def manifest_document(
    options: RunOptions,
    inputs: Inputs,
    results: Results | None,
    outputs: dict[str, dict[str, Any]],
    progress: Progress,
    exit_code: int,
) -> dict[str, Any]:
    """Inputs, options, versions, output checksums, what was dropped and why, and each
    stage's time and peak memory (the only values that change from run to run)."""
    model = results.model if results is not None else None
    return jsonable(
        {
            "status": "complete" if exit_code == 0 else "model_not_converged",
            "exit_code": exit_code,
            "versions": {
                "custval": custval.__version__,
                "pyarrow": pa.__version__,
                "python": platform.python_version(),
            },
            "options": options.to_dict(),
            "inputs": {
                "format": inputs.format,
                "rows": inputs.rows,
                "files": [vars(f) for f in inputs.files],
            },
            "observation_end": results.observation_end if results else None,
            "customers": results.customers.num_rows if results else None,
            "model": {
                "name": model.name if model else None,
                "converged": model.converged if model else None,
                "error": model.error if model else None,
            },
            "dropped": {
                "rows_after_observation_end": {
                    "count": results.dropped["rows_after_observation_end"],
                    "why": "after --observation-end (or the last transaction's date)",
                },
                "customers_first_seen_in_holdout": {
                    "count": results.dropped["customers_first_seen_in_holdout"],
                    "why": "not in the calibration table of the model comparison (still scored)",
                },
                "customers_not_in_spend_fit": {
                    "count": results.dropped["customers_without_repeat_purchase_not_in_spend_fit"],
                    "why": "Gamma-Gamma fits repeat spend: customers without a repeat purchase "
                    "get the population mean",
                },
            }
            if results
            else {},
            "outputs": outputs,
            "timings_s": progress.timings,
            "peak_rss_mib": progress.peak_rss_mib,
        }
    )


def stdout_summary(
    options: RunOptions, results: Results, outputs: list[str], exit_code: int
) -> dict[str, Any]:
    """The one JSON line printed last on stdout (what Airflow's BashOperator pushes to XCom)."""
    return jsonable(
        {
            "status": "complete" if exit_code == 0 else "model_not_converged",
            "exit_code": exit_code,
            "outdir": options.outdir,
            "observation_end": results.observation_end,
            "customers": results.customers.num_rows,
            "orders": results.kpis.orders,
            "revenue": results.kpis.revenue,
            "model": results.model.name if results.model.converged else None,
            "at_risk": len(results.model.at_risk) if results.model.at_risk is not None else None,
            "outputs": sorted(outputs),
        }
    )
