"""BTYD models through the Python API: published estimates, lifetimes, recovery, contracts."""

from __future__ import annotations

import json
import math
import pickle

import custval
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import DATA, read_cdnow_sample
from custval import datasets
from reference import CDNOW_BGNBD, CDNOW_GG, CDNOW_MBGNBD, CDNOW_PARETO

CDNOW = DATA / "cdnow_customers_summary_with_transactions.csv"


def _sig(got: float, want: float, digits: int = 3) -> bool:
    """``got`` rounds to ``want`` at ``digits`` significant digits (half a unit of slack)."""
    scale = 10 ** (math.floor(math.log10(abs(want))) - digits + 1)
    return abs(got - want) <= 0.5 * scale + 1e-12


def _assert_published(model, published: dict[str, float], ll: float, ll_tol: float = 0.01):
    assert model.converged_
    for name, want in published.items():
        assert _sig(model.params_[name], want), (name, model.params_[name], want)
    assert abs(model.log_likelihood_ - ll) < ll_tol, model.log_likelihood_


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    if not CDNOW.exists():
        pytest.skip("../shared/data is not available")
    frame = pd.read_csv(CDNOW).set_index("ID")
    return frame.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})


@pytest.fixture(scope="module")
def cdnow_rfm() -> pd.DataFrame:
    if not (DATA / "CDNOW_sample.txt").exists():
        pytest.skip("../shared/data is not available")
    return custval.rfm_summary(
        read_cdnow_sample(),
        amount="amount",
        observation_end="1997-09-30",
        freq="D",
        freq_multiplier=7,
    )


@pytest.fixture(scope="module")
def bgnbd(cdnow):
    return custval.BetaGeo().fit(cdnow, time_unit="W")


@pytest.fixture(scope="module")
def gamma_gamma(cdnow):
    return custval.GammaGamma().fit(cdnow)


# -- published estimates (data/REFERENCE.md) ------------------------------------------------


def test_bgnbd_cdnow_published(bgnbd):
    _assert_published(bgnbd, CDNOW_BGNBD, -9582.43)
    assert bgnbd.n_obs_ == 2357
    assert bgnbd.n_unique_ < 2357
    se = bgnbd.standard_errors_
    for name, value in bgnbd.params_.items():
        lo, hi = bgnbd.confidence_intervals_[name]
        assert se[name] > 0
        assert lo < value < hi
    assert bgnbd.aic_ == pytest.approx(8 - 2 * bgnbd.log_likelihood_)
    assert bgnbd.bic_ == pytest.approx(4 * math.log(2357) - 2 * bgnbd.log_likelihood_)
    table = bgnbd.summary()
    assert list(table.index) == ["r", "alpha", "a", "b"]
    assert table.attrs["log_likelihood"] == bgnbd.log_likelihood_


def test_bgnbd_on_rfm_summary_of_the_transactions(cdnow_rfm):
    model = custval.BetaGeo().fit(cdnow_rfm)
    assert model.time_unit_ == {"freq": "D", "freq_multiplier": 7.0}
    # The published file rounds recency and T to 2 decimals; the exact summary agrees to 3
    # significant digits and the log-likelihood to a few hundredths.
    _assert_published(model, CDNOW_BGNBD, -9582.43, ll_tol=0.1)


def test_pareto_nbd_cdnow_published(cdnow):
    _assert_published(custval.ParetoNBD().fit(cdnow), CDNOW_PARETO, -9594.98)


def test_mbgnbd_cdnow_published(cdnow):
    _assert_published(custval.ModifiedBetaGeo().fit(cdnow), CDNOW_MBGNBD, -9582.13)


def test_gamma_gamma_cdnow_published(gamma_gamma, cdnow):
    _assert_published(gamma_gamma, CDNOW_GG, -4055.92)
    assert gamma_gamma.n_excluded_ == int((cdnow["frequency"] == 0).sum()) == 2357 - 946
    assert gamma_gamma.summary().attrs["n_excluded"] == 1411
    assert gamma_gamma.n_obs_ == 946


def test_bgbb_donations_published():
    if not (DATA / "donations.csv").exists():
        pytest.skip("../shared/data is not available")
    donations = pd.read_csv(DATA / "donations.csv")
    model = custval.BetaGeoBetaBinom().fit(donations, T="periods", weights="weights")
    published = {"alpha": 1.2035, "beta": 0.7498, "gamma": 0.6568, "delta": 2.7839}
    _assert_published(model, published, -33225.58)
    assert model.n_obs_ == 11_104


def test_sbg_cohorts_published():
    if not (DATA / "sbg_cohorts.csv").exists():
        pytest.skip("../shared/data is not available")
    cohorts = pd.read_csv(DATA / "sbg_cohorts.csv")
    model = custval.ShiftedBetaGeo().fit(cohorts, cohort="cohort")
    assert model.cohorts_ == ["highend", "regular"]
    published = {
        "regular": ({"alpha": 0.704, "beta": 1.182}, -1680.27),
        "highend": ({"alpha": 0.668, "beta": 3.806}, -1611.16),
    }
    for cohort, (params, ll) in published.items():
        for name, want in params.items():
            assert _sig(model.params_[cohort][name], want), (cohort, name)
        assert abs(model.log_likelihood_[cohort] - ll) < 0.01
    one = custval.ShiftedBetaGeo().fit(cohorts[cohorts["cohort"] == "regular"])
    assert one.params_ == model.params_["regular"]
    assert model.summary().loc[("regular", "alpha"), "estimate"] == one.params_["alpha"]
    s = model.survival([0, 1, 2], cohort="regular")
    assert s[0] == 1.0 and s[1] > s[2]
    retention = model.retention_rate([1, 2, 3], cohort="regular")
    np.testing.assert_allclose(retention[1:], model.survival([2, 3], cohort="regular") / s[1:])
    assert model.expected_lifetime(cohort="highend", discount_rate=0.1) > 1
    with pytest.raises(custval.CustvalError, match="cohort"):
        model.survival([1])
    back = custval.ShiftedBetaGeo.from_dict(json.loads(json.dumps(model.to_dict())))
    assert back.params_ == model.params_


# -- agreement with lifetimes ----------------------------------------------------------------


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def test_bgnbd_agrees_with_lifetimes(lifetimes, cdnow, bgnbd):
    x, tx, t = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    theirs = lifetimes.BetaGeoFitter().fit(x, tx, t)
    assert (
        _rel([bgnbd.params_[n] for n in CDNOW_BGNBD], [theirs.params_[n] for n in CDNOW_BGNBD])
        < 1e-3
    )
    same = custval.BetaGeo.from_dict(dict(theirs.params_))
    for horizon in (1.0, 39.0):
        ours = same.conditional_expected_purchases(horizon, x, tx, t)
        want = theirs.conditional_expected_number_of_purchases_up_to_time(horizon, x, tx, t)
        assert _rel(ours, want) < 1e-6
    assert _rel(same.p_alive(x, tx, t), theirs.conditional_probability_alive(x, tx, t)) < 1e-6
    grid = np.array([1.0, 10.0, 52.0])
    want = theirs.expected_number_of_purchases_up_to_time(grid)
    assert _rel(same.expected_purchases(grid), want) < 1e-6
    assert (
        _rel(
            same.probability_of_purchases(2, 39.0),
            theirs.probability_of_n_purchases_up_to_time(39.0, 2),
        )
        < 1e-6
    )


def test_mbgnbd_agrees_with_lifetimes(lifetimes, cdnow):
    x, tx, t = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    theirs = lifetimes.ModifiedBetaGeoFitter().fit(x, tx, t)
    ours = custval.ModifiedBetaGeo().fit(cdnow)
    names = ["r", "alpha", "a", "b"]
    assert _rel([ours.params_[n] for n in names], [theirs.params_[n] for n in names]) < 1e-3
    same = custval.ModifiedBetaGeo.from_dict(dict(theirs.params_))
    want = theirs.conditional_expected_number_of_purchases_up_to_time(39.0, x, tx, t)
    assert _rel(same.conditional_expected_purchases(39.0, x, tx, t), want) < 1e-6
    assert _rel(same.p_alive(x, tx, t), theirs.conditional_probability_alive(x, tx, t)) < 1e-6
    # Not compared: lifetimes' expected_number_of_purchases_up_to_time uses (b + 1)/(a − 1)
    # as the prefactor, inconsistent with its own probability_of_n_purchases_up_to_time; we
    # follow the model's pmf (b/(a − 1)), see src/models/mbgnbd.rs.


def test_pareto_nbd_agrees_with_lifetimes(lifetimes, cdnow):
    x, tx, t = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    theirs = lifetimes.ParetoNBDFitter()
    theirs.params_ = pd.Series(CDNOW_PARETO)
    same = custval.ParetoNBD.from_dict(CDNOW_PARETO)
    want = theirs.conditional_expected_number_of_purchases_up_to_time(39.0, x, tx, t)
    assert _rel(same.conditional_expected_purchases(39.0, x, tx, t), want) < 1e-6
    assert _rel(same.p_alive(x, tx, t), theirs.conditional_probability_alive(x, tx, t)) < 1e-6


def test_bgbb_agrees_with_lifetimes(lifetimes):
    if not (DATA / "donations.csv").exists():
        pytest.skip("../shared/data is not available")
    d = pd.read_csv(DATA / "donations.csv")
    params = {"alpha": 1.2035, "beta": 0.7498, "gamma": 0.6568, "delta": 2.7839}
    theirs = lifetimes.BetaGeoBetaBinomFitter()
    theirs.params_ = pd.Series(params)
    same = custval.BetaGeoBetaBinom.from_dict(params)
    x, tx, n = d["frequency"], d["recency"], d["periods"]
    want = theirs.conditional_expected_number_of_purchases_up_to_time(5, x, tx, n)
    assert _rel(same.conditional_expected_purchases(5, x, tx, n), want) < 1e-6
    for m in (0, 3):
        want = theirs.conditional_probability_alive(m, x, tx, n)
        assert _rel(same.p_alive(x, tx, n, t=m), want) < 1e-6


def test_gamma_gamma_agrees_with_lifetimes(lifetimes, cdnow, gamma_gamma):
    repeat = cdnow[cdnow["frequency"] > 0]
    theirs = lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    names = {"p": "p", "q": "q", "gamma": "v"}
    ours = [gamma_gamma.params_[n] for n in names]
    assert _rel(ours, [theirs.params_[v] for v in names.values()]) < 1e-3
    same = custval.GammaGamma.from_dict(dict(theirs.params_))
    want = theirs.conditional_expected_average_profit(cdnow["frequency"], cdnow["monetary_value"])
    got = same.conditional_expected_spend(cdnow["frequency"], cdnow["monetary_value"])
    assert _rel(got, want) < 1e-6


# -- CLV and predict ---------------------------------------------------------------------------


def test_clv_matches_the_definition(bgnbd, gamma_gamma, cdnow):
    d, months = 0.01, 6
    clv = custval.customer_lifetime_value(
        bgnbd, gamma_gamma, cdnow, horizon=months, discount_rate=d, margin=0.3
    )
    assert isinstance(clv, pd.Series) and clv.name == "clv"
    assert clv.index.equals(cdnow.index)
    x, tx, t = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    spend = gamma_gamma.conditional_expected_spend(x, cdnow["monetary_value"])
    week_per_month = 365.25 / 12 / 7
    want = np.zeros(len(cdnow))
    before = np.zeros(len(cdnow))
    for i in range(1, months + 1):
        now = bgnbd.conditional_expected_purchases(i * week_per_month, x, tx, t)
        want += (now - before) * spend / (1 + d) ** i
        before = now
    np.testing.assert_allclose(clv.to_numpy(), 0.3 * want, rtol=1e-12)
    # Horizon in weeks without discounting: the expected purchases over the horizon × spend.
    weekly = custval.customer_lifetime_value(bgnbd, gamma_gamma, cdnow, horizon=4, horizon_unit="W")
    np.testing.assert_allclose(
        weekly, bgnbd.conditional_expected_purchases(4.0, x, tx, t) * spend, rtol=1e-12
    )


def test_clv_needs_a_time_unit(cdnow):
    model = custval.BetaGeo().fit(cdnow)
    assert model.time_unit_ is None
    with pytest.raises(custval.CustvalError, match="time unit"):
        custval.customer_lifetime_value(model, 10.0, cdnow)
    with pytest.raises(custval.CustvalError, match="horizon_unit"):
        custval.customer_lifetime_value(
            custval.BetaGeo.from_dict(CDNOW_BGNBD, time_unit="W"), 10.0, cdnow, horizon_unit="X"
        )


def test_predict_mirrors_the_input(cdnow_rfm):
    model = custval.BetaGeo().fit(cdnow_rfm)
    spend = custval.GammaGamma().fit(cdnow_rfm)
    frame = model.predict(cdnow_rfm, 39.0, spend_model=spend)
    assert list(frame.columns) == ["expected_purchases", "p_alive", "expected_spend", "clv"]
    assert frame.index.equals(cdnow_rfm.index)
    table = pa.Table.from_pandas(cdnow_rfm.reset_index())
    arrow = model.predict(table, 39.0, spend_model=spend, output="arrow")
    assert isinstance(arrow, pa.Table)
    assert arrow.column_names[0] == "customer_id"
    np.testing.assert_array_equal(arrow.column("clv").to_numpy(), frame["clv"].to_numpy())
    pl = pytest.importorskip("polars")
    polars_frame = model.predict(pl.from_pandas(cdnow_rfm.reset_index()), 39.0)
    assert isinstance(polars_frame, pl.DataFrame)
    np.testing.assert_array_equal(polars_frame["p_alive"].to_numpy(), frame["p_alive"].to_numpy())


def test_predictions_broadcast_and_stay_in_range(bgnbd):
    assert isinstance(bgnbd.p_alive(0, 0, 10.0), float)
    assert bgnbd.p_alive(0, 0, 10.0) == 1.0
    assert bgnbd.p_alive([1, 2], [5, 6], 10.0).shape == (2,)
    # Heavy buyers, recent and long gone: P(alive) stays in [0, 1], never NaN.
    x = np.array([50, 200, 500, 1000, 1000, 300])
    tx = np.array([38.9, 38.0, 10.0, 38.99, 1.0, 0.5])
    for model in (
        bgnbd,
        custval.ModifiedBetaGeo.from_dict(CDNOW_MBGNBD),
        custval.ParetoNBD.from_dict(CDNOW_PARETO),
    ):
        p = model.p_alive(x, tx, 39.0)
        assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all(), p
        later = model.p_alive(x, tx, 39.0, t=52.0)
        assert ((later >= 0) & (later <= p + 1e-12)).all()
        e = model.conditional_expected_purchases(10.0, x, tx, 39.0)
        assert np.isfinite(e).all() and (e >= 0).all()


# -- determinism, serialisation, contracts -----------------------------------------------------


def test_fit_is_identical_with_1_and_2_threads(cdnow):
    before = custval.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            custval.set_num_threads(threads)
            results.append(
                (
                    custval.BetaGeo().fit(cdnow).to_dict(),
                    custval.ParetoNBD().fit(cdnow).to_dict(),
                    custval.GammaGamma().fit(cdnow).to_dict(),
                )
            )
        assert results[0] == results[1]
    finally:
        custval.set_num_threads(before)


def test_degenerate_data_raise_convergence_error():
    nobody_repeats = {"frequency": np.zeros(500), "recency": np.zeros(500), "T": np.full(500, 30.0)}
    for model in (custval.BetaGeo(), custval.ParetoNBD(), custval.ModifiedBetaGeo()):
        with pytest.raises(custval.ConvergenceError):
            model.fit(None, **nobody_repeats)
    with pytest.raises(custval.ConvergenceError):
        custval.GammaGamma().fit(None, frequency=np.ones(100), monetary_value=np.full(100, 10.0))


def test_pickle_and_dict_round_trip(bgnbd, gamma_gamma):
    for model in (bgnbd, gamma_gamma):
        again = pickle.loads(pickle.dumps(model))
        assert again.params_ == model.params_
        assert again.to_dict() == model.to_dict()
        text = json.dumps(model.to_dict())
        back = type(model).from_dict(json.loads(text))
        assert back.to_dict() == model.to_dict()
    x, tx, t = [2, 0], [30.43, 0], [38.86, 38.86]
    back = custval.BetaGeo.from_dict(bgnbd.to_dict())
    assert back.time_unit_ == {"freq": "W", "freq_multiplier": 1.0}
    np.testing.assert_array_equal(
        back.conditional_expected_purchases(39, x, tx, t),
        bgnbd.conditional_expected_purchases(39, x, tx, t),
    )
    # Fader, Hardie & Lee (2005): x = 2, t_x = 30.43, T = 38.86 → 1.226 purchases in 39 weeks.
    assert custval.BetaGeo.from_dict(CDNOW_BGNBD).conditional_expected_purchases(
        39, 2, 30.43, 38.86
    ) == pytest.approx(1.226, abs=1e-3)
    v = custval.GammaGamma.from_dict({"p": 6.25, "q": 3.74, "v": 15.44})
    assert v.params_ == CDNOW_GG
    with pytest.raises(custval.CustvalError, match="missing"):
        custval.BetaGeo.from_dict({"r": 1.0})
    with pytest.raises(custval.CustvalError, match="not fitted"):
        custval.BetaGeo().p_alive(0, 0, 1)


def test_include_first_summaries_are_rejected(cdnow_sample):
    summary = custval.rfm_summary(
        cdnow_sample, amount="amount", observation_end="1997-09-30", include_first=True
    )
    with pytest.raises(custval.DataError, match="include_first"):
        custval.BetaGeo().fit(summary)
    with pytest.raises(custval.DataError, match="include_first"):
        custval.GammaGamma().fit(summary)
    with pytest.raises(custval.DataError, match="include_first"):
        custval.customer_lifetime_value(custval.BetaGeo.from_dict(CDNOW_BGNBD), 1.0, summary)


def test_input_contract_errors_name_column_and_rows(cdnow):
    bad = cdnow.copy()
    bad.iloc[:3, bad.columns.get_loc("recency")] = bad["T"].iloc[:3] + 1
    with pytest.raises(custval.DataError, match=r"'recency'.*\(3 rows\)"):
        custval.BetaGeo().fit(bad)
    bad = cdnow.copy()
    zero = bad.index[bad["frequency"] == 0][:2]
    bad.loc[zero, "recency"] = 1.0
    with pytest.raises(custval.DataError, match=r"recency must be 0.*\(2 rows\)"):
        custval.BetaGeo().fit(bad)
    bad = cdnow.copy()
    bad.iloc[:4, bad.columns.get_loc("T")] = np.nan
    with pytest.raises(custval.DataError, match=r"'T'.*NaN.*\(4 rows\)"):
        custval.ParetoNBD().fit(bad)
    bad = cdnow.copy()
    bad.iloc[:1, bad.columns.get_loc("frequency")] = -1
    with pytest.raises(custval.DataError, match=r"'frequency'.*negative"):
        custval.BetaGeo().fit(bad)
    with pytest.raises(custval.ColumnNotFoundError):
        custval.BetaGeo().fit(cdnow, recency="recent")


@pytest.mark.parametrize("cls", [custval.BetaGeo, custval.ModifiedBetaGeo, custval.ParetoNBD])
def test_p_alive_checks_the_contract_in_its_own_pass(cdnow, cls):
    # P(alive) leaves the contract to the native kernel; its errors read as the fit's do.
    model = cls.from_dict({"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4, "s": 0.6, "beta": 11.7})
    bad = cdnow.copy()
    bad.iloc[:3, bad.columns.get_loc("recency")] = bad["T"].iloc[:3] + 1
    with pytest.raises(custval.DataError, match=r"'recency'.*greater than 'T' \(3 rows\)"):
        model.p_alive(bad)
    bad = cdnow.copy()
    bad["frequency"] = bad["frequency"].astype(float)
    bad.iloc[:2, bad.columns.get_loc("frequency")] = 1.5
    with pytest.raises(custval.DataError, match=r"'frequency'.*non-integer.*\(2 rows\)"):
        model.p_alive(bad["frequency"], bad["recency"], bad["T"])
    zero = cdnow.index[cdnow["frequency"] == 0][:4]
    bad = cdnow.copy()
    bad.loc[zero, "recency"] = 1.0
    with pytest.raises(custval.DataError, match=r"recency must be 0.*\(4 rows\)"):
        model.p_alive(bad, t=10.0)
    assert np.isfinite(model.p_alive(cdnow)["p_alive"]).all()


def test_gamma_gamma_rejects_non_positive_spend(cdnow):
    bad = cdnow.copy()
    repeat = bad.index[bad["frequency"] > 0][:5]
    bad.loc[repeat, "monetary_value"] = 0.0
    with pytest.raises(custval.DataError, match=r"monetary_value.*\(5 rows\)"):
        custval.GammaGamma().fit(bad)
    # Non-positive spend of one-time buyers is irrelevant: they are left out.
    ok = cdnow.copy()
    ok.loc[ok["frequency"] == 0, "monetary_value"] = -1.0
    assert custval.GammaGamma().fit(ok).params_ == custval.GammaGamma().fit(cdnow).params_


# -- parameter recovery ----------------------------------------------------------------------

RECOVERY = [
    (custval.BetaGeo, datasets.simulate_bgnbd, "bgnbd"),
    (custval.ModifiedBetaGeo, datasets.simulate_mbgnbd, "mbgnbd"),
    (custval.ParetoNBD, datasets.simulate_pareto_nbd, "pareto_nbd"),
    (custval.BetaGeoBetaBinom, datasets.simulate_bgbb, "bgbb"),
    (custval.ShiftedBetaGeo, datasets.simulate_sbg, "sbg"),
    (custval.GammaGamma, datasets.simulate_gamma_gamma, "gamma_gamma"),
]


@pytest.mark.parametrize(("cls", "simulate", "key"), RECOVERY, ids=[r[2] for r in RECOVERY])
def test_parameter_recovery(cls, simulate, key):
    summary = simulate(100_000, seed=42)
    model = cls().fit(summary)
    for name, true in datasets.MODEL_PARAMS[key].items():
        estimate, se = model.params_[name], model.standard_errors_[name]
        assert abs(estimate - true) < 3 * se, (name, estimate, true, se)


@pytest.mark.parametrize(
    ("frequency", "problem"),
    [(np.nan, "NaN or null values"), (np.inf, "infinite values"), (-1.0, "negative values")],
)
def test_expected_spend_names_the_bad_frequency(frequency, problem):
    """The native pass finds the bad row; the Python check words it."""
    gg = custval.GammaGamma.from_dict({"p": 6.25, "q": 3.74, "gamma": 15.44})
    with pytest.raises(custval.DataError, match=f"column 'frequency': {problem} \\(1 rows\\)"):
        gg.conditional_expected_spend(np.array([1.0, frequency, 2.0]), np.array([2.0, 3.0, 4.0]))
