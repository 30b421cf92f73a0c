"""Product affinity against mlxtend (apriori + association_rules) and a plain pandas
self-join; next purchases against a plain reference."""

from __future__ import annotations

import itertools

import custval
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from custval.datasets import planted_pairs, planted_paths, simulate_baskets
from hypothesis import given, settings
from hypothesis import strategies as st

MEASURES = ["support", "confidence_a_b", "confidence_b_a", "lift", "leverage"]


def self_join(lines: pd.DataFrame, basket: str = "order_id") -> pd.DataFrame:
    """The plain reference: distinct (basket, product), joined with itself on the basket."""
    distinct = lines[[basket, "product_id"]].drop_duplicates()
    n = distinct[basket].nunique()
    per_product = distinct.groupby("product_id").size()
    pairs = distinct.merge(distinct, on=basket, suffixes=("_a", "_b"))
    pairs = pairs[pairs["product_id_a"] < pairs["product_id_b"]]
    counts = pairs.groupby(["product_id_a", "product_id_b"]).size().rename("count").reset_index()
    counts = counts.rename(columns={"product_id_a": "product_a", "product_id_b": "product_b"})
    n_a = counts["product_a"].map(per_product).to_numpy()
    n_b = counts["product_b"].map(per_product).to_numpy()
    counts["support"] = counts["count"] / n
    counts["confidence_a_b"] = counts["count"] / n_a
    counts["confidence_b_a"] = counts["count"] / n_b
    counts["lift"] = counts["confidence_a_b"] / (n_b / n)
    counts["leverage"] = counts["support"] - (n_a / n) * (n_b / n)
    return counts


def test_matches_mlxtend_one_item_rules():
    mlxtend = pytest.importorskip("mlxtend.frequent_patterns")
    lines = simulate_baskets(400, 40, seed=7)
    onehot = pd.crosstab(lines["order_id"], lines["product_id"]).gt(0)
    min_support = 0.01
    itemsets = mlxtend.apriori(onehot, min_support=min_support, use_colnames=True, max_len=2)
    rules = mlxtend.association_rules(itemsets, metric="confidence", min_threshold=0.0)
    rules = rules[(rules["antecedents"].map(len) == 1) & (rules["consequents"].map(len) == 1)]
    rules = rules.assign(
        a=rules["antecedents"].map(lambda s: next(iter(s))),
        b=rules["consequents"].map(lambda s: next(iter(s))),
    )
    forward = rules[rules["a"] < rules["b"]].set_index(["a", "b"]).sort_index()
    backward = rules[rules["a"] > rules["b"]].set_index(["b", "a"]).sort_index()
    ours = custval.affinity(lines, min_support=min_support).set_index(["product_a", "product_b"])
    assert ours.index.equals(forward.index) and len(ours) > 50
    n_orders = lines["order_id"].nunique()
    np.testing.assert_array_equal(ours["count"], np.round(forward["support"] * n_orders))
    rtol = 1e-12
    np.testing.assert_allclose(ours["support"], forward["support"], rtol=rtol)
    np.testing.assert_allclose(ours["confidence_a_b"], forward["confidence"], rtol=rtol)
    np.testing.assert_allclose(ours["confidence_b_a"], backward["confidence"], rtol=rtol)
    np.testing.assert_allclose(ours["lift"], forward["lift"], rtol=rtol)
    np.testing.assert_allclose(ours["leverage"], forward["leverage"], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(ours["conviction_a_b"], forward["conviction"], rtol=1e-9)
    np.testing.assert_allclose(ours["conviction_b_a"], backward["conviction"], rtol=1e-9)
    np.testing.assert_allclose(ours["jaccard"], forward["jaccard"], rtol=rtol)


def test_p_value_is_fishers_exact_test():
    stats = pytest.importorskip("scipy.stats")
    lines = simulate_baskets(300, 30, seed=2)
    pairs = custval.affinity(lines, min_count=3)
    n = lines["order_id"].nunique()
    per_product = lines.groupby("product_id")["order_id"].nunique()
    for row in pairs.sample(25, random_state=0).itertuples():
        n_a, n_b, k = per_product[row.product_a], per_product[row.product_b], row.count
        table = [[k, n_a - k], [n_b - k, n - n_a - n_b + k]]
        want = stats.fisher_exact(table, alternative="greater").pvalue
        assert row.p_value == pytest.approx(want, rel=1e-8, abs=1e-300)


baskets = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 7)), min_size=1, max_size=60).map(
    lambda rows: pd.DataFrame(rows, columns=["order_id", "product_id"])
)


@settings(max_examples=60, deadline=None)
@given(lines=baskets, min_count=st.integers(1, 3))
def test_matches_a_pandas_self_join(lines, min_count):
    want = self_join(lines)
    want = want[want["count"] >= min_count].reset_index(drop=True)
    got = custval.affinity(lines, min_count=min_count)
    assert got[["product_a", "product_b", "count"]].equals(
        want[["product_a", "product_b", "count"]]
    )
    for column in MEASURES:
        np.testing.assert_allclose(got[column], want[column], rtol=1e-12, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(lines=baskets, min_support=st.floats(0.05, 1.0))
def test_min_support_prunes_like_the_definition(lines, min_support):
    want = self_join(lines)
    want = want[want["count"] / lines["order_id"].nunique() >= min_support]
    got = custval.affinity(lines, min_support=min_support)
    assert list(zip(got["product_a"], got["product_b"], strict=True)) == list(
        zip(want["product_a"], want["product_b"], strict=True)
    )


def test_customer_level_pairs_products_a_customer_bought():
    lines = simulate_baskets(300, 40, seed=4)
    got = custval.affinity(lines, customer="customer_id", level="customer")
    want = self_join(lines, basket="customer_id")
    assert got[["product_a", "product_b", "count"]].equals(
        want[["product_a", "product_b", "count"]]
    )


def test_planted_pairs_have_the_highest_lift():
    lines = simulate_baskets(5_000, 500, seed=1)
    top = custval.affinity(lines, min_count=20, top_k=10)
    planted = {tuple(sorted(pair)) for pair in planted_pairs(500)}
    assert set(zip(top["product_a"], top["product_b"], strict=True)) == planted
    assert (top["lift"].diff().dropna() <= 0).all()
    assert (top["p_value"] < 1e-10).all()


def test_same_answer_for_every_input_kind_and_thread_count(tmp_path):
    lines = simulate_baskets(800, 60, seed=5)
    lines["product_id"] = "sku-" + lines["product_id"].astype(str)
    want = custval.affinity(lines, customer="customer_id")
    path = tmp_path / "lines.parquet"
    lines.to_parquet(path)
    for data in (pa.Table.from_pandas(lines), pl.from_pandas(lines), str(path)):
        got = custval.affinity(data, customer="customer_id", output="pandas")
        pd.testing.assert_frame_equal(got, want)
    threads = custval.get_num_threads()
    try:
        custval.set_num_threads(1)
        pd.testing.assert_frame_equal(custval.affinity(lines, customer="customer_id"), want)
    finally:
        custval.set_num_threads(threads)
    assert isinstance(custval.affinity(pl.from_pandas(lines)), pl.DataFrame)


def next_reference(lines: pd.DataFrame) -> pd.DataFrame:
    orders = lines.groupby("order_id").agg(
        customer=("customer_id", "first"),
        time=("timestamp", "min"),
        products=("product_id", lambda s: sorted(set(s))),
    )
    orders = orders.reset_index().sort_values(["customer", "time", "order_id"])
    counts: dict[tuple[int, int], int] = {}
    followed: dict[int, int] = {}
    rows = list(orders.itertuples())
    for this, after in itertools.pairwise(rows):
        if this.customer != after.customer:
            continue
        for a in this.products:
            followed[a] = followed.get(a, 0) + 1
            for b in after.products:
                counts[a, b] = counts.get((a, b), 0) + 1
    out = pd.DataFrame(
        [(a, b, c, followed[a]) for (a, b), c in counts.items()],
        columns=["product", "next_product", "count", "orders"],
    )
    out["probability"] = out["count"] / out["orders"]
    out["key"] = -out["count"]
    return (
        out.sort_values(["product", "key", "next_product"])
        .drop(columns="key")
        .reset_index(drop=True)
    )


def test_next_purchase_matches_a_plain_reference():
    lines = simulate_baskets(400, 40, seed=8)
    got = custval.next_purchase(lines, order="order_id")
    pd.testing.assert_frame_equal(got, next_reference(lines), check_dtype=False)


def test_next_purchase_finds_the_planted_paths():
    lines = simulate_baskets(5_000, 500, seed=2)
    top = custval.next_purchase(lines, order="order_id", top_k=1).set_index("product")
    for a, b in planted_paths(500):
        assert top.loc[a, "next_product"] == b
        assert top.loc[a, "probability"] > 0.4


def test_without_order_a_customers_lines_at_one_time_are_an_order():
    lines = simulate_baskets(300, 40, seed=9)
    by_time = custval.next_purchase(lines)
    by_order = custval.next_purchase(lines, order="order_id")
    pd.testing.assert_frame_equal(by_time, by_order)


@settings(max_examples=40, deadline=None)
@given(lines=baskets)
def test_orders_listed_together_take_the_same_answer(lines):
    """Lines grouped by order (read as runs) and shuffled (grouped by a sort) agree."""
    grouped = lines.sort_values("order_id", kind="stable").reset_index(drop=True)
    want = self_join(lines)
    got = custval.affinity(grouped)
    assert got[["product_a", "product_b", "count"]].equals(
        want[["product_a", "product_b", "count"]]
    )


def test_every_basket_function_ignores_how_lines_are_listed():
    lines = simulate_baskets(400, 30, seed=11)
    # Two orders of one customer at the same time: ordered by order id in either listing.
    tie = lines[lines["order_id"] == lines["order_id"].iloc[0]].assign(order_id=10**9)
    lines = pd.concat([lines, tie], ignore_index=True)
    shuffled = lines.sample(frac=1.0, random_state=3).reset_index(drop=True)
    grouped = lines.sort_values("order_id", kind="stable").reset_index(drop=True)
    runs = shuffled.sort_values(["customer_id", "order_id"], kind="stable")
    for listing in (grouped, runs):
        pd.testing.assert_frame_equal(custval.affinity(listing), custval.affinity(shuffled))
        pd.testing.assert_frame_equal(
            custval.next_purchase(listing, order="order_id"),
            custval.next_purchase(shuffled, order="order_id"),
        )
        ours = custval.basket_kpis(listing, amount="amount")
        theirs = custval.basket_kpis(shuffled, amount="amount")
        assert repr(ours) == repr(theirs) and ours.revenue == theirs.revenue
        pd.testing.assert_frame_equal(ours.by_size, theirs.by_size)
        pd.testing.assert_frame_equal(ours.attach_rate, theirs.attach_rate)


@pytest.mark.parametrize(
    ("dtype", "ids"),
    [
        ("int8", [-128, 5, 127]),  # a narrow type whose range overflows it
        ("uint64", [2**64 - 1, 3, 2**63]),  # beyond int64: labels hashed instead
        ("int64", [-(10**15), 0, 10**15]),  # a range far wider than the lines
        ("int32", [2, 0, 1]),  # exactly 0..n-1: ids are their own codes
        ("int16", [7, 5, 6]),  # every id of the range present, not from 0
        ("int64", [3, 65_535, 40_000]),  # narrow from 0, with gaps: ids are the codes
        ("int64", [10**9 + 65_535, 10**9, 10**9 + 7]),  # narrow far from 0: offsets
        ("int64", [0, 65_536, 7]),  # just too wide for offsets: ranked
    ],
)
def test_integer_products_of_any_type_and_range(dtype, ids):
    lines = pd.DataFrame(
        {"order_id": [1, 1, 2, 2, 2, 3], "product_id": [ids[i] for i in (0, 1, 0, 1, 2, 2)]}
    ).astype({"product_id": dtype})
    got = custval.affinity(lines)
    a, b, c = sorted(ids)
    assert got["product_a"].tolist() == [a, a, b] and got["product_b"].tolist() == [b, c, c]
    assert got["product_a"].dtype == dtype
    by_name = {a: "a", b: "b", c: "c"}
    named = custval.affinity(lines.assign(product_id=lines["product_id"].map(by_name)))
    assert got["count"].tolist() == named["count"].tolist()
