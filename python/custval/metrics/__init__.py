"""Customer-base health: retention, cohorts, RFM segments, concentration, unit economics, NPS.

Definitions follow DESIGN.md §4. Retention and cohorts (:mod:`.growth`) run on the parallel
Rust core; RFM segments and value concentration (:mod:`.segments`) rank the per-customer
summary of :func:`custval.rfm_summary` with vectorised NumPy; unit economics
(:mod:`.economics`) and NPS (:mod:`.nps`) are small closed-form computations.
"""

from custval.metrics.economics import (
    ClvToCac,
    cac,
    clv_to_cac,
    retention_cost,
    simple_clv,
    unit_economics,
)
from custval.metrics.growth import COHORT_VALUES, cohorts, retention
from custval.metrics.nps import Nps, nps
from custval.metrics.segments import (
    DEFAULT_SEGMENTS,
    Concentration,
    SegmentRules,
    concentration_of,
    rank_scores,
    rfm_segments,
    segment_summary,
    value_concentration,
)

__all__ = [
    "COHORT_VALUES",
    "DEFAULT_SEGMENTS",
    "ClvToCac",
    "Concentration",
    "Nps",
    "SegmentRules",
    "cac",
    "clv_to_cac",
    "cohorts",
    "concentration_of",
    "nps",
    "rank_scores",
    "retention",
    "retention_cost",
    "rfm_segments",
    "segment_summary",
    "simple_clv",
    "unit_economics",
    "value_concentration",
]
