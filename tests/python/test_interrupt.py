"""Ctrl-C during a long native call: ``KeyboardInterrupt`` reaches the caller within a second,
custval's threads stop working, and the next call works. Each case runs in a subprocess that
receives a real SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGINT to a subprocess")

# The child builds a log big enough that each call takes a while (10M rows out of order: 0.5 to
# 4 s depending on the machine; a Pareto/NBD fit on 1M customers: a few seconds), times one
# uninterrupted run, says "ready <seconds>", starts the call again and reports what happened. The
# parent sends SIGINT a third of the way into the second run, so the signal lands inside the
# native call however fast the machine is.
CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    import numpy as np, pyarrow as pa
    import custval

    def busy_custval_threads():
        # custval's pool threads that kept working over 0.3 s: used more than 0.1 s of CPU
        # (utime + stime in /proc, in clock ticks). A pool thread going idle may still be
        # charged a tick or two on a loaded machine (rayon spins briefly before it sleeps);
        # one left computing is charged nearly the whole 0.3 s.
        def ticks():
            out = {}
            for task in os.listdir("/proc/self/task"):
                try:
                    with open(f"/proc/self/task/{task}/comm") as f:
                        name = f.read().strip()
                    with open(f"/proc/self/task/{task}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except FileNotFoundError:
                    continue
                if name.startswith("custval-"):
                    out[task] = int(fields[11]) + int(fields[12])
            return out
        before = ticks()
        time.sleep(0.3)
        after = ticks()
        tick = os.sysconf("SC_CLK_TCK")
        return sorted(
            t for t in after if after[t] - before.get(t, after[t]) > 0.1 * tick
        )

    rng = np.random.default_rng(0)
    n = int(sys.argv[2])
    times = rng.integers(1_500_000_000, 1_600_000_000, n) * 10**9
    log = pa.table({
        "customer_id": rng.integers(0, n // 10, n),
        "timestamp": pa.array(times.astype("datetime64[ns]")),
        "amount": rng.integers(1, 100, n),
    })
    small = log.slice(0, 1000)
    expected = custval.rfm_summary(small, amount="amount")
    calls = {
        "retention": lambda: custval.retention(log, amount="amount", freq="D"),
        "rfm_summary": lambda: custval.rfm_summary(log, amount="amount"),
        "cohorts": lambda: custval.cohorts(log, freq="D"),
    }
    if sys.argv[1] == "pareto_nbd_fit":
        # 1M customers with continuous recency: about 8 s of likelihood evaluations.
        from custval.datasets import simulate_bgnbd
        history = simulate_bgnbd(1_000_000, T=52, seed=1)
        calls["pareto_nbd_fit"] = lambda: custval.ParetoNBD().fit(history)
    call = calls[sys.argv[1]]
    clock = time.perf_counter()
    call()
    print("ready", time.perf_counter() - clock, flush=True)
    started = time.time()
    try:
        call()
        outcome = "finished"
    except KeyboardInterrupt:
        outcome = "interrupted"
    caught = time.time()
    busy = busy_custval_threads()
    again = custval.rfm_summary(small, amount="amount").equals(expected)
    print(json.dumps({"outcome": outcome, "started": started, "caught": caught,
                      "busy": busy, "next_call_works": again}), flush=True)
    """
)


def _interrupt(call: str, rows: int, fraction: float) -> tuple[dict, float]:
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, call, str(rows)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "RAYON_NUM_THREADS": "2"},
    ) as child:
        try:
            word, seconds = child.stdout.readline().split()
            assert word == "ready"
            time.sleep(float(seconds) * fraction)
            sent = time.time()
            child.send_signal(signal.SIGINT)
            report = json.loads(child.stdout.readline())
        finally:
            if child.poll() is None:
                child.kill()
    return report, sent


@pytest.mark.parametrize("call", ["retention", "rfm_summary", "cohorts", "pareto_nbd_fit"])
def test_ctrl_c_stops_a_long_native_call_within_a_second(call):
    report, sent = _interrupt(call, rows=10_000_000, fraction=1 / 3)
    assert report["outcome"] == "interrupted", report
    assert report["caught"] - sent < 1.0, report
    assert report["busy"] == [], report
    assert report["next_call_works"], report
