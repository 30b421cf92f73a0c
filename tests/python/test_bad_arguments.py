"""Every public function, fed bad arguments, raises a custval exception (never a bare
ValueError/TypeError or a pyarrow/pandas/NumPy one) and says what is wrong."""

from __future__ import annotations

import custval
import numpy as np
import pandas as pd
import pytest
from custval.datasets import simulate_transactions

LOG = simulate_transactions(300, seed=5, start="2020-01-01", end="2021-12-31")
SUMMARY = custval.rfm_summary(LOG, amount="amount")
HOLDOUT = custval.calibration_holdout(
    LOG, calibration_end="2021-06-30", observation_end="2021-12-31", amount="amount"
)
BGNBD = custval.BetaGeo().fit(custval.rfm_summary(LOG))
SPEND = custval.GammaGamma().fit(SUMMARY)
MIXED = LOG.assign(customer_id=LOG["customer_id"].astype(object).where(LOG.index % 7 > 0, "x"))
DUPLICATED = pd.concat([LOG, LOG[["customer_id"]]], axis=1)
FRACTIONAL = LOG.assign(customer_id=LOG["customer_id"] + 0.5)
SCORES = pd.DataFrame({"score": [1, 9, 10, 5]})

# (what, call): each call is one bad argument of one public function.
CASES = {
    "summary: a number as data": lambda: custval.rfm_summary(5),
    "summary: None as data": lambda: custval.rfm_summary(None),
    "summary: a list as data": lambda: custval.rfm_summary([1, 2, 3]),
    "summary: a missing file": lambda: custval.rfm_summary("no/such/file.parquet"),
    "summary: freq_multiplier=0": lambda: custval.rfm_summary(LOG, freq_multiplier=0),
    "summary: freq_multiplier text": lambda: custval.rfm_summary(LOG, freq_multiplier="7"),
    "summary: unknown freq": lambda: custval.rfm_summary(LOG, freq="fortnight"),
    "summary: freq=None": lambda: custval.rfm_summary(LOG, freq=None),
    "summary: money=int": lambda: custval.rfm_summary(LOG, amount="amount", money="int"),
    "summary: scale=-1": lambda: custval.rfm_summary(LOG, amount="amount", scale=-1),
    "summary: scale text": lambda: custval.rfm_summary(LOG, amount="amount", scale="2"),
    "summary: output=excel": lambda: custval.rfm_summary(LOG, output="excel"),
    "summary: bad observation_end": lambda: custval.rfm_summary(LOG, observation_end="soon"),
    "summary: column missing": lambda: custval.rfm_summary(LOG, customer="CustomerID"),
    "summary: column name not text": lambda: custval.rfm_summary(LOG, customer=3),
    "summary: ids mixing int and str": lambda: custval.rfm_summary(MIXED),
    "summary: duplicate column": lambda: custval.rfm_summary(DUPLICATED),
    "summary: fractional float ids": lambda: custval.rfm_summary(FRACTIONAL),
    "summary: amounts as dates": lambda: custval.rfm_summary(LOG, amount="timestamp"),
    "summary: dict of ragged arrays": lambda: custval.rfm_summary(
        {"customer_id": np.arange(3), "timestamp": np.array(["2020-01-01"], "datetime64[ns]")}
    ),
    "holdout: calibration_end after end": lambda: custval.calibration_holdout(
        LOG, calibration_end="2022-06-30", observation_end="2021-12-31"
    ),
    "holdout: calibration_end not a date": lambda: custval.calibration_holdout(
        LOG, calibration_end=[1]
    ),
    "kpis: margin and cost": lambda: custval.kpis(LOG, amount="amount", margin=0.3, cost="amount"),
    "kpis: margin text": lambda: custval.kpis(LOG, amount="amount", margin="high"),
    "kpis: bad start": lambda: custval.kpis(LOG, start="yesterday-ish"),
    "retention: active_window=0": lambda: custval.retention(LOG, active_window=0),
    "retention: active_window=1.5": lambda: custval.retention(LOG, active_window=1.5),
    "retention: freq=X": lambda: custval.retention(LOG, freq="X"),
    "cohorts: value=bogus": lambda: custval.cohorts(LOG, value="bogus"),
    "cohorts: revenue without amount": lambda: custval.cohorts(LOG, value="revenue"),
    "segments: bins=0": lambda: custval.rfm_segments(LOG, bins=0),
    "segments: bins=3 with default rules": lambda: custval.rfm_segments(LOG, bins=3),
    "segment_summary: a number": lambda: custval.segment_summary(5),
    "concentration: by=x": lambda: custval.value_concentration(LOG, amount="amount", by="x"),
    "concentration: points=1": lambda: custval.value_concentration(LOG, amount="amount", points=1),
    "nps: no default cutoffs": lambda: custval.nps(SCORES, score="score", scale=(0, 3)),
    "nps: score missing": lambda: custval.nps(SCORES),
    "nps: a number": lambda: custval.nps(5),
    "simple_clv: churn and lifespan": lambda: custval.simple_clv(
        aov=1, purchase_frequency=1, churn_rate=0.1, lifespan=3
    ),
    "simple_clv: churn_rate=0": lambda: custval.simple_clv(
        aov=1, purchase_frequency=1, churn_rate=0
    ),
    "simple_clv: aov text": lambda: custval.simple_clv(
        aov="lots", purchase_frequency=1, churn_rate=0.1
    ),
    "cac: no new customers": lambda: custval.cac(100, 0),
    "clv_to_cac: cac=0": lambda: custval.clv_to_cac(100, 0),
    "retention_cost: text": lambda: custval.retention_cost("a", 3),
    "unit_economics: no amount": lambda: custval.unit_economics(LOG, acquisition_spend=10),
    "fit: a number": lambda: custval.BetaGeo().fit(5),
    "fit: negative penalizer": lambda: custval.BetaGeo().fit(SUMMARY, penalizer=-1),
    "fit: recency above T": lambda: custval.BetaGeo().fit(frequency=[1], recency=[5.0], T=[2.0]),
    "fit: text columns": lambda: custval.ParetoNBD().fit(frequency=["a"], recency=[1.0], T=[2.0]),
    "fit: bad time_unit": lambda: custval.BetaGeo().fit(SUMMARY, time_unit=5),
    "predict before fit": lambda: custval.BetaGeo().p_alive(SUMMARY),
    "gamma-gamma: weights text": lambda: custval.GammaGamma().fit(SUMMARY, weights="w"),
    "sbg: a string": lambda: custval.ShiftedBetaGeo().fit("x"),
    "bgbb: negative frequency": lambda: custval.BetaGeoBetaBinom().fit(
        frequency=[-1], recency=[1], T=[2]
    ),
    "clv: a number as model": lambda: custval.customer_lifetime_value(5, None, SUMMARY),
    "clv: horizon=-1": lambda: custval.customer_lifetime_value(BGNBD, SPEND, SUMMARY, horizon=-1),
    "clv: horizon_unit=fortnight": lambda: custval.customer_lifetime_value(
        BGNBD, SPEND, SUMMARY, horizon_unit="fortnight"
    ),
    "clv: spend model text": lambda: custval.customer_lifetime_value(BGNBD, "x", SUMMARY),
    "evaluate: not a model": lambda: custval.evaluate(5, HOLDOUT),
    "evaluate: a summary, not a holdout": lambda: custval.evaluate(BGNBD, SUMMARY),
    "compare_models: not models": lambda: custval.compare_models([1, 2], HOLDOUT),
    "at_risk: p_alive_below=2": lambda: custval.at_risk(BGNBD, SUMMARY, p_alive_below=2),
    "at_risk: top_value_share=0": lambda: custval.at_risk(BGNBD, SUMMARY, top_value_share=0),
    "tracking: t=-1": lambda: custval.expected_cumulative_transactions(BGNBD, LOG, t=-1),
    "alive_history: unknown customer": lambda: custval.alive_history(
        BGNBD, LOG, customer_id=-12345
    ),
    "set_num_threads: 0": lambda: custval.set_num_threads(0),
    "simulate: n_customers=-1": lambda: custval.datasets.simulate_transactions(-1),
    "simulate: output=excel": lambda: custval.datasets.simulate_transactions(3, output="excel"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_argument_raises_a_custval_error(case):
    with pytest.raises(Exception) as caught:  # noqa: B017 - the type is the assertion
        CASES[case]()
    assert isinstance(caught.value, custval.CustvalError), (
        f"{case}: {type(caught.value).__module__}.{type(caught.value).__name__}: {caught.value}"
    )
    assert str(caught.value), case
