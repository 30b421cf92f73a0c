"""Gamma-Gamma spend, sBG survival and customer exposure, checked on what they draw."""

from __future__ import annotations

import math

import custval
import numpy as np
import pytest
from custval.datasets import load_sbg_cohorts
from custval.plotting import plot_customer_exposure, plot_spend_distribution, plot_survival


def test_spend_histogram_and_model_density(summary):
    spend = custval.GammaGamma().fit(summary)
    ax = plot_spend_distribution(spend, summary, bins=20)
    repeat = summary[summary["frequency"] > 0]
    z = repeat["monetary_value"].to_numpy()
    heights = np.array([patch.get_height() for patch in ax.patches])
    width = ax.patches[0].get_width()
    # Customers per unit of money over all repeat customers: the bars hold all but the top 1 %.
    assert heights.sum() * width * len(z) == pytest.approx(np.sum(z <= np.quantile(z, 0.99)))
    grid, density = ax.lines[0].get_data()
    p, q, g = (spend.params_[k] for k in ("p", "q", "gamma"))
    at = grid[100]
    mixture = [
        math.exp(
            math.lgamma(p * x + q)
            - math.lgamma(p * x)
            - math.lgamma(q)
            + q * math.log(g)
            + p * x * math.log(x)
            + (p * x - 1) * math.log(at)
            - (p * x + q) * math.log(g + x * at)
        )
        for x in repeat["frequency"]
    ]
    assert density[100] == pytest.approx(np.mean(mixture), rel=1e-10)
    with pytest.raises(custval.CustvalError, match="GammaGamma"):
        plot_spend_distribution(custval.BetaGeo().fit(summary), summary)


def test_survival_curves_and_observed_points():
    data = load_sbg_cohorts()
    model = custval.ShiftedBetaGeo().fit(data, cohort="cohort")
    ax = plot_survival(model, data, cohort="cohort")
    curves = [line for line in ax.lines if not line.get_label().startswith("_")]
    high_model, high_seen, regular_model, regular_seen = curves
    t = high_model.get_xdata()
    assert t[-1] == 16  # twice the 8 periods observed
    np.testing.assert_allclose(high_model.get_ydata(), model.survival(t, cohort="highend"))
    regular = data[data["cohort"] == "regular"]
    want = [np.mean(regular["recency"] > k) for k in range(8)]
    np.testing.assert_allclose(regular_seen.get_ydata(), want)
    assert regular_seen.get_label() == "regular: observed"
    with pytest.raises(custval.CustvalError, match="cohort is needed"):
        plot_survival(model, data)


def test_customer_exposure(summary):
    rows = summary.head(25)
    ax = plot_customer_exposure(rows)
    recency, since = ax.collections[:2]
    ends = np.array([segment[1][0] for segment in since.get_segments()])
    np.testing.assert_array_equal(ends, rows["T"].to_numpy())
    starts = np.array([segment[0][0] for segment in since.get_segments()])
    np.testing.assert_array_equal(starts, rows["recency"].to_numpy())
    assert ax.get_xlabel() == "Time since first purchase (weeks)"
    bad = rows.assign(recency=rows["T"] + 1)
    with pytest.raises(custval.CustvalError, match="recency > T"):
        plot_customer_exposure(bad)
