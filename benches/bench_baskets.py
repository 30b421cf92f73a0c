"""Cross-sell: custval vs mlxtend, polars and pandas on the same simulated baskets, in one
run. Checks that they agree, prints seconds, ratios (peer time / custval time) and the peak
resident memory each call added.

    python benches/bench_baskets.py [--orders 1000000] [--products 20000]
        [--mlxtend-orders 20000] [--mlxtend-support 0.0002]

Pair counting: custval.affinity vs a polars self-join and a pandas self-join on the whole
log; vs mlxtend fpgrowth + association_rules (one-item rules) on the first orders, as many
as its dense one-hot matrix can hold. Recommendations: custval.recommend for every customer.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import custval
import numpy as np
import pandas as pd
import polars as pl

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def measured(fn, repeat: int):
    """(best seconds, peak resident bytes above the start, result): the time is the best of
    ``repeat`` plain runs; the peak comes from one more run sampled every millisecond (so it
    sees native, Rust and polars, allocations too) and kept out of the timing, since the
    sampler takes a core and the kernel's memory lock on a small machine. That run starts
    with none of the memory custval keeps between calls (``custval.release_memory``), so its
    peak counts all the memory a call needs; the timed runs reuse it, as repeated calls do."""
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    result = None
    custval.release_memory()
    base, top, done = rss(), [0], threading.Event()

    def sample():
        while not done.is_set():
            top[0] = max(top[0], rss() - base)
            time.sleep(0.001)

    sampler = threading.Thread(target=sample)
    sampler.start()
    result = fn()
    done.set()
    sampler.join()
    return best, top[0], result


def polars_pairs(lines: pl.DataFrame) -> pl.DataFrame:
    distinct = lines.select("order_id", "product_id").unique()
    return (
        distinct.join(distinct, on="order_id", suffix="_b")
        .filter(pl.col("product_id") < pl.col("product_id_b"))
        .group_by("product_id", "product_id_b")
        .len()
        .sort("product_id", "product_id_b")
    )


def pandas_pairs(lines: pd.DataFrame) -> pd.DataFrame:
    distinct = lines[["order_id", "product_id"]].drop_duplicates()
    pairs = distinct.merge(distinct, on="order_id", suffixes=("", "_b"))
    pairs = pairs[pairs["product_id"] < pairs["product_id_b"]]
    return pairs.groupby(["product_id", "product_id_b"]).size()


def mlxtend_rules(lines: pd.DataFrame, min_support: float) -> pd.DataFrame:
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    onehot = pd.crosstab(lines["order_id"], lines["product_id"]).gt(0)
    itemsets = fpgrowth(onehot, min_support=min_support, use_colnames=True, max_len=2)
    return association_rules(itemsets, metric="confidence", min_threshold=0.0)


def row(label: str, ours: tuple, peers: dict[str, tuple]) -> None:
    cells = f"{label:<26}{ours[0]:>8.3f}s {ours[1] / 2**20:>7.0f} MiB"
    for name, (t, m, _) in peers.items():
        cells += f" | {name} {t:>7.3f}s {m / 2**20:>6.0f} MiB  {t / ours[0]:>6.1f}x"
    print(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--mlxtend-orders", type=int, default=20_000)
    parser.add_argument("--mlxtend-support", type=float, default=0.0002)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    lines = custval.datasets.simulate_baskets(
        max(1, args.orders // 3), args.products, orders_per_customer=3.0, items_per_order=3.0
    )
    lines_pl = pl.from_pandas(lines)
    print(
        f"{lines['order_id'].nunique():,} orders, {len(lines):,} lines, "
        f"{lines['product_id'].nunique():,} products, {lines['customer_id'].nunique():,} "
        f"customers, {custval.get_num_threads()} threads"
    )
    print(f"{'':<26}{'custval':>9} {'peak':>11} | peers: seconds, peak, peer / custval")

    ours = measured(lambda: custval.affinity(lines_pl), args.repeat)
    by_polars = measured(lambda: polars_pairs(lines_pl), args.repeat)
    by_pandas = measured(lambda: pandas_pairs(lines), 1)
    got = ours[2].select("product_a", "product_b", "count")
    want = by_polars[2].rename({"product_id": "product_a", "product_id_b": "product_b"})
    assert got.equals(want.with_columns(pl.col("len").alias("count")).drop("len").cast(got.schema))
    assert np.array_equal(got["count"].to_numpy(), by_pandas[2].to_numpy())
    print(f"all pair counts agree ({len(got):,} pairs)")
    row("affinity, all pairs", ours, {"polars": by_polars, "pandas": by_pandas})

    first_orders = lines["order_id"].drop_duplicates().iloc[: args.mlxtend_orders]
    head = lines[lines["order_id"].isin(first_orders)]
    support = args.mlxtend_support
    small = measured(lambda: custval.affinity(head, min_support=support), args.repeat)
    rules = measured(lambda: mlxtend_rules(head, support), 1)
    one_item = rules[2][rules[2]["antecedents"].map(len) == 1]
    assert len(one_item) == 2 * len(small[2]) > 0, (len(one_item), len(small[2]))
    print(
        f"mlxtend on the first {head['order_id'].nunique():,} orders "
        f"(min_support {support}): {len(small[2]):,} pairs, rules agree in number"
    )
    row("affinity vs mlxtend", small, {"mlxtend": rules})

    # Seconds each: the best of at most three calls (a first call also maps its memory).
    slow_repeat = min(args.repeat, 3)
    recs = measured(lambda: custval.recommend(lines_pl, top_k=10), slow_repeat)
    customers = recs[2]["customer_id"].n_unique()
    print(
        f"{'recommend, all customers':<26}{recs[0]:>8.3f}s {recs[1] / 2**20:>7.0f} MiB"
        f" ({customers:,} customers, {len(recs[2]):,} rows)"
    )
    nxt = measured(lambda: custval.next_purchase(lines_pl, order="order_id"), slow_repeat)
    print(f"{'next_purchase':<26}{nxt[0]:>8.3f}s {nxt[1] / 2**20:>7.0f} MiB ({len(nxt[2]):,} rows)")


if __name__ == "__main__":
    main()
