"""Plots of custval's models and metrics (matplotlib, the optional extra ``custval[plot]``).

Every function takes the object it draws first, then ``ax=None`` and ``**kwargs`` passed to
the matplotlib call that draws the data, and returns the Axes. Given an ``ax`` it draws only
on it and never touches pyplot's current figure; without one it makes its own figure.
matplotlib is imported on the first call, so ``import custval`` works without it.

- A model on its own (:mod:`.models`, lifetimes' names): ``plot_period_transactions``,
  ``plot_frequency_recency_matrix``, ``plot_probability_alive_matrix``,
  ``plot_expected_repeat_purchases``, ``plot_transaction_rate_heterogeneity``,
  ``plot_dropout_rate_heterogeneity``.
- A model against the log over time (:mod:`.tracking`): ``plot_cumulative_transactions``,
  ``plot_incremental_transactions``, ``plot_history_alive``; ``plot_customer_exposure``
  (pymc-marketing's name).
- Spend and subscriptions (:mod:`.spend`): ``plot_spend_distribution`` (Gamma-Gamma, CLVTools'
  ``plotSpending``), ``plot_survival`` (sBG).
- Holdout and value (:mod:`.evaluation`): ``plot_calibration_purchases_vs_holdout_purchases``,
  ``plot_model_comparison``, ``plot_clv_distribution``, ``plot_at_risk``.
- The customer base (:mod:`.metrics`): ``plot_cohorts``, ``plot_retention``,
  ``plot_segments``, ``plot_lorenz``.
- Cross-sell (:mod:`.baskets`): ``plot_affinity`` (the strongest pairs by lift),
  ``plot_recommendation_evaluation`` (recommendations against the best-sellers on a holdout).
"""

from custval.plotting.baskets import plot_affinity, plot_recommendation_evaluation
from custval.plotting.evaluation import (
    plot_at_risk,
    plot_calibration_purchases_vs_holdout_purchases,
    plot_clv_distribution,
    plot_model_comparison,
)
from custval.plotting.metrics import plot_cohorts, plot_lorenz, plot_retention, plot_segments
from custval.plotting.models import (
    plot_dropout_rate_heterogeneity,
    plot_expected_repeat_purchases,
    plot_frequency_recency_matrix,
    plot_period_transactions,
    plot_probability_alive_matrix,
    plot_transaction_rate_heterogeneity,
)
from custval.plotting.spend import plot_spend_distribution, plot_survival
from custval.plotting.tracking import (
    plot_cumulative_transactions,
    plot_customer_exposure,
    plot_history_alive,
    plot_incremental_transactions,
)

__all__ = [
    "plot_affinity",
    "plot_at_risk",
    "plot_calibration_purchases_vs_holdout_purchases",
    "plot_clv_distribution",
    "plot_cohorts",
    "plot_cumulative_transactions",
    "plot_customer_exposure",
    "plot_dropout_rate_heterogeneity",
    "plot_expected_repeat_purchases",
    "plot_frequency_recency_matrix",
    "plot_history_alive",
    "plot_incremental_transactions",
    "plot_lorenz",
    "plot_model_comparison",
    "plot_period_transactions",
    "plot_probability_alive_matrix",
    "plot_recommendation_evaluation",
    "plot_retention",
    "plot_segments",
    "plot_spend_distribution",
    "plot_survival",
    "plot_transaction_rate_heterogeneity",
]
