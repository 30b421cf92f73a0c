"""Holdout evaluation, model comparison and at-risk customers: lifetimes on CDNOW, plain NumPy
references, input kinds and bad input."""

from __future__ import annotations

import json
import math

import custval
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from custval.models.holdout import _ranking
from reference import CDNOW_BGNBD

CALIBRATION = {"frequency": "frequency_cal", "recency": "recency_cal", "T": "T_cal"}


@pytest.fixture(scope="module")
def holdout(cdnow_sample) -> pd.DataFrame:
    """CDNOW in weeks: calibration to 1997-09-30, holdout to 1998-06-30 (Fader–Hardie–Lee)."""
    return custval.calibration_holdout(
        cdnow_sample,
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
        amount="amount",
        freq="D",
        freq_multiplier=7,
    )


@pytest.fixture(scope="module")
def bgnbd(holdout):
    return custval.BetaGeo().fit(holdout, **CALIBRATION)


@pytest.fixture(scope="module")
def gamma_gamma(holdout):
    return custval.GammaGamma().fit(
        holdout, frequency="frequency_cal", monetary_value="monetary_value_cal"
    )


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


# -- plain NumPy references -------------------------------------------------------------------


def _ranked(predicted: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sorted by prediction, descending; tied predictions share their mean actual."""
    order = np.argsort(-predicted, kind="stable")
    p, a = predicted[order], actual[order].astype(float)
    for value in np.unique(p):
        tied = p == value
        a[tied] = a[tied].mean()
    return p, a


def reference_gini(predicted, actual) -> float:
    """Normalized Gini as google/lifetime_value: 2 × mean cumulative share − 1, model over
    perfect ordering."""
    predicted, actual = np.asarray(predicted, float), np.asarray(actual, float)
    _, a = _ranked(predicted, actual)
    model = 2 * np.mean(np.cumsum(a) / a.sum()) - 1
    best = np.sort(actual)[::-1]
    perfect = 2 * np.mean(np.cumsum(best) / best.sum()) - 1
    return model / perfect


def reference_deciles(predicted, actual) -> pd.DataFrame:
    p, a = _ranked(np.asarray(predicted, float), np.asarray(actual, float))
    rows = np.array_split(np.arange(p.size), 10)
    return pd.DataFrame(
        {
            "customers": [len(r) for r in rows],
            "predicted_mean": [p[r].mean() for r in rows],
            "actual_mean": [a[r].mean() for r in rows],
        },
        index=pd.RangeIndex(1, 11, name="decile"),
    )


# -- evaluate on CDNOW against lifetimes ------------------------------------------------------


def test_evaluate_matches_lifetimes_on_cdnow(lifetimes, holdout, bgnbd):
    theirs = lifetimes.BetaGeoFitter()
    theirs.params_ = pd.Series(bgnbd.params_)  # the same parameters: only predictions compared
    duration = holdout["duration_holdout"].iloc[0]
    assert (holdout["duration_holdout"] == duration).all() and duration == 39
    predicted = theirs.conditional_expected_number_of_purchases_up_to_time(
        duration, holdout["frequency_cal"], holdout["recency_cal"], holdout["T_cal"]
    ).to_numpy()
    actual = holdout["frequency_holdout"].to_numpy()
    error = predicted - actual

    result = custval.evaluate(bgnbd, holdout)
    assert result.customers == len(holdout) == 2357
    assert result.duration_holdout == 39
    assert result.time_unit == {"freq": "D", "freq_multiplier": 7.0}
    assert _rel(result.mae, np.abs(error).mean()) < 1e-9
    assert _rel(result.rmse, np.sqrt((error**2).mean())) < 1e-9
    assert _rel(result.bias, error.mean()) < 1e-9
    assert _rel(result.predicted_total, predicted.sum()) < 1e-9
    assert result.actual_total == actual.sum()
    assert _rel(result.relative_total_error, (predicted.sum() - actual.sum()) / actual.sum()) < 1e-9

    group = holdout["frequency_cal"].clip(upper=7).astype(int)
    table = result.conditional_expectation
    assert table.index.tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table.index.name == "frequency_cal"
    assert table["customers"].tolist() == group.value_counts().sort_index().tolist()
    want_actual = holdout.groupby(group)["frequency_holdout"].mean()
    assert table["actual_mean"].tolist() == want_actual.tolist()  # exactly
    want_predicted = pd.Series(predicted, index=holdout.index).groupby(group).mean()
    assert _rel(table["predicted_mean"], want_predicted) < 1e-9
    # The published shape: the model tracks the actual means within a purchase or so.
    assert (table["predicted_mean"] - table["actual_mean"]).abs().max() < 1.5


def test_baseline_is_the_calibration_rate(holdout, bgnbd):
    x, t = holdout["frequency_cal"].to_numpy(), holdout["T_cal"].to_numpy()
    baseline = np.where(t > 0, x / np.where(t > 0, t, 1), 0) * holdout["duration_holdout"]
    error = baseline.to_numpy() - holdout["frequency_holdout"].to_numpy()
    result = custval.evaluate(bgnbd, holdout)
    assert _rel(result.baseline.mae, np.abs(error).mean()) < 1e-12
    assert _rel(result.baseline.rmse, np.sqrt((error**2).mean())) < 1e-12
    assert _rel(result.baseline.bias, error.mean()) < 1e-12
    # On CDNOW the model beats the naive rate.
    assert result.mae < result.baseline.mae


def test_baseline_is_zero_for_customers_seen_on_the_last_day():
    table = pd.DataFrame(
        {
            "frequency_cal": [0.0, 2.0, 1.0],
            "recency_cal": [0.0, 3.0, 2.0],
            "T_cal": [0.0, 4.0, 2.0],
            "frequency_holdout": [1.0, 2.0, 0.0],
            "duration_holdout": [4.0, 4.0, 4.0],
        }
    )
    model = custval.BetaGeo.from_dict(CDNOW_BGNBD, time_unit="W")
    result = custval.evaluate(model, table)
    predicted = np.array([0.0, 2 / 4 * 4, 1 / 2 * 4])
    assert result.baseline.predicted_total == pytest.approx(predicted.sum())
    assert result.baseline.mae == pytest.approx(np.abs(predicted - [1, 2, 0]).mean())


# -- ranking ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gini_and_deciles_match_the_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    n = 1_003
    predicted = np.round(rng.gamma(0.5, 2.0, n), 1)  # rounding makes ties
    actual = rng.poisson(predicted * rng.uniform(0.2, 1.8, n)).astype(float)
    gini, deciles = _ranking(predicted, actual)
    assert gini == pytest.approx(reference_gini(predicted, actual), rel=1e-12)
    pd.testing.assert_frame_equal(deciles, reference_deciles(predicted, actual), rtol=1e-12)
    # The order of the rows does not matter, ties included.
    shuffled = rng.permutation(n)
    again, _ = _ranking(predicted[shuffled], actual[shuffled])
    assert again == pytest.approx(gini, rel=1e-12)


def test_gini_without_ties_is_google_lifetime_value_formula():
    rng = np.random.default_rng(5)
    predicted = rng.uniform(size=500)
    actual = rng.gamma(1.0, predicted)
    # google/lifetime_value: cumulative share of the truth sorted by prediction, descending.
    frame = pd.DataFrame({"y_true": actual, "y_pred": predicted})
    model = frame.sort_values("y_pred", ascending=False)["y_true"].cumsum() / actual.sum()
    truth = frame.sort_values("y_true", ascending=False)["y_true"].cumsum() / actual.sum()
    raw = [2 * s.sum() / len(frame) - 1 for s in (truth, model)]
    gini, _ = _ranking(predicted, actual)
    assert gini == pytest.approx(raw[1] / raw[0], rel=1e-12)
    assert _ranking(actual, actual)[0] == pytest.approx(1.0)


def test_evaluate_ranks_purchases_and_with_a_spend_model_value(holdout, bgnbd, gamma_gamma):
    predicted = bgnbd.conditional_expected_purchases(
        39.0, holdout["frequency_cal"], holdout["recency_cal"], holdout["T_cal"]
    )
    actual = holdout["frequency_holdout"].to_numpy()
    result = custval.evaluate(bgnbd, holdout)
    assert result.ranked_by == "purchases"
    assert result.gini == pytest.approx(reference_gini(predicted, actual), rel=1e-9)
    pd.testing.assert_frame_equal(
        result.deciles, reference_deciles(predicted, actual), check_exact=False, rtol=1e-9
    )
    assert result.spend_mae is None and result.spend_customers is None

    spend = gamma_gamma.conditional_expected_spend(
        holdout["frequency_cal"], holdout["monetary_value_cal"]
    )
    bought = actual > 0
    holdout_spend = holdout["monetary_value_holdout"].to_numpy()
    valued = custval.evaluate(bgnbd, holdout, spend_model=gamma_gamma)
    assert valued.ranked_by == "value"
    assert valued.spend_customers == bought.sum()
    assert valued.spend_mae == pytest.approx(
        np.abs(spend[bought] - holdout_spend[bought]).mean(), rel=1e-12
    )
    actual_value = np.where(bought, actual * holdout_spend, 0.0)
    assert valued.gini == pytest.approx(reference_gini(predicted * spend, actual_value), rel=1e-9)
    assert 0 < valued.gini < 1
    # The purchase metrics do not depend on the spend model.
    assert valued.mae == result.mae


# -- the Evaluation object --------------------------------------------------------------------


def test_evaluation_outputs(holdout, bgnbd, gamma_gamma):
    result = custval.evaluate(bgnbd, holdout, spend_model=gamma_gamma, max_frequency=3)
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert frame.columns.tolist() == ["model", "baseline"]
    assert frame.index.tolist() == [
        "mae",
        "rmse",
        "bias",
        "predicted_total",
        "actual_total",
        "relative_total_error",
    ]
    assert frame.loc["mae", "model"] == result.mae
    assert frame.loc["rmse", "baseline"] == result.baseline.rmse
    assert result.conditional_expectation.index.tolist() == ["0", "1", "2", "3+"]
    as_dict = json.loads(json.dumps(result.to_dict()))  # plain JSON types
    assert as_dict["metrics"]["mae"] == result.mae
    assert as_dict["params"] == bgnbd.params_
    assert as_dict["conditional_expectation"][3]["frequency_cal"] == "3+"
    assert as_dict["deciles"][0]["decile"] == 1
    assert as_dict["spend_customers"] == result.spend_customers
    text = repr(result)
    assert "BetaGeo" in text and "2,357 customers" in text and "mae" in text
    assert "conditional expectation" in text and "Gini (value)" in text
    html = result._repr_html_()
    assert html.count("<table") == 3 and "Deciles" in html


def test_evaluate_mirrors_input_kinds(holdout, bgnbd):
    want = custval.evaluate(bgnbd, holdout)
    table = pa.Table.from_pandas(holdout.reset_index())
    table = table.replace_schema_metadata({"custval": json.dumps(holdout.attrs["custval"])})
    from_arrow = custval.evaluate(bgnbd, table)
    assert from_arrow.mae == want.mae and from_arrow.gini == want.gini
    assert isinstance(from_arrow.to_frame(), pa.Table)
    as_polars = pl.from_pandas(holdout.reset_index())
    from_polars = custval.evaluate(bgnbd, as_polars, time_unit=("D", 7))
    assert from_polars.rmse == want.rmse
    assert isinstance(from_polars.to_frame(), pl.DataFrame)
    as_dict = {c: holdout[c].to_numpy() for c in holdout.columns}
    assert custval.evaluate(bgnbd, as_dict, time_unit=("D", 7)).bias == want.bias


def test_evaluate_time_units(holdout, bgnbd):
    plain = pd.DataFrame(holdout)  # a copy keeps attrs: drop them
    plain.attrs = {}
    model = custval.BetaGeo.from_dict(bgnbd.params_)
    with pytest.raises(custval.CustvalError, match="time_unit"):
        custval.evaluate(model, plain)
    assert custval.evaluate(model, plain, time_unit="W").mae == pytest.approx(
        custval.evaluate(bgnbd, holdout).mae, rel=1e-15
    )
    # A model's own unit is enough; a different one is refused.
    assert custval.evaluate(bgnbd, plain).time_unit == {"freq": "D", "freq_multiplier": 7.0}
    weekly = custval.BetaGeo.from_dict(bgnbd.params_, time_unit="D")
    with pytest.raises(custval.CustvalError, match="differs"):
        custval.evaluate(weekly, holdout)
    with pytest.raises(custval.CustvalError, match="differs"):
        custval.evaluate(bgnbd, plain, time_unit="D")


def test_evaluate_when_the_holdout_length_varies(holdout, bgnbd):
    table = holdout.copy()
    table["duration_holdout"] = np.where(np.arange(len(table)) % 3 == 0, 20.0, 39.0)
    result = custval.evaluate(bgnbd, table)
    assert result.duration_holdout is None
    x, tx, t = table["frequency_cal"], table["recency_cal"], table["T_cal"]
    predicted = np.where(
        table["duration_holdout"] == 20.0,
        bgnbd.conditional_expected_purchases(20.0, x, tx, t),
        bgnbd.conditional_expected_purchases(39.0, x, tx, t),
    )
    assert result.predicted_total == pytest.approx(predicted.sum(), rel=1e-12)
    assert "varying" in repr(result)


def test_no_holdout_purchases_warns_and_stays_finite(holdout, bgnbd):
    table = holdout.copy()
    table["frequency_holdout"] = 0.0
    with pytest.warns(UserWarning, match="no holdout purchases"):
        result = custval.evaluate(bgnbd, table)
    assert result.actual_total == 0
    for value in (result.mae, result.rmse, result.bias, result.baseline.mae):
        assert math.isfinite(value)
    assert result.relative_total_error is None and result.gini is None
    assert result.to_dict()["gini"] is None
    assert np.isfinite(result.deciles.to_numpy()).all()
    with pytest.warns(UserWarning, match="no holdout purchases"):
        frame = custval.compare_models([bgnbd], table)
    assert frame["mae"].notna().all()


# -- compare_models ---------------------------------------------------------------------------


def test_compare_models_by_name_on_cdnow(holdout, bgnbd):
    frame = custval.compare_models(["bgnbd", "mbgnbd", "pnbd"], holdout)
    assert sorted(frame.index) == ["baseline", "bgnbd", "mbgnbd", "pnbd"]
    assert frame.index.name == "name"
    assert frame.columns.tolist() == [
        "model",
        "parameters",
        "log_likelihood",
        "aic",
        "bic",
        "mae",
        "rmse",
        "bias",
        "relative_total_error",
    ]
    assert frame["mae"].is_monotonic_increasing
    row = frame.loc["bgnbd"]
    assert row["model"] == "BetaGeo"
    assert row["parameters"] == pytest.approx(bgnbd.params_)
    assert row["log_likelihood"] == pytest.approx(bgnbd.log_likelihood_)
    assert row["aic"] == pytest.approx(bgnbd.aic_)
    assert row["mae"] == pytest.approx(custval.evaluate(bgnbd, holdout).mae, rel=1e-9)
    baseline = frame.loc["baseline"]
    assert baseline["parameters"] is None and math.isnan(baseline["log_likelihood"])
    assert baseline["mae"] == custval.evaluate(bgnbd, holdout).baseline.mae
    # Every model beats the naive rate on CDNOW.
    assert frame.index[-1] == "baseline"


def test_compare_models_with_fitted_models(holdout, bgnbd):
    pareto = custval.ParetoNBD().fit(holdout, **CALIBRATION)
    frame = custval.compare_models([pareto, bgnbd, bgnbd], holdout)
    assert sorted(frame.index) == ["baseline", "bgnbd", "bgnbd (2)", "pnbd"]
    assert frame.loc["pnbd", "mae"] == custval.evaluate(pareto, holdout).mae
    named = custval.compare_models({"mine": bgnbd, "fitted here": "pnbd"}, holdout)
    assert sorted(named.index) == ["baseline", "fitted here", "mine"]
    assert named.loc["fitted here", "mae"] == pytest.approx(frame.loc["pnbd", "mae"], rel=1e-9)
    one = custval.compare_models(bgnbd, holdout)
    assert len(one) == 2
    clash = custval.compare_models({"baseline": bgnbd}, holdout)
    assert sorted(clash.index) == ["baseline", "baseline (2)"]


def test_compare_models_mirrors_input(holdout):
    frame = custval.compare_models(["bgnbd"], pl.from_pandas(holdout.reset_index()), time_unit="W")
    assert isinstance(frame, pl.DataFrame)
    assert frame.columns[0] == "name" and frame.height == 2
    table = custval.compare_models(["bgnbd"], holdout, output="arrow")
    assert isinstance(table, pa.Table) and table.column("name").to_pylist()[-1] == "baseline"


def test_compare_models_bgbb_needs_whole_periods(cdnow_sample, holdout):
    with pytest.raises(custval.DataError, match=r"'bgbb' \(BetaGeoBetaBinom\).*whole numbers"):
        custval.compare_models(["bgnbd", "bgbb"], holdout)
    weekly = custval.calibration_holdout(
        cdnow_sample, calibration_end="1997-09-30", observation_end="1998-06-30", freq="W"
    )
    frame = custval.compare_models(["bgnbd", "bgbb"], weekly)
    assert sorted(frame.index) == ["baseline", "bgbb", "bgnbd"]
    assert frame.loc["bgbb", "model"] == "BetaGeoBetaBinom"


def test_compare_models_bad_names(holdout, bgnbd):
    with pytest.raises(custval.CustvalError, match="'bgnbd', 'mbgnbd', 'pnbd', 'bgbb'"):
        custval.compare_models(["bgnbd", "lstm"], holdout)
    with pytest.raises(custval.CustvalError, match="models: give at least one"):
        custval.compare_models([], holdout)
    with pytest.raises(custval.CustvalError, match="models: BetaGeo is not fitted"):
        custval.compare_models([custval.BetaGeo()], holdout)
    with pytest.raises(custval.CustvalError, match="models must be a fitted"):
        custval.compare_models([custval.GammaGamma()], holdout)
    plain = pd.DataFrame(holdout)
    plain.attrs = {}
    with pytest.raises(custval.CustvalError, match="time_unit"):
        custval.compare_models(["bgnbd"], plain)


# -- at_risk ----------------------------------------------------------------------------------


@pytest.fixture()
def small_summary() -> pd.DataFrame:
    """Ten customers observed 52 weeks: the more purchases before a long silence, the lower
    P(alive)."""
    frame = pd.DataFrame(
        {
            "frequency": [10.0, 5.0, 2.0, 0.0, 10.0, 8.0, 1.0, 3.0, 6.0, 4.0],
            "recency": [10.0, 10.0, 10.0, 0.0, 50.0, 12.0, 51.0, 5.0, 8.0, 40.0],
            "T": [52.0] * 10,
            "revenue": [900.0, 800.0, 700.0, 650.0, 600.0, 500.0, 100.0, 90.0, 80.0, 70.0],
            "monetary_value": [80.0, 150.0, 300.0, 0.0, 55.0, 60.0, 90.0, 25.0, 10.0, 15.0],
        },
        index=pd.Index(list("abcdefghij"), name="customer_id"),
    )
    frame.attrs["custval"] = {"freq": "W", "freq_multiplier": 1.0, "include_first": False}
    return frame


def _expected_at_risk(summary, p_alive, value, below, share):
    frame = summary[["frequency", "recency", "T"]].assign(value=value, p_alive=p_alive)
    k = math.ceil(share * len(frame))
    cut = np.sort(value)[::-1][k - 1]
    chosen = frame[(frame["value"] >= cut) & (frame["p_alive"] < below)]
    chosen = chosen.assign(value_at_risk=chosen["value"] * (1 - chosen["p_alive"]))
    return chosen.sort_values("value_at_risk", ascending=False, kind="stable")


def test_at_risk_on_a_small_summary(small_summary):
    model = custval.BetaGeo.from_dict(CDNOW_BGNBD, time_unit="W")
    p = model.p_alive(small_summary["frequency"], small_summary["recency"], small_summary["T"])
    # The known ordering: silent frequent buyers are the likeliest gone.
    assert p[0] < p[1] < p[2] < p[3] == 1.0 and p[4] > 0.9 and p[5] < 0.5

    got = custval.at_risk(model, small_summary, p_alive_below=0.5, top_value_share=0.5)
    columns = ["frequency", "recency", "T", "value", "p_alive", "value_at_risk"]
    assert got.columns.tolist() == columns
    want = _expected_at_risk(small_summary, p, small_summary["revenue"], 0.5, 0.5)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    assert got.index.tolist() == ["a", "b", "c"]  # 'd' and 'e' are alive; 'f' is not in the top
    assert (got["p_alive"] < 0.5).all() and got["value_at_risk"].is_monotonic_decreasing

    everyone = custval.at_risk(model, small_summary, p_alive_below=0.9, top_value_share=1.0)
    want = _expected_at_risk(small_summary, p, small_summary["revenue"], 0.9, 1.0)
    pd.testing.assert_frame_equal(everyone, want, check_exact=False, rtol=1e-12)
    assert "f" in everyone.index and "d" not in everyone.index


def test_at_risk_values_expected_spend_with_a_spend_model(small_summary):
    model = custval.BetaGeo.from_dict(CDNOW_BGNBD, time_unit="W")
    spend_model = custval.GammaGamma.from_dict({"p": 6.25, "q": 3.74, "gamma": 15.44})
    got = custval.at_risk(model, small_summary, spend_model=spend_model, p_alive_below=0.6)
    p = model.p_alive(small_summary["frequency"], small_summary["recency"], small_summary["T"])
    value = spend_model.conditional_expected_spend(
        small_summary["frequency"], small_summary["monetary_value"]
    )
    want = _expected_at_risk(small_summary, p, value, 0.6, 0.2)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    assert got.index.tolist() == ["c", "b"]
    assert got.attrs["custval"]["value"] == "expected_spend"


def test_at_risk_mirrors_input(small_summary):
    model = custval.BetaGeo.from_dict(CDNOW_BGNBD, time_unit="W")
    want = custval.at_risk(model, small_summary, p_alive_below=0.5, top_value_share=0.5)
    as_polars = pl.from_pandas(small_summary.reset_index())
    got = custval.at_risk(model, as_polars, p_alive_below=0.5, top_value_share=0.5)
    assert isinstance(got, pl.DataFrame)
    assert got["customer_id"].to_list() == want.index.tolist()
    assert got["value_at_risk"].to_list() == want["value_at_risk"].tolist()
    table = custval.at_risk(
        model, pa.Table.from_pandas(small_summary.reset_index()), top_value_share=0.5
    )
    assert isinstance(table, pa.Table) and table.column_names[0] == "customer_id"


def test_at_risk_on_an_rfm_summary(cdnow_sample):
    summary = custval.rfm_summary(
        cdnow_sample, amount="amount", observation_end="1997-09-30", freq="D", freq_multiplier=7
    )
    model = custval.BetaGeo().fit(summary)
    got = custval.at_risk(model, summary)
    p = model.p_alive(summary["frequency"], summary["recency"], summary["T"])
    want = _expected_at_risk(summary, p, summary["revenue"].astype(float), 0.3, 0.2)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    assert 0 < len(got) < 0.2 * len(summary) + 1


# -- bad input --------------------------------------------------------------------------------


def test_bad_models(holdout, bgnbd, small_summary):
    with pytest.raises(custval.CustvalError, match="model: BetaGeo is not fitted"):
        custval.evaluate(custval.BetaGeo(), holdout)
    with pytest.raises(custval.CustvalError, match="model must be a fitted"):
        custval.evaluate(custval.GammaGamma(), holdout)
    with pytest.raises(custval.CustvalError, match="purchase_model: ParetoNBD is not fitted"):
        custval.at_risk(custval.ParetoNBD(), small_summary)
    with pytest.raises(custval.CustvalError, match="max_frequency"):
        custval.evaluate(bgnbd, holdout, max_frequency=0)


def test_bad_spend_models(cdnow_sample, holdout, bgnbd, gamma_gamma, small_summary):
    with pytest.raises(custval.CustvalError, match="spend_model must be a fitted GammaGamma"):
        custval.evaluate(bgnbd, holdout, spend_model=bgnbd)
    with pytest.raises(custval.CustvalError, match="spend_model: GammaGamma is not fitted"):
        custval.evaluate(bgnbd, holdout, spend_model=custval.GammaGamma())
    no_money = custval.calibration_holdout(
        cdnow_sample, calibration_end="1997-09-30", observation_end="1998-06-30", freq="W"
    )
    with pytest.raises(custval.CustvalError, match="spend_model: .*monetary_value_cal"):
        custval.evaluate(bgnbd, no_money, spend_model=gamma_gamma)
    model = custval.BetaGeo.from_dict(CDNOW_BGNBD, time_unit="W")
    with pytest.raises(custval.CustvalError, match="spend_model: .*'monetary_value'"):
        custval.at_risk(
            model, small_summary.drop(columns="monetary_value"), spend_model=gamma_gamma
        )
    with pytest.raises(custval.CustvalError, match="spend_model must be"):
        custval.at_risk(model, small_summary, spend_model=3.0)


def test_bad_tables(holdout, bgnbd):
    with pytest.raises(custval.ColumnNotFoundError, match="calibration_holdout:.*duration_hold"):
        custval.evaluate(bgnbd, holdout.drop(columns="duration_holdout"))
    with pytest.raises(custval.ColumnNotFoundError, match="duration_holdout"):
        custval.compare_models(["bgnbd"], holdout.drop(columns="duration_holdout"))
    first = holdout.copy()
    first.attrs = {"custval": {**holdout.attrs["custval"], "include_first": True}}
    with pytest.raises(custval.DataError, match="calibration_holdout: .*include_first"):
        custval.evaluate(bgnbd, first)
    negative = holdout.copy()
    negative.iloc[0, negative.columns.get_loc("frequency_holdout")] = -1.0
    with pytest.raises(custval.DataError, match="calibration_holdout: .*'frequency_holdout'"):
        custval.evaluate(bgnbd, negative)
    with pytest.raises(custval.DataError, match="no customers"):
        custval.evaluate(bgnbd, holdout.iloc[:0])


def test_bad_at_risk_arguments(cdnow_sample, small_summary):
    model = custval.BetaGeo.from_dict(CDNOW_BGNBD, time_unit="W")
    for value in (0, 1, -0.1, 1.5, float("nan")):
        with pytest.raises(custval.CustvalError, match=r"p_alive_below must be in \(0, 1\)"):
            custval.at_risk(model, small_summary, p_alive_below=value)
    for value in (0, -0.5, 1.01, float("nan")):
        with pytest.raises(custval.CustvalError, match=r"top_value_share must be in \(0, 1\]"):
            custval.at_risk(model, small_summary, top_value_share=value)
    first = custval.rfm_summary(cdnow_sample, amount="amount", include_first=True, freq="W")
    with pytest.raises(custval.DataError, match="summary: .*include_first"):
        custval.at_risk(model, first)
    with pytest.raises(custval.ColumnNotFoundError, match="summary: .*'revenue'"):
        custval.at_risk(model, small_summary.drop(columns="revenue"))
    daily = custval.BetaGeo.from_dict(CDNOW_BGNBD, time_unit="D")
    with pytest.raises(custval.CustvalError, match="differs"):
        custval.at_risk(daily, small_summary)
