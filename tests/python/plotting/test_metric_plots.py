"""Cohort heatmap, growth accounting, segment map and Lorenz curve."""

from __future__ import annotations

import custval
import numpy as np
import pandas as pd
import polars as pl
import pytest
from custval.plotting import plot_cohorts, plot_lorenz, plot_retention, plot_segments


def test_cohort_heatmap_cells_are_the_table(log):
    table = custval.cohorts(log)  # monthly shares: 3 cohorts × 18 months
    ax = plot_cohorts(table)
    cells = ax.images[0].get_array()
    want = table.drop(columns="cohort_size").to_numpy(dtype=float)
    assert cells.shape == want.shape == (3, 18)
    np.testing.assert_array_equal(np.ma.getmaskarray(cells), np.isnan(want))
    np.testing.assert_array_equal(cells.filled(np.nan), want)
    assert len(ax.texts) == np.count_nonzero(~np.isnan(want))
    assert ax.texts[1].get_text() == f"{want[0, 1]:.0%}"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["1997-01  (781)", "1997-02  (857)", "1997-03  (719)"]
    assert ax.get_xlabel() == "Months since first purchase"
    assert ax.get_title().startswith("Share of each cohort active")


def test_cohort_heatmap_of_revenue_from_polars(log):
    table = custval.cohorts(pl.from_pandas(log), amount="amount", value="revenue", freq="Q")
    ax = plot_cohorts(table)
    want = table.drop("cohort", "cohort_size").to_numpy().astype(float)
    np.testing.assert_array_equal(ax.images[0].get_array().filled(np.nan), want)
    assert ax.get_title().startswith("Revenue of each cohort")
    with pytest.raises(custval.ColumnNotFoundError, match="cohort_size"):
        plot_cohorts(log)


def test_retention_bars_are_growth_accounting(log):
    table = custval.retention(log, amount="amount")
    ax = plot_retention(table)
    flows = {c.get_label(): [bar.get_height() for bar in c] for c in ax.containers}
    assert list(flows) == ["new", "resurrected", "retained", "churned"]
    for name in ("new", "resurrected", "retained"):
        np.testing.assert_array_equal(flows[name], table[name].to_numpy())
    np.testing.assert_array_equal(flows["churned"], -table["churned"].to_numpy())
    (ratio,) = [a for a in ax.figure.axes if a is not ax and a.lines]
    np.testing.assert_array_equal(
        ratio.lines[0].get_ydata(), table["quick_ratio"].to_numpy(dtype=float)
    )
    assert ax.containers[0][0].get_alpha() == 0.45  # the partial first month
    ax = plot_retention(table, kind="revenue")
    flows = {c.get_label(): [bar.get_height() for bar in c] for c in ax.containers}
    assert list(flows) == [
        "new_revenue",
        "resurrected_revenue",
        "expansion_revenue",
        "churned_revenue",
        "contraction_revenue",
    ]
    np.testing.assert_allclose(flows["contraction_revenue"], -table["contraction_revenue"])
    assert ax.get_ylabel().startswith("Revenue (money)")
    with pytest.raises(custval.CustvalError, match="kind must be"):
        plot_retention(table, kind="orders")
    with pytest.raises(custval.ColumnNotFoundError, match="amount="):
        plot_retention(custval.retention(log), kind="revenue")


def test_segment_map_counts_customers_per_cell(log):
    segments = custval.rfm_segments(log, amount="amount")
    ax = plot_segments(segments)
    cells = ax.images[0].get_array()
    want = pd.crosstab(segments["f_score"], segments["r_score"]).reindex(
        index=range(1, 6), columns=range(1, 6), fill_value=0
    )
    np.testing.assert_array_equal(cells, want.to_numpy())
    names = {t.get_text().split("\n")[0] for t in ax.texts if "\n" in t.get_text()}
    assert names == set(segments["segment"])
    ax = plot_segments(segments, value="revenue")
    assert ax.images[0].get_array().sum() == pytest.approx(segments["revenue"].sum())


def test_segment_map_of_a_summary_uses_the_default_rules(log):
    summary = custval.segment_summary(custval.rfm_segments(log, amount="amount"))
    ax = plot_segments(summary)
    cells = ax.images[0].get_array()
    assert cells[4, 4] == summary.loc["Champions", "customers"]  # F5, R5
    assert cells[0, 0] == summary.loc["Hibernating", "customers"]  # F1, R1
    assert ax.get_title() == "RFM segments: customers per segment, share per segment"


def test_lorenz_curve(log):
    concentration = custval.value_concentration(log, amount="amount")
    ax = plot_lorenz(concentration)
    x, y = ax.lines[0].get_data()
    assert (x[0], y[0]) == (0.0, 0.0)
    assert (x[-1], y[-1]) == pytest.approx((1.0, 1.0))
    np.testing.assert_array_equal(y, concentration.lorenz_value)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert f"Gini = {concentration.gini:.3f}" in texts
    assert f"{concentration.top_20pct:.1%} of value" in texts
    assert ax.lines[1].get_label() == "Equality"
    with pytest.raises(custval.CustvalError, match="Concentration"):
        plot_lorenz({"gini": 0.5})
