"""BTYD models: fits, every prediction, holdout evaluation and tracking; custval vs lifetimes
in one run on the same data.

Run: python benches/bench_models.py [--customers 1000000] [--pareto 100000]
                                    [--spend 900000] [--tracking-rows 10000000]
                                    [--threads 1 2] [--runs 3] [--sections ...]
                                    [--skip-lifetimes]

Data: ``custval.rfm_summary`` (daily periods, time in weeks) of a log simulated from the BG/NBD
process (``custval.datasets.simulate_transactions``), so rows compress as real daily data do;
BG/BB predicts on the weekly summary of the same log (whole weeks: one opportunity a week);
Gamma-Gamma runs on a simulated spend summary of ``--spend`` repeat customers; ``evaluate``
and ``compare_models`` run on calibration/holdout tables of about ``--customers`` customers
(daily in weeks, and weekly for the four models of ``compare_models``, BG/BB included); the
tracking curves (``expected_cumulative_transactions``) run on a simulated log of
``--tracking-rows`` rows, lifetimes on its first 100k rows.

Each prediction runs ``--runs`` times per tool, custval and lifetimes alternating (load from
other processes on a shared machine falls on both alike), with custval's pool at each of
``--threads`` sizes (lifetimes is NumPy, one thread). Printed: the best seconds, the ratio
lifetimes / custval, the peak memory each call added beyond its input (Linux VmHWM), the
largest relative difference of the two results, and the targets of issue 10 (every
prediction ≥ 3x lifetimes; evaluate < 1 s; compare_models of four models < 5 s; tracking of
10M rows < 2 s) as met or not. Absolute seconds on shared machines are noise; the ratios are
the point.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from typing import Any

import custval
import numpy as np
import pandas as pd
from _measure import alternating, best_of, measure
from custval import datasets

SECTIONS = ("fits", "predictions", "evaluation", "tracking")
MIB = 2**20


def import_lifetimes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes

    return lifetimes


def summary_of(log, freq: str = "D", multiplier: int = 7) -> pd.DataFrame:
    seconds, summary, _ = measure(
        lambda: custval.rfm_summary(
            log, amount="amount", freq=freq, freq_multiplier=multiplier, output="pandas"
        )
    )
    unique = len(summary[["frequency", "recency", "T"]].drop_duplicates())
    print(
        f"summary ({freq} in units of {multiplier}) of {len(summary):,} customers "
        f"({log.num_rows:,} rows) in {seconds:.2f} s: {unique:,} unique (frequency, recency, T) "
        f"rows ({unique / len(summary):.1%})"
    )
    return summary


def max_rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def header() -> None:
    print(
        f"\n{'task':<52} {'custval s':>9} {'lifetimes s':>11} {'ratio':>7} "
        f"{'cv MiB':>7} {'lt MiB':>7}  notes"
    )


def report(
    task: str,
    ours: tuple[float, Any, int],
    theirs: tuple[float, Any, int] | None = None,
    note: str = "",
    *,
    theirs_seconds: float | None = None,
    target: Callable[[float, float | None], bool] | None = None,
    target_text: str = "",
) -> None:
    """One line: seconds, ratio and peaks; ``theirs_seconds`` overrides lifetimes' time (a
    time scaled from a sample); ``target`` says whether the issue's target is met."""
    seconds, _, peak = ours
    other = theirs_seconds if theirs_seconds is not None else (theirs[0] if theirs else None)
    ratio = other / seconds if other is not None else None
    cells = [
        f"{task:<52}",
        f"{seconds:9.3f}",
        f"{other:11.3f}" if other is not None else f"{'-':>11}",
        f"{ratio:6.1f}x" if ratio is not None else f"{'-':>7}",
        f"{peak / MIB:7.0f}",
        f"{theirs[2] / MIB:7.0f}" if theirs is not None else f"{'-':>7}",
    ]
    notes = [note] if note else []
    if target is not None:
        notes.append(f"target {target_text}: {'met' if target(seconds, ratio) else 'NOT met'}")
    print(" ".join(cells) + ("  " + "; ".join(notes) if notes else ""), flush=True)


def at_least_3x(_: float, ratio: float | None) -> bool:
    return ratio is not None and ratio >= 3.0


# -- fits ------------------------------------------------------------------------------------


def fits(lifetimes, big, weekly, small, spend, runs: int) -> None:
    x, tx, t = (big[c].to_numpy() for c in ("frequency", "recency", "T"))
    sx, stx, st = (small[c].to_numpy() for c in ("frequency", "recency", "T"))
    header()
    cases = [
        ("BG/NBD fit", custval.BetaGeo, big, "BetaGeoFitter", (x, tx, t)),
        ("Pareto/NBD fit", custval.ParetoNBD, small, "ParetoNBDFitter", (sx, stx, st)),
        (
            "Gamma-Gamma fit",
            custval.GammaGamma,
            spend,
            "GammaGammaFitter",
            (spend["frequency"], spend["monetary_value"]),
        ),
    ]
    for label, cls, data, fitter, columns in cases:
        theirs_fn = None
        if lifetimes is not None:
            theirs_fn = lambda f=fitter, c=columns: getattr(lifetimes, f)().fit(*c)  # noqa: E731
        # A lifetimes fit takes tens of seconds: one run each.
        ours, theirs = alternating(lambda c=cls, d=data: c().fit(d), theirs_fn, 1)
        note = ""
        if theirs is not None:
            names = list(ours[1].params_)
            theirs_params = theirs[1].params_.rename({"v": "gamma"})
            diff = max_rel([ours[1].params_[n] for n in names], [theirs_params[n] for n in names])
            note = f"params max rel diff {diff:.1e}"
        report(f"{label}, {len(data):,}", ours, theirs, note)
    ours = best_of(lambda: custval.ParetoNBD().fit(big), 1)
    report(f"Pareto/NBD fit, {len(big):,}", ours)
    ours = best_of(lambda: custval.BetaGeoBetaBinom().fit(weekly), runs)
    report(f"BG/BB fit (weekly), {len(weekly):,}", ours)


# -- predictions -----------------------------------------------------------------------------


def predictions(lifetimes, big, weekly, threads: list[int | None], runs: int) -> None:
    """Every prediction custval shares with lifetimes, for every customer of ``big``."""
    params = {
        "BG/NBD": {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259},
        "MBG/NBD": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
        "Pareto/NBD": {"r": 0.5532, "alpha": 10.5763, "s": 0.6062, "beta": 11.6715},
        "BG/BB": {"alpha": 1.2035, "beta": 0.7498, "gamma": 0.6568, "delta": 2.7839},
        "Gamma-Gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
    }
    classes = {
        "BG/NBD": (custval.BetaGeo, "BetaGeoFitter"),
        "MBG/NBD": (custval.ModifiedBetaGeo, "ModifiedBetaGeoFitter"),
        "Pareto/NBD": (custval.ParetoNBD, "ParetoNBDFitter"),
        "BG/BB": (custval.BetaGeoBetaBinom, "BetaGeoBetaBinomFitter"),
        "Gamma-Gamma": (custval.GammaGamma, "GammaGammaFitter"),
    }
    ours_of: dict[str, Any] = {}
    theirs_of: dict[str, Any] = {}
    for label, (cls, fitter) in classes.items():
        ours_of[label] = cls.from_dict(params[label], time_unit=("D", 7))
        if lifetimes is not None:
            theirs_of[label] = getattr(lifetimes, fitter)()
            theirs_of[label].params_ = pd.Series(params[label]).rename({"gamma": "v"})
            if label == "BG/BB":
                theirs_of[label].params_ = pd.Series(params[label])
            if label == "BG/NBD":  # lifetimes sets this alias in fit(); its CLV calls it
                f = theirs_of[label]
                f.predict = f.conditional_expected_number_of_purchases_up_to_time
    x, tx, t = (big[c].to_numpy() for c in ("frequency", "recency", "T"))
    wx, wtx, wn = (weekly[c].to_numpy() for c in ("frequency", "recency", "T"))
    mv = big["monetary_value"].to_numpy()
    repeat_x, repeat_mv = x[x > 0], mv[x > 0]
    n = len(big)
    tasks: list[tuple[str, Callable[[], Any], Callable[[], Any] | None]] = []
    for label in ("BG/NBD", "MBG/NBD", "Pareto/NBD"):
        m, f = ours_of[label], theirs_of.get(label)
        tasks.append(
            (
                f"{label} conditional expected purchases",
                lambda m=m: m.conditional_expected_purchases(39.0, x, tx, t),
                f
                and (
                    lambda f=f: f.conditional_expected_number_of_purchases_up_to_time(
                        39.0, x, tx, t
                    )
                ),
            )
        )
        tasks.append(
            (
                f"{label} P(alive)",
                lambda m=m: m.p_alive(x, tx, t),
                f and (lambda f=f: f.conditional_probability_alive(x, tx, t)),
            )
        )
        # lifetimes' MBG/NBD new-customer expectation uses another prefactor (see the class):
        # timed, but its values differ by design.
        tasks.append(
            (
                f"{label} expected purchases (new customers)",
                lambda m=m: m.expected_purchases(t),
                f and (lambda f=f: f.expected_number_of_purchases_up_to_time(t)),
            )
        )
    bb, bbf = ours_of["BG/BB"], theirs_of.get("BG/BB")
    tasks.append(
        (
            "BG/BB conditional expected purchases (weekly)",
            lambda: bb.conditional_expected_purchases(39.0, wx, wtx, wn),
            bbf
            and (lambda: bbf.conditional_expected_number_of_purchases_up_to_time(39, wx, wtx, wn)),
        )
    )
    tasks.append(
        (
            "BG/BB P(alive) (weekly)",
            lambda: bb.p_alive(wx, wtx, wn),
            bbf and (lambda: bbf.conditional_probability_alive(0, wx, wtx, wn)),
        )
    )
    gg, ggf = ours_of["Gamma-Gamma"], theirs_of.get("Gamma-Gamma")
    tasks.append(
        (
            "Gamma-Gamma expected spend (repeat customers)",
            lambda: gg.conditional_expected_spend(repeat_x, repeat_mv),
            ggf and (lambda: ggf.conditional_expected_average_profit(repeat_x, repeat_mv)),
        )
    )
    bg, bgf = ours_of["BG/NBD"], theirs_of.get("BG/NBD")
    tasks.append(
        (
            "12-month CLV (BG/NBD x Gamma-Gamma, 1%/month)",
            lambda: custval.customer_lifetime_value(
                bg, gg, big, horizon=12, discount_rate=0.01, output="arrow"
            ),
            ggf
            and (
                lambda: ggf.customer_lifetime_value(
                    bgf,
                    big["frequency"],
                    big["recency"],
                    big["T"],
                    big["monetary_value"],
                    time=12,
                    discount_rate=0.01,
                    freq="W",
                )
            ),
        )
    )
    for count in threads:
        if count is not None:
            custval.set_num_threads(count)
        print(f"\npredictions for {n:,} customers, custval on {custval.get_num_threads()} threads")
        header()
        for task, ours_fn, theirs_fn in tasks:
            ours, theirs = alternating(ours_fn, theirs_fn, runs)
            note = ""
            if theirs is not None:
                got, want = ours[1], theirs[1]
                if hasattr(got, "column"):
                    got = got.column("clv").to_numpy()
                diff = max_rel(got, want)
                note = f"max rel diff {diff:.1e}"
                if diff > 1e-6:
                    off = int(np.count_nonzero(~np.isclose(got, want, rtol=1e-6, atol=0)))
                    note += f" ({off:,} rows differ by > 1e-6)"
                if task.startswith("MBG/NBD expected"):
                    note += " (lifetimes' other prefactor)"
                if task.startswith("12-month CLV"):
                    note += " (lifetimes' month is 4.345 weeks)"
            report(f"{task}", ours, theirs, note, target=at_least_3x, target_text=">= 3x")
        for label in ("BG/NBD", "MBG/NBD", "Pareto/NBD"):
            m = ours_of[label]
            ours = best_of(lambda m=m: m.p_alive(x, tx, t, t=52.0), runs)
            report(f"{label} P(alive 52 weeks later)", ours, note="lifetimes has none")
        probability_of_purchases(lifetimes, bg, bgf, x, t, runs)


def probability_of_purchases(lifetimes, model, fitter, x, t, runs: int) -> None:
    """lifetimes' P(N(t) = n) takes one customer (scalar t) at a time: timed over a sample of
    calls and scaled to every customer."""
    counts = np.minimum(x, 5)
    ours = best_of(lambda: model.probability_of_purchases(counts, t), runs)
    theirs_seconds = None
    note = ""
    if fitter is not None:
        sample = 2_000
        seconds, _, _ = measure(
            lambda: [
                fitter.probability_of_n_purchases_up_to_time(t[i], int(counts[i]))
                for i in range(sample)
            ]
        )
        theirs_seconds = seconds * len(t) / sample
        note = f"lifetimes scaled from {sample:,} one-customer calls"
    report(
        "BG/NBD P(N(t) = n)",
        ours,
        note=note,
        theirs_seconds=theirs_seconds,
        target=at_least_3x,
        target_text=">= 3x",
    )


# -- evaluation ------------------------------------------------------------------------------


def evaluation(customers: int, runs: int) -> None:
    """evaluate and compare_models on calibration/holdout tables of about ``customers``."""
    # Customers are acquired uniformly over two years; about 3/4 of them by the calibration
    # end, the others are first seen in the holdout and left out.
    log = datasets.simulate_transactions(int(customers / 0.75), seed=4, output="arrow")
    daily = custval.calibration_holdout(
        log, calibration_end="2024-06-30", freq="D", freq_multiplier=7, output="pandas"
    )
    weekly = custval.calibration_holdout(
        log, calibration_end="2024-06-30", freq="W", output="pandas"
    )
    n = len(daily)
    model = custval.BetaGeo().fit(
        daily, frequency="frequency_cal", recency="recency_cal", T="T_cal"
    )
    print(f"\ncalibration/holdout tables of {n:,} customers, {custval.get_num_threads()} threads")
    header()
    ours = best_of(lambda: custval.evaluate(model, daily), runs)
    report(
        f"evaluate (BG/NBD), {n:,}",
        ours,
        note="lifetimes has none",
        target=lambda s, _: s < 1.0,
        target_text="< 1 s",
    )
    names = ["bgnbd", "mbgnbd", "pnbd", "bgbb"]
    ours = best_of(lambda: custval.compare_models(names, weekly), runs)
    report(
        f"compare_models of 4 named models (weekly), {len(weekly):,}",
        ours,
        note="fits included",
        target=lambda s, _: s < 5.0,
        target_text="< 5 s",
    )
    for name in names:
        cls = {"bgnbd": custval.BetaGeo, "mbgnbd": custval.ModifiedBetaGeo}.get(name)
        cls = cls or {"pnbd": custval.ParetoNBD, "bgbb": custval.BetaGeoBetaBinom}[name]
        ours = best_of(
            lambda c=cls: c().fit(
                weekly, frequency="frequency_cal", recency="recency_cal", T="T_cal"
            ),
            runs,
        )
        report(f"  of which the {name} fit", ours)


# -- tracking --------------------------------------------------------------------------------


def tracking(lifetimes, rows: int, runs: int) -> None:
    """expected_cumulative_transactions over two years of daily periods, weekly rows: custval
    on a log of ``rows`` rows, lifetimes on its first 100k rows (their ratio is per row)."""
    customers = int(rows / 2.6)  # the simulator draws about 2.6 rows a customer
    log = datasets.simulate_transactions(customers, seed=3, output="arrow")
    model = custval.BetaGeo.from_dict(
        {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}, time_unit=("D", 7)
    )

    def ours_on(data, output="arrow"):
        return lambda: custval.expected_cumulative_transactions(
            model, data, t=730, freq="D", freq_multiplier=7, output=output
        )

    print(f"\ntracking, {custval.get_num_threads()} threads")
    header()
    big = best_of(ours_on(log), runs)
    report(
        f"tracking (expected_cumulative_transactions), {log.num_rows:,} rows",
        big,
        note="lifetimes: see the 100k-row line",
        target=lambda s, _: s < 2.0,
        target_text="< 2 s",
    )
    if lifetimes is None:
        return
    from lifetimes.utils import expected_cumulative_transactions

    small = log.slice(0, 100_000).to_pandas()
    fitter = lifetimes.BetaGeoFitter()
    fitter.params_ = pd.Series(model.params_)
    ours, theirs = alternating(
        ours_on(small, "pandas"),
        lambda: expected_cumulative_transactions(
            fitter, small, "timestamp", "customer_id", 730, freq="D", freq_multiplier=7
        ),
        1,  # lifetimes takes minutes
    )
    diff = max_rel(ours[1]["predicted"], theirs[1]["predicted"])
    report("tracking, 100,000 rows", ours, theirs, f"predicted max rel diff {diff:.1e}")
    per_row = theirs[0] / len(small) / (big[0] / log.num_rows)
    print(
        f"  (lifetimes per row {theirs[0] / len(small) * 1e6:.2f} µs on 100,000 rows, custval "
        f"per row {big[0] / log.num_rows * 1e6:.3f} µs on {log.num_rows:,} rows: {per_row:.0f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--pareto", type=int, default=100_000)
    parser.add_argument("--spend", type=int, default=900_000)
    parser.add_argument("--tracking-rows", type=int, default=10_000_000)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=None, help="custval pool sizes to run"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--skip-lifetimes", action="store_true")
    args = parser.parse_args()
    lifetimes = None if args.skip_lifetimes else import_lifetimes()
    warnings.simplefilter("ignore")  # lifetimes' and pandas' deprecation noise
    threads: list[int | None] = list(args.threads) if args.threads else [None]
    print(f"custval {custval.__version__}, {custval.get_num_threads()} threads")

    if "fits" in args.sections or "predictions" in args.sections:
        log = datasets.simulate_transactions(args.customers, seed=0, output="arrow")
        big = summary_of(log)
        weekly = summary_of(log, freq="W", multiplier=1)
    if "fits" in args.sections:
        small = summary_of(datasets.simulate_transactions(args.pareto, seed=1, output="arrow"))
        spend = datasets.simulate_gamma_gamma(args.spend, seed=2)
        fits(lifetimes, big, weekly, small, spend, args.runs)
    if "predictions" in args.sections:
        predictions(lifetimes, big, weekly, threads, args.runs)
    for count in threads:
        if count is not None:
            custval.set_num_threads(count)
        if "evaluation" in args.sections:
            evaluation(args.customers, args.runs)
        if "tracking" in args.sections:
            tracking(lifetimes, args.tracking_rows, args.runs)


if __name__ == "__main__":
    main()
