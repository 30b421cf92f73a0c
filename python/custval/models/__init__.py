"""Buy-till-you-die purchase models, the Gamma-Gamma spend model, the sBG retention model and
customer lifetime value.

Every model is fitted by maximum likelihood in custval's Rust core (the GIL released, on
custval's thread pool) on the unique ``(frequency, recency, T)`` rows of a per-customer summary,
and predicts vectorised over customers (NumPy arrays in, NumPy arrays out), computing each
unique row once.

Fitted models report ``params_`` (keyed by the papers' parameter names), ``log_likelihood_``,
``standard_errors_``, 95 % ``confidence_intervals_``, ``aic_``, ``bic_``, ``iterations_``,
``converged_`` and ``n_unique_`` (rows after compression); :meth:`summary` tabulates them.
Models pickle, and round-trip through :meth:`to_dict` / :meth:`from_dict` (plain JSON types).

Modules: :mod:`.inputs` (summaries, arrays, time units and the input contract), :mod:`.base`
(what every fitted model shares), :mod:`.purchase`, :mod:`.spend`, :mod:`.contractual` and
:mod:`.clv`; :mod:`.holdout` (calibration/holdout tables and the metrics on them),
:mod:`.evaluation`, :mod:`.comparison` and :mod:`.risk` (at-risk customers); :mod:`.tracking`
(the model against the log over time: tracking curves, one customer's P(alive) history).
"""

from custval.models.clv import customer_lifetime_value
from custval.models.comparison import compare_models
from custval.models.contractual import ShiftedBetaGeo
from custval.models.evaluation import Evaluation, HoldoutMetrics, evaluate
from custval.models.purchase import BetaGeo, BetaGeoBetaBinom, ModifiedBetaGeo, ParetoNBD
from custval.models.risk import at_risk
from custval.models.spend import GammaGamma
from custval.models.tracking import alive_history, expected_cumulative_transactions

__all__ = [
    "BetaGeo",
    "BetaGeoBetaBinom",
    "Evaluation",
    "GammaGamma",
    "HoldoutMetrics",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "ShiftedBetaGeo",
    "alive_history",
    "at_risk",
    "compare_models",
    "customer_lifetime_value",
    "evaluate",
    "expected_cumulative_transactions",
]
