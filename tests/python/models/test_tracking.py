"""Tracking a model against the log: expected cumulative transactions and alive histories
(against lifetimes on CDNOW), and P(alive at T + t) (against numerical integration and a
simulation of the models)."""

from __future__ import annotations

import custval
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reference import CDNOW_BGNBD, CDNOW_MBGNBD, CDNOW_PARETO
from scipy import integrate, stats


@pytest.fixture(scope="module")
def weekly(cdnow_sample):
    """BG/NBD fitted on the CDNOW calibration period, in weeks counted in days."""
    summary = custval.rfm_summary(
        cdnow_sample, observation_end="1997-09-30", freq="D", freq_multiplier=7
    )
    return custval.BetaGeo().fit(summary)


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _lifetimes_twin(lifetimes, model):
    twin = lifetimes.BetaGeoFitter()
    twin.params_ = pd.Series(model.params_)
    return twin


# -- expected_cumulative_transactions ---------------------------------------------------------


def test_tracking_agrees_with_lifetimes(lifetimes, cdnow_sample, weekly):
    """Same rows as lifetimes' expected_cumulative_transactions(t=546, freq="D",
    freq_multiplier=7) with lifetimes' BG/NBD given custval's parameters: predicted to 1e-6
    relative, actual exactly. Conventions that differ: lifetimes labels rows 0, 1, …, custval
    by the start of each row's last period (lifetimes' ``set_index_date`` labels), and adds the
    incremental columns."""
    from lifetimes.utils import expected_cumulative_transactions as theirs

    want = theirs(
        _lifetimes_twin(lifetimes, weekly),
        cdnow_sample,
        "timestamp",
        "customer_id",
        t=546,
        freq="D",
        freq_multiplier=7,
    )
    got = custval.expected_cumulative_transactions(
        weekly, cdnow_sample, t=546, freq="D", freq_multiplier=7
    )
    assert len(got) == len(want) == 78
    assert _rel(got["predicted"], want["predicted"]) < 1e-6
    assert got["actual"].tolist() == want["actual"].tolist()
    assert got["actual_incremental"].tolist() == np.diff(want["actual"], prepend=0).tolist()
    assert _rel(got["predicted_incremental"].cumsum(), want["predicted"]) < 1e-9
    # Row k covers days 0 .. 7(k + 1) − 1 from 1997-01-01.
    days = pd.date_range("1997-01-07", periods=78, freq="7D")
    assert (got.index == days).all() and got.index.name == "period"


def test_tracking_rows_past_the_data_have_no_actual(lifetimes, cdnow_sample, weekly):
    """lifetimes reports repeat purchases up to its last row even when the row reaches past
    the data (counting the unobserved days as no purchases); custval leaves such rows' actual
    null, as cohort cells not yet observable. Predictions continue."""
    from lifetimes.utils import expected_cumulative_transactions as theirs

    want = theirs(
        _lifetimes_twin(lifetimes, weekly),
        cdnow_sample,
        "timestamp",
        "customer_id",
        t=560,
        freq="D",
        freq_multiplier=7,
    )
    got = custval.expected_cumulative_transactions(
        weekly, cdnow_sample, t=560, freq="D", freq_multiplier=7, output="arrow"
    )
    assert got.num_rows == len(want) == 80
    actual = got.column("actual").to_pylist()
    assert actual[:78] == want["actual"][:78].tolist()
    assert actual[78:] == [None, None] and want["actual"].iloc[-1] == actual[77]
    assert _rel(got.column("predicted"), want["predicted"]) < 1e-6


def test_tracking_observation_end_and_output_kinds(cdnow_sample, weekly):
    full = custval.expected_cumulative_transactions(
        weekly, cdnow_sample, t=546, freq="D", freq_multiplier=7
    )
    cut = custval.expected_cumulative_transactions(
        weekly,
        pl.from_pandas(cdnow_sample[["customer_id", "timestamp"]]),
        t=546,
        freq="D",
        freq_multiplier=7,
        observation_end="1997-09-30",
    )
    assert isinstance(cut, pl.DataFrame) and cut.columns[0] == "period"
    # CDNOW's customers all entered in the first quarter: the same predictions; actual known
    # through the row ending 1997-09-29 (day 272), the last before observation_end.
    assert _rel(cut["predicted"].to_numpy(), full["predicted"]) < 1e-12
    known = cut["actual"].drop_nulls().to_list()
    assert len(known) == 39 and known == full["actual"].tolist()[:39]
    # A model in weeks (freq "W") tracks daily periods the same way as one in 7-day units.
    in_weeks = custval.BetaGeo.from_dict(weekly.params_, time_unit="W")
    again = custval.expected_cumulative_transactions(
        in_weeks, cdnow_sample, t=546, freq="D", freq_multiplier=7
    )
    assert _rel(again["predicted"], full["predicted"]) < 1e-12
    # Weekly rows of a weekly tracking: one row per week of the log.
    weeks = custval.expected_cumulative_transactions(in_weeks, cdnow_sample, t=10, freq="W")
    assert len(weeks) == 10 and weeks["actual"].iloc[-1] > 0


def test_tracking_reads_files_and_string_ids(tmp_path, cdnow_sample, weekly):
    """A Parquet log is streamed batch by batch (any row order) with the same result."""
    want = custval.expected_cumulative_transactions(
        weekly, cdnow_sample, t=546, freq="D", freq_multiplier=7
    )
    shuffled = cdnow_sample.sample(frac=1.0, random_state=1)
    shuffled = shuffled.assign(customer_id="c" + shuffled["customer_id"].astype(str))
    path = tmp_path / "log.parquet"
    pq.write_table(
        pa.Table.from_pandas(shuffled[["customer_id", "timestamp"]], preserve_index=False),
        path,
        row_group_size=1000,
    )
    got = custval.expected_cumulative_transactions(
        weekly, str(path), t=546, freq="D", freq_multiplier=7
    )
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_like=False)


def test_tracking_matches_a_per_customer_sum():
    """Σ over customers of E[X(row end − entry)] and the repeat purchase periods, by brute
    force on a small log with same-day repeats and customers entering late."""
    log = custval.datasets.simulate_transactions(300, seed=5, start="2024-01-01", end="2024-03-31")
    model = custval.ParetoNBD.from_dict(CDNOW_PARETO, time_unit="D")
    got = custval.expected_cumulative_transactions(
        model, log, t=125, freq="D", freq_multiplier=10, observation_end="2024-03-31"
    )
    assert len(got) == 12 and got["actual"].isna().tolist() == [False] * 9 + [True] * 3
    day = (log["timestamp"].dt.normalize() - pd.Timestamp("2024-01-01")).dt.days
    days = pd.DataFrame({"c": log["customer_id"], "d": day}).drop_duplicates()
    entry = days.groupby("c")["d"].min()
    for k in range(12):
        end = 10 * (k + 1)
        ages = end - entry[entry < end].to_numpy()
        assert got["predicted"].iloc[k] == pytest.approx(
            model.expected_purchases(ages.astype(float)).sum(), rel=1e-12
        )
        if k < 9:
            repeats = (days["d"] < end).sum() - (entry < end).sum()
            assert got["actual"].iloc[k] == repeats


def test_tracking_bad_input(cdnow_sample, weekly):
    log = cdnow_sample
    no_unit = custval.BetaGeo.from_dict(CDNOW_BGNBD)
    with pytest.raises(custval.CustvalError, match="time unit is unknown"):
        custval.expected_cumulative_transactions(no_unit, log, t=10)
    with pytest.raises(custval.CustvalError, match="does not convert exactly"):
        custval.expected_cumulative_transactions(weekly, log, t=10, freq="M")
    with pytest.raises(custval.CustvalError, match="unknown freq"):
        custval.expected_cumulative_transactions(weekly, log, t=10, freq="min")
    spend = custval.GammaGamma.from_dict({"p": 6.25, "q": 3.74, "gamma": 15.44})
    with pytest.raises(custval.CustvalError, match="needs a purchase model"):
        custval.expected_cumulative_transactions(spend, log, t=10)
    with pytest.raises(custval.CustvalError, match="not fitted"):
        custval.expected_cumulative_transactions(custval.BetaGeo(), log, t=10)
    with pytest.raises(ValueError, match="freq_multiplier"):
        custval.expected_cumulative_transactions(weekly, log, t=10, freq_multiplier=1.5)
    with pytest.raises(ValueError, match="t must be"):
        custval.expected_cumulative_transactions(weekly, log, t=-1)
    with pytest.raises(custval.ColumnNotFoundError):
        custval.expected_cumulative_transactions(weekly, log, t=10, customer="nope")
    empty = custval.expected_cumulative_transactions(weekly, log, t=3, freq_multiplier=7)
    assert len(empty) == 0


# -- alive_history ----------------------------------------------------------------------------


def _lifetimes_alive_path(lifetimes, monkeypatch, model, rows, t):
    """lifetimes' calculate_alive_path, run as it is: lifetimes 0.11.3 calls
    ``Series.fillna(method="ffill")``, which pandas 3 removed, so that call is routed to
    ``ffill`` (the same operation)."""
    from lifetimes.utils import calculate_alive_path

    fillna = pd.Series.fillna

    def old_fillna(self, value=None, *, method=None, **kwargs):
        return self.ffill() if method == "ffill" else fillna(self, value, **kwargs)

    monkeypatch.setattr(pd.Series, "fillna", old_fillna)
    try:
        path = calculate_alive_path(_lifetimes_twin(lifetimes, model), rows, "timestamp", t)
    finally:
        monkeypatch.undo()
    return np.array([float(np.squeeze(p)) for p in path])  # one 1-element array per period


@pytest.mark.parametrize("customer_id", [1, 2, 18, 45, 112])
def test_alive_history_agrees_with_lifetimes(lifetimes, monkeypatch, cdnow_sample, customer_id):
    """lifetimes' calculate_alive_path + conditional_probability_alive of a model in days (its
    path counts T in periods of ``freq``), for 546 days after the first purchase."""
    daily = custval.BetaGeo.from_dict(CDNOW_BGNBD, time_unit="D")
    rows = cdnow_sample[cdnow_sample["customer_id"] == customer_id]
    want = _lifetimes_alive_path(lifetimes, monkeypatch, daily, rows, 546)
    got = custval.alive_history(daily, cdnow_sample, customer_id=customer_id, t=546)
    assert len(got) == len(want) == 547
    assert _rel(got["p_alive"], want) < 1e-9
    first = rows["timestamp"].min()
    assert got.index[0] == first and got.index[-1] == first + pd.Timedelta(days=546)


def test_alive_history_is_the_summary_at_each_period(cdnow_sample, weekly):
    """Row k equals P(alive) of the customer's rfm_summary with observation ending k days
    after the first purchase (a model in weeks, tracked in days)."""
    path = custval.alive_history(weekly, cdnow_sample, customer_id=18, output="polars")
    assert isinstance(path, pl.DataFrame)
    assert path.columns == ["period", "frequency", "recency", "T", "p_alive"]
    # Up to the log's last transaction by default.
    assert path["period"][-1] == pd.Timestamp("1998-06-30")
    for k in (0, 3, 40, 200, len(path) - 1):
        end = path["period"][k]
        summary = custval.rfm_summary(
            cdnow_sample, observation_end=end, freq="D", freq_multiplier=7
        ).loc[[18]]
        assert path["frequency"][k] == summary["frequency"].iloc[0]
        assert path["T"][k] == pytest.approx(summary["T"].iloc[0], rel=1e-15)
        assert path["p_alive"][k] == pytest.approx(weekly.p_alive(summary)["p_alive"].iloc[0])
    cut = custval.alive_history(weekly, cdnow_sample, customer_id=18, observation_end="1997-09-30")
    assert cut.index[-1] == pd.Timestamp("1997-09-30")
    assert cut["p_alive"].tolist() == path["p_alive"].to_list()[: len(cut)]
    weekly_rows = custval.alive_history(
        weekly, cdnow_sample, customer_id=18, freq="D", freq_multiplier=7, t=70
    )
    assert weekly_rows["T"].to_numpy() == pytest.approx(np.arange(11.0), rel=1e-15)


def test_alive_history_bad_input(cdnow_sample, weekly):
    with pytest.raises(custval.CustvalError, match="no transactions"):
        custval.alive_history(weekly, cdnow_sample, customer_id=10**9)
    with pytest.raises(custval.CustvalError, match="no transactions up to observation_end"):
        custval.alive_history(weekly, cdnow_sample, customer_id=18, observation_end="1996-01-01")
    with pytest.raises(custval.CustvalError, match="does not compare"):
        custval.alive_history(weekly, cdnow_sample, customer_id="18")


# -- P(alive at T + t) ------------------------------------------------------------------------

MODELS = {
    "bgnbd": (custval.BetaGeo, CDNOW_BGNBD),
    "mbgnbd": (custval.ModifiedBetaGeo, CDNOW_MBGNBD),
    "pareto_nbd": (custval.ParetoNBD, CDNOW_PARETO),
}


@pytest.mark.parametrize("name", MODELS)
def test_p_alive_takes_a_summary_and_decays(lifetimes, name):
    cls, params = MODELS[name]
    model = cls.from_dict(params, time_unit="W")
    summary = custval.datasets.simulate_bgnbd(5_000, seed=9)
    summary.index = pd.Index(np.arange(5_000) * 3, name="customer_id")
    x, tx, t = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    now = model.p_alive(summary)
    assert list(now.columns) == ["p_alive"] and (now.index == summary.index).all()
    assert (now["p_alive"].to_numpy() == model.p_alive(x, tx, t)).all()
    if name == "bgnbd":
        twin = _lifetimes_twin(lifetimes, model)
        assert _rel(now["p_alive"], twin.conditional_probability_alive(x, tx, t)) < 1e-12
    before = now["p_alive"].to_numpy()
    for horizon in (1.0, 13.0, 52.0, 520.0):
        later = model.p_alive(summary, t=horizon)["p_alive"].to_numpy()
        assert (later < before).all() and (later > 0).all()
        before = later
    arrow = model.p_alive(pa.Table.from_pandas(summary), t=5.0)
    assert arrow.column_names == ["customer_id", "p_alive"]
    assert arrow.column("p_alive").to_numpy().tolist() == model.p_alive(x, tx, t, t=5.0).tolist()
    assert model.p_alive(2, 30.0, 39.0, t=5.0) == model.p_alive([2], [30.0], [39.0], t=5.0)[0]
    with pytest.raises(custval.ArgumentError, match="pass a summary"):
        model.p_alive(x, tx)
    with pytest.raises(ValueError, match="t must be"):
        model.p_alive(summary, t=-1.0)


def _survival_integral(name: str, params: dict, x: float, big_t: float, t: float) -> float:
    """P(alive at T + t | alive at T, x) by numerical integration over the posterior."""
    if name == "pareto_nbd":
        death = stats.gamma(params["s"], scale=1 / (params["beta"] + big_t))
        return integrate.quad(lambda mu: death.pdf(mu) * np.exp(-mu * t), 0, np.inf)[0]
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    drop = stats.beta(a, b + x + (name == "mbgnbd"))
    # λ integrated out: E[exp(−λpt)] over λ ~ Gamma(r + x, α + T) = (1 + pt/(α+T))^−(r+x).
    return integrate.quad(
        lambda p: drop.pdf(p) * (1 + p * t / (alpha + big_t)) ** -(r + x), 0, 1, limit=200
    )[0]


@pytest.mark.parametrize("name", MODELS)
def test_p_alive_later_is_the_integral_over_the_posterior(name):
    cls, params = MODELS[name]
    model = cls.from_dict(params)
    for x, tx, big_t, t in [(0, 0.0, 39.0, 10.0), (2, 30.0, 39.0, 52.0), (7, 70.0, 78.0, 260.0)]:
        ratio = model.p_alive(x, tx, big_t, t=t) / model.p_alive(x, tx, big_t)
        assert ratio == pytest.approx(_survival_integral(name, params, x, big_t, t), rel=1e-8)


def _simulate(name: str, params: dict, n: int, big_t: float, horizon: float, seed: int):
    """(x, t_x, death time) of ``n`` customers drawn from the model, observed over (0, T]."""
    rng = np.random.default_rng(seed)
    if name == "pareto_nbd":
        lam = rng.gamma(params["r"], 1 / params["alpha"], n)
        death = rng.exponential(1 / rng.gamma(params["s"], 1 / params["beta"], n))
        seen = np.minimum(death, big_t)
        x = rng.poisson(lam * seen).astype(float)
        tx = np.where(x > 0, seen * rng.random(n) ** (1 / np.maximum(x, 1)), 0.0)
        return x, tx, death
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    death = np.full(n, np.inf)
    if name == "mbgnbd":  # dropout is possible right after the first purchase too
        death[rng.random(n) < p] = 0.0
    x, tx, now = np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.flatnonzero(np.isinf(death))
    while active.size:
        now[active] += rng.exponential(1 / lam[active])
        beyond = now[active] > big_t + horizon
        active = active[~beyond]
        observed = active[now[active] <= big_t]
        x[observed] += 1
        tx[observed] = now[observed]
        drops = rng.random(active.size) < p[active]
        death[active[drops]] = now[active[drops]]
        active = active[~drops]
    return x, tx, death


@pytest.mark.parametrize("name", MODELS)
def test_p_alive_later_matches_a_simulation(name):
    """Among simulated customers of a history class, the share alive at T + t matches the mean
    of the model's P(alive at T + t | history) within 4.5 standard errors."""
    cls, params = MODELS[name]
    model = cls.from_dict(params)
    big_t, n = 39.0, 300_000
    x, tx, death = _simulate(name, params, n, big_t, 104.0, seed=17)
    classes = {"x = 0": x == 0, "x = 1..2": (x >= 1) & (x <= 2), "x ≥ 3": x >= 3}
    for t in (0.0, 13.0, 52.0, 104.0):
        predicted = model.p_alive(x, tx, np.full(n, big_t), t=t)
        alive = death > big_t + t
        for label, members in classes.items():
            p = predicted[members]
            error = np.sqrt(np.sum(p * (1 - p))) / p.size
            assert abs(alive[members].mean() - p.mean()) < 4.5 * error + 1e-9, (label, t)
