"""Basket KPIs: exact money, sizes and attach rates against a plain pandas reference."""

from __future__ import annotations

from decimal import Decimal

import custval
import numpy as np
import pandas as pd
import pytest
from custval.datasets import simulate_baskets


def test_matches_a_pandas_reference():
    lines = simulate_baskets(500, 60, seed=3)
    k = custval.basket_kpis(lines, amount="amount", quantity="quantity", max_size=6)
    orders = lines.groupby("order_id").agg(
        items=("quantity", "sum"), products=("product_id", "nunique"), revenue=("amount", "sum")
    )
    assert k.orders == len(orders) and k.lines == len(lines)
    assert k.items == orders["items"].sum()
    assert k.items_per_order == pytest.approx(orders["items"].mean(), rel=1e-12)
    assert k.products_per_order == pytest.approx(orders["products"].mean(), rel=1e-12)
    assert k.multi_item_share == pytest.approx((orders["items"] >= 2).mean(), rel=1e-12)
    assert k.multi_product_share == pytest.approx((orders["products"] >= 2).mean(), rel=1e-12)
    cents = (lines["amount"] * 100).round().astype("int64")
    assert k.revenue == cents.sum() / 100
    size = orders["items"].clip(upper=6)
    by_size = orders.groupby(size).agg(orders=("items", "size"), revenue=("revenue", "sum"))
    np.testing.assert_array_equal(k.by_size.index, by_size.index)
    np.testing.assert_array_equal(k.by_size["orders"], by_size["orders"])
    np.testing.assert_allclose(k.by_size["revenue"], by_size["revenue"], rtol=1e-12)
    multi = orders.index[orders["products"] >= 2]
    holders = lines.groupby("product_id")["order_id"].agg(set)
    for product, rate in k.attach_rate["attach_rate"].items():
        held = holders[product]
        assert rate == pytest.approx(len(held & set(multi)) / len(held), rel=1e-12)


def test_money_is_exact():
    lines = pd.DataFrame(
        {"order_id": [1] * 10 + [2], "product_id": range(11), "amount": [0.1] * 10 + [0.2]}
    )
    k = custval.basket_kpis(lines, amount="amount", money="decimal")
    assert k.revenue == Decimal("1.20")
    assert k.aov == Decimal("0.600000")
    assert k.by_size.loc[10, "revenue"] == Decimal("1.00")


def test_bad_input_is_named():
    lines = pd.DataFrame({"order_id": [1, 2], "product_id": [1, None], "quantity": [1, 0]})
    with pytest.raises(custval.DataError, match="'product_id'.*1 rows"):
        custval.basket_kpis(lines)
    lines["product_id"] = [1, 2]
    with pytest.raises(custval.DataError, match="'quantity'.*1 rows"):
        custval.basket_kpis(lines, quantity="quantity")
    with pytest.raises(custval.ColumnNotFoundError, match="sku"):
        custval.basket_kpis(lines, product="sku")
