"""custval: customer value from a transaction log, exactly and fast.

Per-customer RFM summaries, business KPIs and calibration/holdout tables computed by a
parallel Rust core, with money summed exactly. Inputs: pandas, polars, pyarrow, duckdb, a
dict of NumPy arrays or Parquet/CSV paths; outputs mirror the input type.
"""

import warnings

from custval import baskets, datasets, models, plotting
from custval._native import __version__, is_release_build
from custval.baskets import (
    BasketKpis,
    affinity,
    basket_kpis,
    evaluate_recommendations,
    next_purchase,
    recommend,
)
from custval.exceptions import (
    ArgumentError,
    ColumnNotFoundError,
    ConvergenceError,
    CustvalError,
    DataError,
    SchemaError,
)
from custval.memory import release_memory
from custval.metrics import (
    ClvToCac,
    Concentration,
    Nps,
    cac,
    clv_to_cac,
    cohorts,
    nps,
    retention,
    retention_cost,
    rfm_segments,
    segment_summary,
    simple_clv,
    unit_economics,
    value_concentration,
)
from custval.models import (
    BetaGeo,
    BetaGeoBetaBinom,
    Evaluation,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    ShiftedBetaGeo,
    alive_history,
    at_risk,
    compare_models,
    customer_lifetime_value,
    evaluate,
    expected_cumulative_transactions,
)
from custval.summary import Kpis, calibration_holdout, kpis, rfm_summary
from custval.threads import get_num_threads, set_num_threads

if not is_release_build():
    warnings.warn(
        "custval's native extension is a debug build and will be slow; "
        "install it with `pip install .` or `maturin develop --release`",
        RuntimeWarning,
        stacklevel=2,
    )

__all__ = [
    "ArgumentError",
    "BasketKpis",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "ClvToCac",
    "ColumnNotFoundError",
    "Concentration",
    "ConvergenceError",
    "CustvalError",
    "DataError",
    "Evaluation",
    "GammaGamma",
    "Kpis",
    "ModifiedBetaGeo",
    "Nps",
    "ParetoNBD",
    "SchemaError",
    "ShiftedBetaGeo",
    "__version__",
    "affinity",
    "alive_history",
    "at_risk",
    "basket_kpis",
    "baskets",
    "cac",
    "calibration_holdout",
    "clv_to_cac",
    "cohorts",
    "compare_models",
    "customer_lifetime_value",
    "datasets",
    "evaluate",
    "evaluate_recommendations",
    "expected_cumulative_transactions",
    "get_num_threads",
    "kpis",
    "models",
    "next_purchase",
    "nps",
    "plotting",
    "recommend",
    "release_memory",
    "retention",
    "retention_cost",
    "rfm_segments",
    "rfm_summary",
    "segment_summary",
    "set_num_threads",
    "simple_clv",
    "unit_economics",
    "value_concentration",
]
