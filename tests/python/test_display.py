"""Rich display: every _repr_html_ parses as well-formed HTML and shows the right figures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import custval
import pytest
from custval.datasets import load_cdnow, load_cdnow_summary


def tables(html: str) -> list[list[list[str]]]:
    """The tables of an HTML fragment: rows of cell texts (header row first)."""
    root = ET.fromstring(f"<root>{html}</root>")  # raises on anything not well formed
    return [
        [[(cell.text or "") for cell in row] for row in table.iter("tr")]
        for table in root.iter("table")
    ]


def cells(html: str) -> dict[str, list[str]]:
    """First table's rows keyed by their label."""
    return {row[0]: row[1:] for row in tables(html)[0][1:]}


@pytest.fixture(scope="module")
def log():
    return load_cdnow()


def test_kpis_html_and_text(log):
    k = custval.kpis(log, amount="amount", margin=0.25)
    shown = cells(k._repr_html_())
    assert shown["Customers"] == ["2,357"]
    assert shown["Revenue"] == ["244,091.94"]
    assert shown["Average order value"] == ["35.28"]
    assert shown["Repeat-customer rate"] == [f"{100 * k.repeat_customer_rate:.1f} %"]
    assert shown["Gross margin rate"] == ["25.0 %"]
    text = repr(k).splitlines()
    assert text[0] == "Kpis"
    assert text[4].split() == ["revenue", "244,091.94"]
    decimal = custval.kpis(log, amount="amount", money="decimal")
    assert cells(decimal._repr_html_())["Average order value"] == ["35.28"]


def test_fitted_model_html_has_estimates_errors_intervals_and_fit():
    model = custval.BetaGeo().fit(load_cdnow_summary())
    params, fit = tables(model._repr_html_())
    assert params[0] == ["parameter", "estimate", "std. error", "lower 95 %", "upper 95 %"]
    rows = {row[0]: row[1:] for row in params[1:]}
    assert list(rows) == ["r", "alpha", "a", "b"]
    summary = model.summary()
    assert rows["alpha"][0] == f"{summary.loc['alpha', 'estimate']:.4g}"
    assert rows["r"][1] == f"{summary.loc['r', 'standard_error']:.4g}"
    facts = {row[0]: row[1] for row in fit[1:]}
    assert facts["log-likelihood"] == f"{model.log_likelihood_:,.2f}" == "-9,582.43"
    assert facts["AIC"] == f"{model.aic_:,.2f}"
    assert facts["customers"] == "2,357"
    assert facts["time unit"] == "weeks"
    assert facts["converged"] == "yes"
    unfitted = custval.GammaGamma()._repr_html_()
    assert "not fitted" in unfitted


def test_per_cohort_sbg_html():
    model = custval.ShiftedBetaGeo().fit(custval.datasets.load_sbg_cohorts(), cohort="cohort")
    params = tables(model._repr_html_())[0]
    assert [row[0] for row in params[1:]] == [
        "highend / alpha",
        "highend / beta",
        "regular / alpha",
        "regular / beta",
    ]


def test_evaluation_concentration_nps_and_clv_to_cac(log):
    table = custval.calibration_holdout(
        log, calibration_end="1997-09-30", freq="D", freq_multiplier=7
    )
    model = custval.BetaGeo().fit(
        table, frequency="frequency_cal", recency="recency_cal", T="T_cal"
    )
    evaluation = custval.evaluate(model, table)
    metrics, expectation, deciles = tables(evaluation._repr_html_())
    assert metrics[0] == ["metric", "model", "baseline"]
    assert {row[0]: row[1] for row in metrics[1:]}["mae"] == f"{evaluation.mae:.4g}"
    assert [row[0] for row in expectation[1:]][-1] == "7+"
    assert len(deciles) == 11
    concentration = custval.value_concentration(log, amount="amount")
    shown = cells(concentration._repr_html_())
    assert shown["share of the top 20 %"] == [f"{100 * concentration.top_20pct:.1f} %"]
    assert shown["customers"] == ["2,357"]
    score = custval.nps({"score": [10, 9, 9, 7, 3]}, score="score")
    shown = cells(score._repr_html_())
    assert shown["NPS"] == ["+40.0", ""]
    assert shown["promoters"] == ["3", "60.0 %"]
    shown = cells(custval.clv_to_cac(100, 20)._repr_html_())
    assert shown == {"CLV : CAC": ["5.00 : 1"], "CLV − CAC": ["80.00"]}


def test_html_is_escaped():
    model = custval.ShiftedBetaGeo().fit(
        {"recency": [1, 8, 1, 8], "T": [8, 8, 8, 8], "cohort": ["<b>", "<b>", "&", "&"]},
        cohort="cohort",
    )
    html = model._repr_html_()
    assert "&lt;b&gt; / alpha" in html
    tables(html)  # still well formed
