"""BTYD model fits and predictions: custval vs lifetimes, in one run on the same data.

Run: python benches/bench_models.py [--customers 1000000] [--pareto 100000]
                                    [--spend 900000] [--skip-lifetimes]

Data: ``custval.rfm_summary`` (daily periods, time in weeks) of a log simulated from the BG/NBD
process (``custval.datasets.simulate_transactions``), so rows compress as real daily data do;
Gamma-Gamma runs on a simulated spend summary of ``--spend`` repeat customers. Prints seconds,
the ratio lifetimes / custval, and the unique-row compression of each summary. Absolute seconds
on shared machines are noise; the ratios are the point.
"""

from __future__ import annotations

import argparse
import time
import warnings

import custval
import numpy as np
from custval import datasets


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def summary_of(customers: int, seed: int):
    log = datasets.simulate_transactions(customers, seed=seed, output="arrow")
    seconds, summary = timed(
        custval.rfm_summary, log, amount="amount", freq="D", freq_multiplier=7, output="pandas"
    )
    unique = len(summary[["frequency", "recency", "T"]].drop_duplicates())
    print(
        f"summary of {customers:,} customers ({log.num_rows:,} rows) in {seconds:.2f} s: "
        f"{unique:,} unique (frequency, recency, T) rows ({unique / len(summary):.1%})"
    )
    return summary


def import_lifetimes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes

    return lifetimes


ROWS: list[tuple[str, float, float | None]] = []


def report(task: str, ours: float, theirs: float | None) -> None:
    ROWS.append((task, ours, theirs))
    ratio = f"{theirs / ours:8.1f}x" if theirs is not None else "       -"
    theirs_text = f"{theirs:10.2f}" if theirs is not None else "         -"
    print(f"{task:<44} {ours:9.3f} {theirs_text} {ratio}", flush=True)


def max_rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--pareto", type=int, default=100_000)
    parser.add_argument("--spend", type=int, default=900_000)
    parser.add_argument("--skip-lifetimes", action="store_true")
    args = parser.parse_args()
    lifetimes = None if args.skip_lifetimes else import_lifetimes()
    print(f"custval {custval.__version__}, {custval.get_num_threads()} threads")

    big = summary_of(args.customers, seed=0)
    small = summary_of(args.pareto, seed=1)
    spend = datasets.simulate_gamma_gamma(args.spend, seed=2)
    x, tx, t = (big[c].to_numpy() for c in ("frequency", "recency", "T"))

    print(f"\n{'task':<44} {'custval s':>9} {'lifetimes s':>10} {'ratio':>9}")
    warnings.simplefilter("ignore")  # lifetimes' and pandas' deprecation noise

    # BG/NBD fit on the big summary.
    ours_s, ours = timed(custval.BetaGeo().fit, big)
    theirs_s = None
    if lifetimes is not None:
        theirs_s, theirs = timed(lifetimes.BetaGeoFitter().fit, x, tx, t)
        names = ["r", "alpha", "a", "b"]
        diff = max_rel([ours.params_[n] for n in names], [theirs.params_[n] for n in names])
        print(f"  (BG/NBD params max relative difference {diff:.1e})")
    report(f"BG/NBD fit, {len(big):,} customers", ours_s, theirs_s)

    # Gamma-Gamma fit.
    ours_s, gg = timed(custval.GammaGamma().fit, spend)
    theirs_s = None
    if lifetimes is not None:
        theirs_s, _ = timed(
            lifetimes.GammaGammaFitter().fit, spend["frequency"], spend["monetary_value"]
        )
    report(f"Gamma-Gamma fit, {len(spend):,} repeat customers", ours_s, theirs_s)

    # Pareto/NBD fit.
    ours_s, pareto = timed(custval.ParetoNBD().fit, small)
    theirs_s = None
    if lifetimes is not None:
        sx, stx, st = (small[c].to_numpy() for c in ("frequency", "recency", "T"))
        theirs_s, _ = timed(lifetimes.ParetoNBDFitter().fit, sx, stx, st)
    report(f"Pareto/NBD fit, {len(small):,} customers", ours_s, theirs_s)
    ours_s, _ = timed(custval.ParetoNBD().fit, big)
    report(f"Pareto/NBD fit, {len(big):,} customers", ours_s, None)

    # Predictions for every customer of the big summary, with the same parameters.
    model = ours
    ours_s, cond = timed(model.conditional_expected_purchases, 39.0, x, tx, t)
    ours_p_s, alive = timed(model.p_alive, x, tx, t)
    theirs_s = theirs_p_s = None
    if lifetimes is not None:
        fitter = lifetimes.BetaGeoFitter()
        import pandas as pd

        fitter.params_ = pd.Series(model.params_)
        theirs_s, want = timed(
            fitter.conditional_expected_number_of_purchases_up_to_time, 39.0, x, tx, t
        )
        print(
            f"  (conditional expected purchases max relative difference {max_rel(cond, want):.1e})"
        )
        theirs_p_s, want = timed(fitter.conditional_probability_alive, x, tx, t)
        print(f"  (P(alive) max relative difference {max_rel(alive, want):.1e})")
    report(f"BG/NBD conditional expected, {len(big):,}", ours_s, theirs_s)
    report(f"BG/NBD P(alive), {len(big):,}", ours_p_s, theirs_p_s)

    ours_s, _ = timed(pareto.conditional_expected_purchases, 39.0, x, tx, t)
    report(f"Pareto/NBD conditional expected, {len(big):,}", ours_s, None)

    big_spend = custval.GammaGamma().fit(big)
    ours_s, clv = timed(
        custval.customer_lifetime_value, model, big_spend, big, horizon=12, discount_rate=0.01
    )
    report(f"12-month CLV (BG/NBD × Gamma-Gamma), {len(big):,}", ours_s, None)
    del gg, clv


if __name__ == "__main__":
    main()
