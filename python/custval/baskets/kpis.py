"""Basket KPIs: order size, multi-item share, AOV by basket size, attach rates."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from custval import _args, _native
from custval.baskets import lines as _lines


@dataclass(frozen=True)
class BasketKpis:
    """The basket figures of a log (money exact; ``None`` without an amount column).

    ``by_size`` has one row per basket size in items (``size``; the last size holds every
    bigger order) with ``orders``, ``share`` of orders, ``revenue`` and ``aov``;
    ``attach_rate`` one row per product with ``orders`` holding it, ``attached_orders``
    holding another product too and their ratio ``attach_rate``.
    """

    orders: int
    lines: int
    items: int
    items_per_order: float
    products_per_order: float
    multi_item_share: float
    multi_product_share: float
    revenue: float | Decimal | None
    aov: float | Decimal | None
    by_size: Any
    attach_rate: Any

    def __repr__(self) -> str:
        figures = {k: v for k, v in vars(self).items() if k not in ("by_size", "attach_rate")}
        rows = [f"  {name:<20} {value}" for name, value in figures.items()]
        return "BasketKpis(\n" + "\n".join(rows) + "\n)"


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def basket_kpis(
    data: Any,
    *,
    order: str = "order_id",
    product: str = "product_id",
    amount: str | None = None,
    quantity: str | None = None,
    max_size: int = 10,
    output: str = "auto",
    money: str = "float",
    scale: int = 2,
    dropna: bool = False,
) -> BasketKpis:
    """Items per order, distinct products per order, multi-item share, AOV by basket size
    and each product's attach rate.

    A basket is an order's lines; its size is its items (Σ ``quantity``, or its lines without
    a quantity column). ``multi_item_share`` = orders with ≥ 2 items / orders;
    ``multi_product_share`` = orders with ≥ 2 distinct products / orders; a product's
    ``attach_rate`` = orders holding it and another product / orders holding it. ``amount``
    is each line's total value; revenue is summed exactly, AOV rounded half to even at
    ``scale`` + 6 places.

    Parameters
    ----------
    data : DataFrame, pyarrow Table, polars DataFrame, duckdb relation, dict or path
        The order lines.
    order, product, amount, quantity : str
        Column names (``quantity``: whole units ≥ 1 a line).
    max_size : int
        The largest size listed in ``by_size``; bigger orders are counted there.
    output : {"auto", "pandas", "polars", "arrow"}
        Type of the ``by_size`` and ``attach_rate`` frames (pandas: indexed by ``size`` and
        ``product``).
    money : {"float", "decimal"}
        Money as floats or exact decimals.
    scale : int
        Decimal places amounts are rounded to (half to even) before summing.
    dropna : bool
        Drop lines with nulls (with a warning) instead of raising :class:`DataError`.

    Examples
    --------
    >>> import pandas as pd, custval
    >>> lines = pd.DataFrame({
    ...     "order_id": [1, 1, 1, 2, 3, 3],
    ...     "product_id": ["tea", "cup", "cup", "tea", "tea", "pot"],
    ...     "amount": [4.50, 3.00, 3.00, 4.50, 4.50, 20.00],
    ... })
    >>> k = custval.basket_kpis(lines, amount="amount")
    >>> k.orders, k.items_per_order, k.products_per_order, k.multi_product_share, k.aov
    (3, 2.0, 1.6666666666666667, 0.6666666666666666, 13.16666667)
    >>> k.by_size
          orders     share  revenue   aov
    size
    1          1  0.333333      4.5   4.5
    2          1  0.333333     24.5  24.5
    3          1  0.333333     10.5  10.5
    >>> k.attach_rate
                orders  attached_orders  attach_rate
    product_id
    cup              1                1     1.000000
    pot              1                1     1.000000
    tea              3                2     0.666667
    """
    decimal = _args.check_money(money)
    max_size = _args.check_whole(max_size, "max_size")
    coded = _lines.read(
        data, order=order, product=product, amount=amount, quantity=quantity, dropna=dropna
    )
    totals, by_size, attach = _native.basket_kpis(
        coded.batch,
        coded.names,
        n_products=coded.n_products,
        scale=scale,
        max_size=max_size,
        decimal=decimal,
    )
    orders = int(totals["orders"] or 0)

    def money_out(minor: int | None, at: int | None) -> float | Decimal | None:
        if minor is None or at is None:
            return None
        exact = Decimal(minor).scaleb(-at)
        return exact if decimal else float(exact)

    sizes = pa.Table.from_batches([by_size])
    sizes = sizes.add_column(
        2, "share", pa.array([_ratio(n, orders) for n in sizes.column("orders").to_pylist()])
    )
    attached = pa.Table.from_batches([attach])
    # Every coded product is in some order: no zero denominator.
    rates = pc.divide(
        attached.column("attached_orders").cast(pa.float64()), attached.column("orders")
    )
    attached = attached.add_column(0, product, coded.products).append_column("attach_rate", rates)
    return BasketKpis(
        orders=orders,
        lines=int(totals["lines"] or 0),
        items=int(totals["items"] or 0),
        items_per_order=_ratio(int(totals["items"] or 0), orders),
        products_per_order=_ratio(int(totals["product_slots"] or 0), orders),
        multi_item_share=_ratio(int(totals["multi_item_orders"] or 0), orders),
        multi_product_share=_ratio(int(totals["multi_product_orders"] or 0), orders),
        revenue=money_out(totals["revenue"], totals["scale"]),
        aov=money_out(totals["aov"], totals["mean_scale"]),
        by_size=coded.output(sizes, output, index="size"),
        attach_rate=coded.output(attached, output, index=product),
    )
