"""Holdout, comparison, CLV and at-risk plots."""

from __future__ import annotations

import custval
import numpy as np
import pyarrow as pa
import pytest
from custval.plotting import (
    plot_at_risk,
    plot_calibration_purchases_vs_holdout_purchases,
    plot_clv_distribution,
    plot_model_comparison,
)


@pytest.fixture(scope="module")
def calibrated(holdout):
    return custval.BetaGeo().fit(
        holdout, frequency="frequency_cal", recency="recency_cal", T="T_cal"
    )


def test_calibration_vs_holdout_is_the_conditional_expectation(calibrated, holdout):
    table = custval.evaluate(calibrated, holdout, max_frequency=5).conditional_expectation
    ax = plot_calibration_purchases_vs_holdout_purchases(calibrated, holdout, n=5)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), table["actual_mean"].to_numpy())
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), table["predicted_mean"].to_numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3", "4", "5+"]
    assert ax.get_title() == "Actual Purchases in Holdout Period vs Predicted Purchases"
    evaluation = custval.evaluate(calibrated, holdout)
    ax = plot_calibration_purchases_vs_holdout_purchases(evaluation)
    assert len(ax.lines[0].get_ydata()) == 8
    with pytest.raises(custval.CustvalError, match="calibration_holdout is needed"):
        plot_calibration_purchases_vs_holdout_purchases(calibrated)


def test_model_comparison_bars_are_the_table(holdout):
    table = custval.compare_models(["bgnbd", "pnbd"], holdout)
    ax = plot_model_comparison(table)
    widths = [bar.get_width() for bar in ax.containers[0]]
    np.testing.assert_array_equal(widths, table["mae"].to_numpy())
    assert [t.get_text() for t in ax.get_yticklabels()] == table.index.tolist()
    assert ax.containers[0][-1].get_facecolor()[:3] == pytest.approx((0.7, 0.7, 0.7))
    assert ax.get_title().startswith("Mean absolute error on 2,357 holdout customers")
    texts = [t.get_text() for t in ax.texts]
    assert any("vs baseline" in t for t in texts)
    as_arrow = pa.Table.from_pandas(table.drop(columns="parameters").reset_index())
    ax = plot_model_comparison(as_arrow, metric="relative_total_error")
    np.testing.assert_array_equal(
        [bar.get_width() for bar in ax.containers[0]], table["relative_total_error"].to_numpy()
    )
    assert ax.xaxis.get_major_formatter()(0.25, 0) == "25%"
    with pytest.raises(custval.CustvalError, match="metric must be one of"):
        plot_model_comparison(table, metric="r2")


def test_clv_distribution_counts_every_customer(bgnbd, full_summary):
    model = custval.BetaGeo().fit(full_summary)
    spend = custval.GammaGamma().fit(full_summary[full_summary["frequency"] > 0])
    clv = custval.customer_lifetime_value(model, spend, full_summary)
    ax = plot_clv_distribution(clv)
    counts = [patch.get_height() for patch in ax.patches]
    assert sum(counts) == (clv > 0).sum() == len(clv)
    assert ax.get_xscale() == "log"
    cut = ax.lines[0].get_xdata()[0]
    assert cut == pytest.approx(np.quantile(clv, 0.9))
    share = clv[clv >= cut].sum() / clv.sum()
    assert f"({share:.1%} of the total)" in ax.lines[0].get_label()
    with pytest.raises(custval.CustvalError, match="negative"):
        plot_clv_distribution([1.0, -2.0])


def test_at_risk_highlights_the_selected_customers(full_summary):
    model = custval.BetaGeo().fit(full_summary)
    risky = custval.at_risk(model, full_summary, p_alive_below=0.25)
    ax = plot_at_risk(risky, model, full_summary)
    everyone, selected = ax.collections
    assert len(everyone.get_offsets()) == len(full_summary)
    np.testing.assert_array_equal(
        selected.get_offsets(), np.column_stack([risky["value"], risky["p_alive"]])
    )
    threshold = [line for line in ax.lines if line.get_label() == "P(alive) < 25%"]
    assert threshold and threshold[0].get_ydata()[0] == 0.25
    ax = plot_at_risk(risky)
    assert len(ax.collections) == 1
    with pytest.raises(custval.CustvalError, match="go together"):
        plot_at_risk(risky, model)
    with pytest.raises(custval.ColumnNotFoundError, match="value_at_risk"):
        plot_at_risk(full_summary)
