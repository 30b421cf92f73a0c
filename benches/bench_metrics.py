"""Monthly retention (growth accounting with revenue) and cohort matrix: custval vs pandas vs
polars, on the same simulated log in one run. Checks that all three agree, prints seconds and
ratios (peer time / custval time).

    python benches/bench_metrics.py [--rows 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import custval
import numpy as np
import pandas as pd
import polars as pl

COUNTS = ["active", "new", "retained", "resurrected", "churned"]
MONEY = [
    "revenue",
    "new_revenue",
    "resurrected_revenue",
    "expansion_revenue",
    "contraction_revenue",
    "churned_revenue",
]


def _growth(cur: pd.DataFrame, hi: int) -> pd.DataFrame:
    """Shared tail of the pandas version: classify (customer, period) pairs."""
    nxt = cur[["customer_id", "p", "rev"]].assign(p=cur["p"] + 1)
    m = cur.merge(nxt, on=["customer_id", "p"], how="outer", suffixes=("", "_prev"))
    m = m[m["p"] <= hi]
    now, before = m["rev"].notna(), m["rev_prev"].notna()
    rev, prev = m["rev"].fillna(0), m["rev_prev"].fillna(0)
    is_new = now & (m["p"] == m["first"])
    retained = now & before
    delta = (rev - prev).where(retained, 0)
    out = pd.DataFrame(
        {
            "p": m["p"],
            "active": now,
            "new": is_new,
            "retained": retained,
            "resurrected": now & ~before & ~is_new,
            "churned": ~now & before,
            "revenue": rev,
            "new_revenue": rev.where(is_new, 0),
            "resurrected_revenue": rev.where(now & ~before & ~is_new, 0),
            "expansion_revenue": delta.clip(lower=0),
            "contraction_revenue": (-delta).clip(lower=0),
            "churned_revenue": prev.where(~now & before, 0),
        }
    )
    return out.groupby("p").sum().sort_index()


def pandas_retention(df: pd.DataFrame) -> pd.DataFrame:
    ts = df["timestamp"]
    period = ts.dt.year * 12 + ts.dt.month - 1
    cur = (
        df.assign(p=period)
        .groupby(["customer_id", "p"], sort=False)["amount"]
        .sum()
        .rename("rev")
        .reset_index()
    )
    cur["first"] = cur.groupby("customer_id")["p"].transform("min")
    return _growth(cur, int(period.max()))


def pandas_cohorts(df: pd.DataFrame) -> pd.DataFrame:
    ts = df["timestamp"]
    period = ts.dt.year * 12 + ts.dt.month - 1
    cur = df[["customer_id"]].assign(p=period).drop_duplicates()
    first = cur.groupby("customer_id")["p"].transform("min")
    k = cur["p"] - first
    table = cur.assign(cohort=first, k=k).groupby(["cohort", "k"]).size().unstack("k")
    hi = int(period.max())
    mask = (table.index.to_numpy()[:, None] + table.columns.to_numpy()[None, :]) > hi
    return table.fillna(0).mask(mask)


def polars_retention(df: pl.DataFrame) -> pl.DataFrame:
    cur = (
        df.with_columns(p=pl.col("timestamp").dt.year() * 12 + pl.col("timestamp").dt.month() - 1)
        .group_by("customer_id", "p")
        .agg(rev=pl.col("amount").sum())
        .with_columns(first=pl.col("p").min().over("customer_id"))
    )
    hi = cur["p"].max()
    nxt = cur.select("customer_id", (pl.col("p") + 1).alias("p"), rev_prev=pl.col("rev"))
    m = cur.join(nxt, on=["customer_id", "p"], how="full", coalesce=True).filter(pl.col("p") <= hi)
    now, before = pl.col("rev").is_not_null(), pl.col("rev_prev").is_not_null()
    rev, prev = pl.col("rev").fill_null(0), pl.col("rev_prev").fill_null(0)
    is_new = now & (pl.col("p") == pl.col("first"))
    retained = now & before
    resurrected = now & ~before & ~is_new
    churned = ~now & before
    delta = pl.when(retained).then(rev - prev).otherwise(0)
    zero = pl.lit(0.0)
    return (
        m.group_by("p")
        .agg(
            active=now.sum(),
            new=is_new.sum(),
            retained=retained.sum(),
            resurrected=resurrected.sum(),
            churned=churned.sum(),
            revenue=rev.sum(),
            new_revenue=pl.when(is_new).then(rev).otherwise(zero).sum(),
            resurrected_revenue=pl.when(resurrected).then(rev).otherwise(zero).sum(),
            expansion_revenue=delta.clip(lower_bound=0).sum(),
            contraction_revenue=(-delta).clip(lower_bound=0).sum(),
            churned_revenue=pl.when(churned).then(prev).otherwise(zero).sum(),
        )
        .sort("p")
    )


def polars_cohorts(df: pl.DataFrame) -> pl.DataFrame:
    cur = (
        df.select(
            "customer_id", p=pl.col("timestamp").dt.year() * 12 + pl.col("timestamp").dt.month() - 1
        )
        .unique()
        .with_columns(cohort=pl.col("p").min().over("customer_id"))
    )
    hi = cur["p"].max()
    return (
        cur.group_by("cohort", k=pl.col("p") - pl.col("cohort"))
        .len()
        .pivot(on="k", index="cohort", values="len", sort_columns=True)
        .sort("cohort")
        .with_columns(
            pl.when(pl.col("cohort") + int(c) <= hi).then(pl.col(c).fill_null(0)).alias(c)
            for c in map(str, range(hi - cur["p"].min() + 1))
        )
    )


def timed(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # About 2.6 rows per simulated customer over the default two years.
    log = custval.datasets.simulate_transactions(max(1, args.rows * 10 // 26), seed=7)
    log_pl = pl.from_pandas(log)
    print(
        f"{len(log):,} transactions, {log['customer_id'].nunique():,} customers, "
        f"{custval.get_num_threads()} threads"
    )

    t_cv, r_cv = timed(lambda: custval.retention(log, amount="amount", freq="M"), args.repeat)
    t_pd, r_pd = timed(lambda: pandas_retention(log), args.repeat)
    t_pl, r_pl = timed(lambda: polars_retention(log_pl), args.repeat)
    for name in COUNTS:
        assert r_cv[name].tolist() == r_pd[name].astype(int).tolist() == r_pl[name].to_list(), name
    for name in MONEY:
        np.testing.assert_allclose(r_cv[name], r_pd[name], rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(r_cv[name], r_pl[name].to_numpy(), rtol=1e-9, atol=1e-6)

    c_cv_t, c_cv = timed(lambda: custval.cohorts(log, freq="M", normalize=False), args.repeat)
    c_pd_t, c_pd = timed(lambda: pandas_cohorts(log), args.repeat)
    c_pl_t, c_pl = timed(lambda: polars_cohorts(log_pl), args.repeat)
    ks = [c for c in c_cv.columns if isinstance(c, int)]
    np.testing.assert_array_equal(c_cv[ks].to_numpy(float), c_pd[ks].to_numpy(float))
    np.testing.assert_array_equal(
        c_cv[ks].to_numpy(float), c_pl.select(map(str, ks)).to_numpy().astype(float)
    )
    print("all three agree on every retention count, revenue column and cohort cell\n")
    print(
        f"{'monthly':<12}{'custval':>10}{'pandas':>10}{'polars':>10}{'pandas/cv':>11}{'polars/cv':>11}"
    )
    for label, a, b, c in [("retention", t_cv, t_pd, t_pl), ("cohorts", c_cv_t, c_pd_t, c_pl_t)]:
        print(f"{label:<12}{a:>9.3f}s{b:>9.3f}s{c:>9.3f}s{b / a:>10.1f}x{c / a:>10.1f}x")


if __name__ == "__main__":
    main()
