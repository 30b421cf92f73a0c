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
:mod:`.clv`.
"""

from custval.models.clv import customer_lifetime_value
from custval.models.contractual import ShiftedBetaGeo
from custval.models.purchase import BetaGeo, BetaGeoBetaBinom, ModifiedBetaGeo, ParetoNBD
from custval.models.spend import GammaGamma

__all__ = [
    "BetaGeo",
    "BetaGeoBetaBinom",
    "GammaGamma",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "ShiftedBetaGeo",
    "customer_lifetime_value",
]
