"""custval from several Python threads at once, and the size of its own pool."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import custval
import pandas as pd
import pytest
from custval.datasets import simulate_transactions


def _summary(log):
    return custval.rfm_summary(log, amount="amount", freq="W")


def _bgnbd(log):
    summary = custval.rfm_summary(log, freq="D", freq_multiplier=7)
    return pd.Series(custval.BetaGeo().fit(summary).params_)


# Eight different functions, each on its own log: every thread runs a different native kernel.
CALLS = {
    "summary": _summary,
    "holdout": lambda log: custval.calibration_holdout(
        log, calibration_end="2021-06-30", observation_end="2021-12-31", amount="amount"
    ),
    "kpis": lambda log: pd.Series(custval.kpis(log, amount="amount").__dict__),
    "retention": lambda log: custval.retention(log, amount="amount", freq="M"),
    "cohorts": lambda log: custval.cohorts(log, freq="M", value="revenue", amount="amount"),
    "segments": lambda log: custval.rfm_segments(log, amount="amount"),
    "bgnbd": _bgnbd,
    "gamma_gamma": lambda log: pd.Series(
        custval.GammaGamma().fit(custval.rfm_summary(log, amount="amount")).params_
    ),
}


@pytest.fixture(scope="module")
def logs():
    return {
        name: simulate_transactions(3_000, seed=seed, start="2020-01-01", end="2021-12-31")
        for seed, name in enumerate(CALLS)
    }


def _same(a, b) -> bool:
    return a.equals(b) if hasattr(a, "equals") else a == b


def test_eight_threads_at_once_give_the_sequential_results(logs):
    sequential = {name: call(logs[name]) for name, call in CALLS.items()}
    with ThreadPoolExecutor(max_workers=8) as pool:
        # Twice each, so calls overlap while the first ones are still running.
        futures = [(name, pool.submit(call, logs[name])) for name, call in CALLS.items()]
        futures += [(name, pool.submit(call, logs[name])) for name, call in CALLS.items()]
        for name, future in futures:
            assert _same(future.result(), sequential[name]), name


def test_set_num_threads_resizes_the_pool_and_keeps_results():
    log = simulate_transactions(2_000, seed=3)
    before = custval.get_num_threads()
    try:
        custval.set_num_threads(1)
        assert custval.get_num_threads() == 1
        one = _summary(log)
        custval.set_num_threads(2)
        assert custval.get_num_threads() == 2
        assert _summary(log).equals(one)
    finally:
        custval.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", None, True])
def test_set_num_threads_rejects_what_is_not_a_positive_whole_number(bad):
    with pytest.raises(custval.ArgumentError, match="n must be"):
        custval.set_num_threads(bad)


def test_rayon_num_threads_sizes_the_pool_and_its_threads():
    # In a fresh interpreter: the pool is sized once, at the first native call.
    child = textwrap.dedent(
        """
        import os, time, custval
        from custval.datasets import simulate_transactions
        custval.rfm_summary(simulate_transactions(500, seed=1))

        def pool_threads():
            names = []
            for task in os.listdir("/proc/self/task"):
                with open(f"/proc/self/task/{task}/comm") as f:
                    names.append(f.read().strip())
            return sum(n.startswith("custval-") for n in names)

        # A new thread names itself once it first runs: give a busy machine a moment.
        for _ in range(40):
            if pool_threads() >= custval.get_num_threads():
                break
            time.sleep(0.05)
        print(custval.get_num_threads(), pool_threads())
        """
    )
    env = {**os.environ, "RAYON_NUM_THREADS": "3"}
    out = subprocess.run(
        [sys.executable, "-c", child], env=env, capture_output=True, text=True, check=True
    )
    reported, running = out.stdout.split()
    assert reported == "3"
    if sys.platform.startswith("linux"):
        assert running == "3"
