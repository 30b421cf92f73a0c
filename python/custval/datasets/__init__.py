"""Data to try custval on without a download.

- Simulated logs and customer bases whose true parameters are known (:mod:`.simulate`).
- The public data sets of the customer-base-analysis literature, shipped inside the package
  as lifetimes ships them (:mod:`.public`): CDNOW, the donations panel and the sBG cohorts.
"""

from custval.datasets.public import (
    load_cdnow,
    load_cdnow_summary,
    load_donations,
    load_sbg_cohorts,
)
from custval.datasets.simulate import (
    DEFAULT_PARAMS,
    MODEL_PARAMS,
    simulate_bgbb,
    simulate_bgnbd,
    simulate_gamma_gamma,
    simulate_mbgnbd,
    simulate_pareto_nbd,
    simulate_sbg,
    simulate_transactions,
)

__all__ = [
    "DEFAULT_PARAMS",
    "MODEL_PARAMS",
    "load_cdnow",
    "load_cdnow_summary",
    "load_donations",
    "load_sbg_cohorts",
    "simulate_bgbb",
    "simulate_bgnbd",
    "simulate_gamma_gamma",
    "simulate_mbgnbd",
    "simulate_pareto_nbd",
    "simulate_sbg",
    "simulate_transactions",
]
