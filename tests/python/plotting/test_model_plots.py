"""The lifetimes-parity plots of a fitted model, checked on what they draw."""

from __future__ import annotations

import math

import custval
import numpy as np
import pytest
from custval.plotting import (
    plot_dropout_rate_heterogeneity,
    plot_expected_repeat_purchases,
    plot_frequency_recency_matrix,
    plot_period_transactions,
    plot_probability_alive_matrix,
    plot_transaction_rate_heterogeneity,
)


def heights(container):
    return np.array([bar.get_height() for bar in container])


def test_period_transactions_bars_are_actual_and_expected_counts(bgnbd, summary):
    ax = plot_period_transactions(bgnbd, summary, max_frequency=7)
    actual, model = ax.containers
    x = summary["frequency"].to_numpy()
    want_actual = [np.sum(x == n) for n in range(7)] + [np.sum(x >= 7)]
    np.testing.assert_array_equal(heights(actual), want_actual)
    # The model's bars, per customer (the plot sums per distinct T).
    p = np.array([bgnbd.probability_of_purchases(n, summary["T"].to_numpy()) for n in range(7)])
    want_model = np.append(p.sum(axis=1), len(summary) - p.sum())
    np.testing.assert_allclose(heights(model), want_model, rtol=1e-9)
    assert heights(model).sum() == pytest.approx(len(summary))
    assert [t.get_text() for t in ax.get_xticklabels()] == [*"0123456", "7+"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Actual", "Model"]
    assert ax.get_title() == "Frequency of Repeat Transactions"
    assert ax.get_ylabel() == "Customers"


def test_period_transactions_needs_a_continuous_model(summary):
    bgbb = custval.BetaGeoBetaBinom.from_dict(
        {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.78}
    )
    with pytest.raises(custval.CustvalError, match="model: BetaGeoBetaBinom"):
        plot_period_transactions(bgbb, summary)
    with pytest.raises(custval.CustvalError, match="fitted"):
        plot_period_transactions(custval.BetaGeo(), summary)
    with pytest.raises(custval.CustvalError, match="max_frequency"):
        plot_period_transactions(
            custval.BetaGeo.from_dict(dict(r=1, alpha=1, a=1, b=1)), summary, max_frequency=0
        )


def test_frequency_recency_matrix_cells_are_conditional_expectations(bgnbd, summary):
    ax = plot_frequency_recency_matrix(bgnbd, T=2, summary=summary)
    cells = ax.images[0].get_array()
    max_frequency = int(summary["frequency"].max())
    max_recency = math.ceil(summary["T"].max())
    assert cells.shape == (max_recency + 1, max_frequency + 1)
    for f, r in [(1, 0), (3, 20), (max_frequency, max_recency), (0, 0)]:
        want = bgnbd.conditional_expected_purchases(2, f, r, max_recency)
        assert cells[r, f] == pytest.approx(want, rel=1e-12)
    # No repeat purchase with a recency above 0 cannot happen: blank, not a made-up number.
    assert np.isnan(np.ma.filled(cells, np.nan)[1:, 0]).all()
    assert "2 weeks" in ax.get_title()
    assert ax.get_xlabel() == "Customer's Historical Frequency"
    assert ax.get_ylabel() == "Customer's Recency"


def test_frequency_recency_matrix_needs_a_size(bgnbd):
    with pytest.raises(custval.CustvalError, match="max_frequency and max_recency"):
        plot_frequency_recency_matrix(bgnbd)


def test_probability_alive_matrix(bgnbd):
    ax = plot_probability_alive_matrix(bgnbd, max_frequency=10, max_recency=30)
    image = ax.images[0]
    cells = image.get_array()
    assert cells.shape == (31, 11)
    assert cells[12, 4] == pytest.approx(bgnbd.p_alive(4, 12, 30), rel=1e-12)
    assert cells[0, 0] == 1.0
    assert image.get_clim() == (0.0, 1.0)
    assert image.colorbar.ax.yaxis.get_major_formatter()(0.5, 0) == "50%"


def test_expected_repeat_purchases_is_the_model_curve(bgnbd, pnbd):
    ax = plot_expected_repeat_purchases(bgnbd)
    x, y = ax.lines[0].get_data()
    assert x[-1] == pytest.approx(365.25 / 7)  # one year in the model's weeks by default
    np.testing.assert_allclose(y, bgnbd.expected_purchases(x), rtol=1e-12)
    assert ax.get_xlabel() == "Time since first purchase (weeks)"
    plot_expected_repeat_purchases(pnbd, t=52, ax=ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["BetaGeo", "ParetoNBD"]


def gamma_pdf(x, shape, rate):
    return math.exp(
        shape * math.log(rate) + (shape - 1) * math.log(x) - rate * x - math.lgamma(shape)
    )


def beta_pdf(x, a, b):
    log_b = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    return math.exp((a - 1) * math.log(x) + (b - 1) * math.log(1 - x) - log_b)


def test_heterogeneity_curves_are_the_mixing_densities(bgnbd, pnbd):
    r, alpha, a, b = (bgnbd.params_[k] for k in ("r", "alpha", "a", "b"))
    ax = plot_transaction_rate_heterogeneity(bgnbd)
    x, y = ax.lines[0].get_data()
    assert y[10] == pytest.approx(gamma_pdf(x[10], r, alpha), rel=1e-10)
    mean, cv = r / alpha, 1 / math.sqrt(r)
    assert ax.get_title().splitlines()[1] == f"mean: {mean:.4g}, coefficient of variation: {cv:.4g}"
    assert ax.get_xlabel() == "Transaction rate (purchases per week)"
    ax = plot_dropout_rate_heterogeneity(bgnbd)
    x, y = ax.lines[0].get_data()
    assert y[200] == pytest.approx(beta_pdf(x[200], a, b), rel=1e-10)
    ax = plot_dropout_rate_heterogeneity(pnbd)
    x, y = ax.lines[0].get_data()
    s, beta = pnbd.params_["s"], pnbd.params_["beta"]
    assert y[50] == pytest.approx(gamma_pdf(x[50], s, beta), rel=1e-10)
    sbg = custval.ShiftedBetaGeo.from_dict({"alpha": 0.704, "beta": 1.182})
    ax = plot_dropout_rate_heterogeneity(sbg)
    assert ax.get_xlabel() == "Churn probability per period"
    with pytest.raises(custval.CustvalError, match="no transaction rate"):
        plot_transaction_rate_heterogeneity(sbg)


def test_a_given_axes_is_the_one_drawn_on(bgnbd, summary, own_axes):
    import matplotlib.pyplot as plt

    ax = own_axes()
    assert plot_period_transactions(bgnbd, summary, ax=ax) is ax
    assert plt.get_fignums() == []
    with pytest.raises(custval.CustvalError, match="ax must be a matplotlib Axes"):
        plot_period_transactions(bgnbd, summary, ax="left")
