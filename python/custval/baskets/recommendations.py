"""What each customer should be offered next: item-to-item recommendations and their
holdout evaluation against a popularity baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custval import _args, _frames, _input, _native
from custval.baskets import lines as _lines


def _check_neighbors(neighbors: int | None) -> int | None:
    return None if neighbors is None else _args.check_whole(neighbors, "neighbors")


def _recommended(coded: _lines.Lines, top_k: int, exclude: bool, neighbors, method: str):
    return _native.recommend(
        coded.batch,
        coded.names,
        n_products=coded.n_products,
        top_k=top_k,
        exclude_purchased=exclude,
        neighbors=neighbors,
        method=method,
    )


def recommend(
    data: Any,
    *,
    customer: str = "customer_id",
    product: str = "product_id",
    top_k: int = 10,
    exclude_purchased: bool = True,
    neighbors: int | None = 50,
    output: str = "auto",
    dropna: bool = False,
):
    """Each customer's top products by item-to-item similarity, with scores.

    Products are similar when the same customers buy them: sim(p, q) = customers who bought
    both / √(customers(p) · customers(q)), the cosine over the customer × product incidence
    (0/1). A customer's score for product p is Σ sim(p, q) over the products q they bought;
    the ``top_k`` highest scores (> 0; ties by product id) are returned, products already
    bought left out when ``exclude_purchased``. As in Amazon's item-to-item filtering, each
    product keeps its ``neighbors`` most similar products (``None``: all, the exact sum),
    which bounds the work per customer. A customer whose products nobody else bought gets no
    rows (never NaN scores).

    Parameters
    ----------
    data : DataFrame, pyarrow Table, polars DataFrame, duckdb relation, dict or path
        The order lines (any number of lines per customer and product).
    customer, product : str
        Column names.
    top_k : int
        Recommendations per customer.
    exclude_purchased : bool
        Leave out the products the customer bought.
    neighbors : int or None
        Similar products kept per product.
    output : {"auto", "pandas", "polars", "arrow"}
        Result type; pandas results are indexed by customer id.
    dropna : bool
        Drop lines with nulls (with a warning) instead of raising :class:`DataError`.

    Returns
    -------
    One row per (customer, ``rank``) with ``product`` and ``score``, customers in order of
    first appearance.

    References
    ----------
    Linden, G., Smith, B. & York, J. (2003). Amazon.com recommendations: item-to-item
    collaborative filtering. IEEE Internet Computing 7(1).

    Examples
    --------
    >>> import pandas as pd, custval
    >>> lines = pd.DataFrame({
    ...     "customer_id": ["ann", "ann", "bob", "bob", "cy", "cy", "dee"],
    ...     "product_id": ["tea", "cup", "tea", "cup", "tea", "pot", "ink"],
    ... })
    >>> custval.recommend(lines, top_k=2)
                 rank product     score
    customer_id
    ann             1     pot  0.577350
    bob             1     pot  0.577350
    cy              1     cup  0.816497
    """
    top_k = _args.check_whole(top_k, "top_k")
    neighbors = _check_neighbors(neighbors)
    coded = _lines.read(data, product=product, customer=customer, dropna=dropna)
    batch = _recommended(coded, top_k, bool(exclude_purchased), neighbors, "similar")
    return _as_output(batch, coded, customer, product, output)


def _as_output(batch: pa.RecordBatch, coded: _lines.Lines, customer: str, product: str, output):
    table = pa.Table.from_batches([batch])
    assert coded.customers is not None
    table = table.set_column(0, customer, coded.customers.take(table.column("customer")))
    table = table.set_column(2, "product", coded.product_ids(table.column("product")))
    return coded.output(table, output, index=customer)


def _keys(customers: Any, products: Any, n_products: int) -> np.ndarray:
    return np.asarray(customers, np.int64) * n_products + np.asarray(products, np.int64)


def _scores(
    recs: pa.RecordBatch, targets: np.ndarray, wanted: np.ndarray, k: int, n_products, sold
):
    """Hit rate, precision, recall at k and coverage of one method's recommendations for the
    customers in ``wanted`` (codes), against the holdout ``targets`` (customer · n + product
    keys, distinct); ``sold``: products sold in training."""
    customers = recs.column("customer").to_numpy()
    products = recs.column("product").to_numpy()
    mine = np.isin(customers, wanted)
    hit = np.isin(_keys(customers[mine], products[mine], n_products), targets)
    slots = int(wanted.max(initial=-1)) + 1
    hits = np.bincount(customers[mine], weights=hit, minlength=slots)[wanted]
    wanted_per = np.bincount(targets // n_products, minlength=slots)[wanted]
    return {
        "customers": len(wanted),
        "hit_rate": float(np.mean(hits > 0)) if len(wanted) else float("nan"),
        "precision": float(np.mean(hits / k)) if len(wanted) else float("nan"),
        "recall": float(np.mean(hits / wanted_per)) if len(wanted) else float("nan"),
        "coverage": len(np.unique(products[mine])) / sold if sold else float("nan"),
    }


def evaluate_recommendations(
    data: Any,
    *,
    split: Any,
    customer: str = "customer_id",
    time: str = "timestamp",
    product: str = "product_id",
    top_k: int = 10,
    exclude_purchased: bool = True,
    neighbors: int | None = 50,
    output: str = "auto",
    dropna: bool = False,
):
    """Scores :func:`recommend` on a time split, against a popularity baseline.

    Both methods are fitted on the lines up to ``split`` (a date means the end of that day)
    and judged on what each customer bought after it: the *targets* of a customer are the
    products bought after the split (only those not bought before when
    ``exclude_purchased``); customers with history and at least one target are scored.
    ``hit_rate`` = share of them with a target among their ``top_k`` recommendations,
    ``precision`` = mean hits / ``top_k``, ``recall`` = mean hits / targets, ``coverage`` =
    distinct products recommended to them / products sold before the split. The baseline
    offers every customer the best-selling products (by customers) they do not own.

    Parameters
    ----------
    data : DataFrame, pyarrow Table, polars DataFrame, duckdb relation, dict or path
        The order lines.
    split : date, datetime or str
        The last time of the training period.
    customer, time, product : str
        Column names.
    top_k, exclude_purchased, neighbors
        As in :func:`recommend`.
    output : {"auto", "pandas", "polars", "arrow"}
        Result type; pandas results are indexed by ``method``.
    dropna : bool
        Drop lines with nulls (with a warning) instead of raising :class:`DataError`.

    Returns
    -------
    One row per method (``item_similarity``, ``popularity``) with ``customers``,
    ``hit_rate``, ``precision``, ``recall`` and ``coverage``.

    References
    ----------
    Linden, G., Smith, B. & York, J. (2003). Amazon.com recommendations: item-to-item
    collaborative filtering. IEEE Internet Computing 7(1).

    Examples
    --------
    >>> import custval
    >>> lines = custval.datasets.simulate_baskets(n_customers=2_000, n_products=200, seed=3)
    >>> scores = custval.evaluate_recommendations(lines, split="2024-09-30")
    >>> scores[["hit_rate", "precision"]].round(3)
                     hit_rate  precision
    method
    item_similarity     0.649      0.104
    popularity          0.460      0.065
    """
    top_k = _args.check_whole(top_k, "top_k")
    neighbors = _check_neighbors(neighbors)
    exclude = bool(exclude_purchased)
    coded = _lines.read(data, product=product, customer=customer, time=time, dropna=dropna)
    assert coded.time_unit is not None
    end = _input.time_value(split, coded.time_unit, coded.timezone, name="split")
    before = pc.less_equal(coded.batch.column("time"), end)
    train = coded.filtered(before)
    after = coded.batch.filter(pc.invert(before))
    n = coded.n_products
    targets = np.unique(_keys(after.column("customer"), after.column("product"), n))
    known = np.unique(_keys(train.batch.column("customer"), train.batch.column("product"), n))
    if exclude:
        targets = np.setdiff1d(targets, known, assume_unique=True)
    wanted = np.intersect1d(np.unique(targets // n), np.unique(known // n))
    targets = targets[np.isin(targets // n, wanted)]
    sold = len(np.unique(train.batch.column("product").to_numpy()))
    rows = {}
    for method, name in (("similar", "item_similarity"), ("popular", "popularity")):
        recs = _recommended(train, top_k, exclude, neighbors, method)
        rows[name] = _scores(recs, targets, wanted, top_k, n, sold)
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "method"
    return _frames.from_pandas(frame, output, coded.kind)
