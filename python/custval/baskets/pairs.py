"""What sells with what: product pairs bought together, and what the next order brings."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from custval import _args, _native
from custval.baskets import lines as _lines


def _named(batch: pa.RecordBatch, coded: _lines.Lines, columns: dict[str, str]) -> pa.Table:
    """``batch`` with each product-code column of ``columns`` (code column → output name)
    replaced by the product ids it stands for."""
    table = pa.Table.from_batches([batch])
    for code, name in columns.items():
        at = table.schema.get_field_index(code)
        table = table.set_column(at, name, coded.product_ids(table.column(code)))
    return table


def affinity(
    data: Any,
    *,
    order: str = "order_id",
    product: str = "product_id",
    customer: str | None = None,
    level: str = "order",
    min_support: float | None = None,
    min_count: int = 1,
    top_k: int | None = None,
    output: str = "auto",
    dropna: bool = False,
):
    """Product pairs bought together, with their association-rule measures.

    Over N baskets — orders (``level="order"``: products in the same order) or customers
    (``level="customer"``: products the same customer bought) — for products A < B:
    ``count`` = baskets holding both (duplicate lines count once), ``support`` = count / N,
    ``confidence_a_b`` = count / baskets(A) (and ``confidence_b_a``), ``lift`` =
    confidence(A → B) / support(B), ``leverage`` = support − support(A) · support(B),
    ``conviction_a_b`` = (1 − support(B)) / (1 − confidence(A → B)) (infinite when the rule
    always holds; ``conviction_b_a`` likewise), ``jaccard`` = count / baskets(A or B), and
    ``p_value``: the one-sided Fisher exact test of a positive association (the chance of at
    least ``count`` shared baskets were A and B independent). These are the measures of
    mlxtend's ``association_rules`` for the one-item rules A → B and B → A.

    Pairs are counted exactly, in parallel, after products below the thresholds are pruned
    (a pair is never in more baskets than either product), so memory stays bounded however
    many products there are. A log of a single product has no pairs: the result is empty.

    Parameters
    ----------
    data : DataFrame, pyarrow Table, polars DataFrame, duckdb relation, dict or path
        The order lines.
    order, product, customer : str
        Column names. ``customer`` is needed for ``level="customer"``; with orders, it
        checks that each order's lines carry one customer.
    level : {"order", "customer"}
        What a basket is.
    min_support : float in (0, 1], optional
        Least share of baskets holding a pair (and so each of its products).
    min_count : int
        Least number of baskets holding a pair.
    top_k : int, optional
        Keep the ``top_k`` pairs of highest lift (ties: higher count, then product ids),
        sorted that way; by default every pair, sorted by (``product_a``, ``product_b``).
    output : {"auto", "pandas", "polars", "arrow"}
        Result type (mirrors the input by default).
    dropna : bool
        Drop lines with nulls (with a warning) instead of raising :class:`DataError`.

    Returns
    -------
    One row per pair: ``product_a``, ``product_b``, ``count``, ``support``,
    ``confidence_a_b``, ``confidence_b_a``, ``lift``, ``leverage``, ``conviction_a_b``,
    ``conviction_b_a``, ``jaccard``, ``p_value``. The metadata holds ``baskets`` (N) and
    ``frequent_products`` (products passing the thresholds).

    References
    ----------
    Agrawal, R. & Srikant, R. (1994). Fast algorithms for mining association rules. VLDB.
    Linden, G., Smith, B. & York, J. (2003). Amazon.com recommendations: item-to-item
    collaborative filtering. IEEE Internet Computing 7(1).

    Examples
    --------
    >>> import pandas as pd, custval
    >>> lines = pd.DataFrame({
    ...     "order_id": [1, 1, 2, 2, 3, 3, 3, 4],
    ...     "product_id": ["tea", "cup", "tea", "cup", "tea", "pot", "cup", "pot"],
    ... })
    >>> pairs = custval.affinity(lines)
    >>> pairs[["product_a", "product_b", "count", "support", "confidence_a_b", "lift"]]
      product_a product_b  count  support  confidence_a_b      lift
    0       cup       pot      1     0.25        0.333333  0.666667
    1       cup       tea      3     0.75        1.000000  1.333333
    2       pot       tea      1     0.25        0.500000  0.666667
    """
    min_count = _args.check_whole(min_count, "min_count")
    top_k = None if top_k is None else _args.check_whole(top_k, "top_k")
    # Codes may skip ids the log lacks: a product never bought is in no pair.
    coded = _lines.read(
        data, order=order, product=product, customer=customer, dropna=dropna, product_gaps=True
    )
    batch, baskets, frequent = _native.affinity(
        coded.batch,
        coded.names,
        n_products=coded.n_products,
        level=level,
        min_support=min_support,
        min_count=min_count,
        top_k=top_k,
    )
    table = _named(batch, coded, {"product_a": "product_a", "product_b": "product_b"})
    return coded.output(table, output, level=level, baskets=baskets, frequent_products=frequent)


def next_purchase(
    data: Any,
    *,
    customer: str = "customer_id",
    time: str = "timestamp",
    product: str = "product_id",
    order: str | None = None,
    min_count: int = 1,
    top_k: int | None = None,
    output: str = "auto",
    dropna: bool = False,
):
    """For each product, the products most often bought in the customer's next order.

    A customer's orders are taken in time order (orders at the same time by order id); the
    next order of an order is the customer's following one. For product A and product B:
    ``count`` = orders holding A whose next order holds B; ``orders`` = orders holding A
    that have a next order; ``probability`` = count / orders, the chance that a customer who
    bought A and ordered again buys B in that order. B may be A itself (a repurchase).

    Parameters
    ----------
    data : DataFrame, pyarrow Table, polars DataFrame, duckdb relation, dict or path
        The order lines.
    customer, time, product, order : str
        Column names; without ``order``, a customer's lines at the same time are one order.
        Each order's lines must carry one customer.
    min_count : int
        Least ``count`` of a row.
    top_k : int, optional
        Keep each product's ``top_k`` most frequent next products.
    output : {"auto", "pandas", "polars", "arrow"}
        Result type (mirrors the input by default).
    dropna : bool
        Drop lines with nulls (with a warning) instead of raising :class:`DataError`.

    Returns
    -------
    One row per (``product``, ``next_product``) with ``count``, ``orders`` and
    ``probability``, by product and then descending count (ties by product id).

    References
    ----------
    Linden, G., Smith, B. & York, J. (2003). Amazon.com recommendations: item-to-item
    collaborative filtering. IEEE Internet Computing 7(1).

    Examples
    --------
    >>> import pandas as pd, custval
    >>> lines = pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 2, 2, 3],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-01",
    ...                                  "2024-01-05", "2024-03-01", "2024-01-09"]),
    ...     "product_id": ["phone", "case", "charger", "phone", "case", "phone"],
    ... })
    >>> custval.next_purchase(lines)
      product next_product  count  orders  probability
    0   phone         case      2       2          1.0
    1   phone      charger      1       2          0.5
    """
    min_count = _args.check_whole(min_count, "min_count")
    top_k = None if top_k is None else _args.check_whole(top_k, "top_k")
    coded = _lines.read(
        data, order=order, product=product, customer=customer, time=time, dropna=dropna
    )
    batch = _native.next_purchase(
        coded.batch, coded.names, n_products=coded.n_products, min_count=min_count, top_k=top_k
    )
    table = _named(batch, coded, {"product": "product", "next_product": "next_product"})
    return coded.output(table, output)
