"""BTYD model fits and predictions: custval vs lifetimes, in one run on the same data.

Run: python benches/bench_models.py [--customers 1000000] [--pareto 100000]
                                    [--spend 900000] [--tracking-rows 10000000]
                                    [--skip-lifetimes]

Data: ``custval.rfm_summary`` (daily periods, time in weeks) of a log simulated from the BG/NBD
process (``custval.datasets.simulate_transactions``), so rows compress as real daily data do;
Gamma-Gamma runs on a simulated spend summary of ``--spend`` repeat customers; the tracking
curves (``expected_cumulative_transactions``) run on a simulated log of ``--tracking-rows`` rows
(lifetimes on its first 100k rows). Prints seconds,
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
    parser.add_argument("--tracking-rows", type=int, default=10_000_000)
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

    # Predictions for every customer of the big summary, each model with the same parameters
    # in custval and lifetimes (best of three runs each).
    predictions(lifetimes, big, ours.params_, pareto.params_)

    model = ours
    big_spend = custval.GammaGamma().fit(big)
    ours_s, clv = timed(
        custval.customer_lifetime_value, model, big_spend, big, horizon=12, discount_rate=0.01
    )
    report(f"12-month CLV (BG/NBD × Gamma-Gamma), {len(big):,}", ours_s, None)
    del gg, clv

    tracking(lifetimes, model, args.tracking_rows)


def best_of(fn, *args, runs: int = 3):
    """(the least seconds of ``runs`` calls, the last result)."""
    times, out = [], None
    for _ in range(runs):
        seconds, out = timed(fn, *args)
        times.append(seconds)
    return min(times), out


def predictions(lifetimes, big, bgnbd_params: dict, pareto_params: dict) -> None:
    """custval and lifetimes predictions for every customer of ``big``."""
    import pandas as pd

    x, tx, t = (big[c].to_numpy() for c in ("frequency", "recency", "T"))
    n = len(big)
    mbgnbd_params = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
    models = [
        ("BG/NBD", custval.BetaGeo, "BetaGeoFitter", bgnbd_params),
        ("MBG/NBD", custval.ModifiedBetaGeo, "ModifiedBetaGeoFitter", mbgnbd_params),
        ("Pareto/NBD", custval.ParetoNBD, "ParetoNBDFitter", pareto_params),
    ]
    for label, cls, fitter_name, params in models:
        model = cls.from_dict(params)
        theirs = None
        if lifetimes is not None:
            theirs = getattr(lifetimes, fitter_name)()
            theirs.params_ = pd.Series(params)
        tasks = [
            (
                "conditional expected",
                lambda m=model: m.conditional_expected_purchases(39.0, x, tx, t),
                lambda f=theirs: f.conditional_expected_number_of_purchases_up_to_time(
                    39.0, x, tx, t
                ),
            ),
            (
                "P(alive)",
                lambda m=model: m.p_alive(x, tx, t),
                lambda f=theirs: f.conditional_probability_alive(x, tx, t),
            ),
        ]
        if label != "MBG/NBD":  # lifetimes' MBG/NBD uses another prefactor (see the class)
            tasks.append(
                (
                    "expected purchases (new customers)",
                    lambda m=model: m.expected_purchases(t),
                    lambda f=theirs: f.expected_number_of_purchases_up_to_time(t),
                )
            )
        for task, ours_fn, theirs_fn in tasks:
            ours_s, got = best_of(ours_fn)
            theirs_s = None
            if theirs is not None:
                theirs_s, want = best_of(theirs_fn)
                print(f"  ({label} {task}: max relative difference {max_rel(got, want):.1e})")
            report(f"{label} {task}, {n:,}", ours_s, theirs_s)
        ours_s, _ = best_of(lambda m=model: m.p_alive(x, tx, t, t=52.0))
        report(f"{label} P(alive 52 weeks later), {n:,}", ours_s, None)
    # lifetimes' P(N(t) = n) takes one customer (scalar t) at a time: timed over a sample of
    # calls and scaled to every customer.
    model = custval.BetaGeo.from_dict(bgnbd_params)
    counts = np.minimum(x, 5)
    ours_s, _ = best_of(model.probability_of_purchases, counts, t)
    theirs_s = None
    if lifetimes is not None:
        fitter = lifetimes.BetaGeoFitter()
        fitter.params_ = pd.Series(bgnbd_params)
        sample = 2_000
        seconds, _ = timed(
            lambda: [
                fitter.probability_of_n_purchases_up_to_time(t[i], int(counts[i]))
                for i in range(sample)
            ]
        )
        theirs_s = seconds * n / sample
        print(f"  (lifetimes scaled from {sample:,} one-customer calls)")
    report(f"BG/NBD P(N(t) = n), {n:,}", ours_s, theirs_s)


def tracking(lifetimes, model, rows: int) -> None:
    """expected_cumulative_transactions over two years of daily periods, weekly rows: custval
    on a log of ``rows`` rows, lifetimes on its first 100k rows (their ratio is per row)."""
    customers = int(rows / 2.6)  # the simulator draws about 2.6 rows a customer
    log = datasets.simulate_transactions(customers, seed=3, output="arrow")
    model = custval.BetaGeo.from_dict(model.params_, time_unit=("D", 7))
    ours_s, _ = best_of(
        lambda: custval.expected_cumulative_transactions(
            model, log, t=730, freq="D", freq_multiplier=7, output="arrow"
        )
    )
    report(f"tracking (expected_cumulative_transactions), {log.num_rows:,} rows", ours_s, None)
    if lifetimes is None:
        return
    import pandas as pd
    from lifetimes.utils import expected_cumulative_transactions

    small = log.slice(0, 100_000).to_pandas()
    fitter = lifetimes.BetaGeoFitter()
    fitter.params_ = pd.Series(model.params_)
    theirs_s, want = timed(
        expected_cumulative_transactions,
        fitter,
        small,
        "timestamp",
        "customer_id",
        730,
        freq="D",
        freq_multiplier=7,
    )
    ours_small_s, got = best_of(
        lambda: custval.expected_cumulative_transactions(
            model, small, t=730, freq="D", freq_multiplier=7
        )
    )
    diff = max_rel(got["predicted"], want["predicted"])
    print(f"  (tracking on 100,000 rows: predicted max relative difference {diff:.1e})")
    report("tracking, 100,000 rows", ours_small_s, theirs_s)
    print(
        f"  (lifetimes per row {theirs_s / len(small) * 1e6:.2f} µs, custval per row "
        f"{ours_s / log.num_rows * 1e6:.3f} µs on {log.num_rows:,} rows: "
        f"{theirs_s / len(small) / (ours_s / log.num_rows):.0f}x)"
    )


if __name__ == "__main__":
    main()
