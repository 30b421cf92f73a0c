"""Bad input to the basket functions: a custval error naming the problem, or a documented
empty result — never a panic."""

from __future__ import annotations

import custval
import pandas as pd
import pytest


def lines(**extra) -> pd.DataFrame:
    return pd.DataFrame(
        {"order_id": [1, 1, 2], "product_id": ["a", "b", "a"], "customer_id": [7, 7, 8], **extra}
    )


def test_no_product_column():
    with pytest.raises(custval.ColumnNotFoundError, match="'sku'"):
        custval.affinity(lines(), product="sku")


def test_null_products_are_counted_or_dropped():
    data = lines()
    data.loc[1, "product_id"] = None
    with pytest.raises(custval.DataError, match="'product_id': 1 rows are null"):
        custval.affinity(data)
    with pytest.warns(UserWarning, match="dropped 1 rows"):
        assert custval.affinity(data, dropna=True).empty


def test_orders_with_lines_of_different_customers():
    data = lines(customer_id=[7, 8, 8])
    with pytest.raises(custval.DataError, match="'customer_id'.*different customers.*1 rows"):
        custval.affinity(data, customer="customer_id")


def test_a_single_product_log_has_no_pairs():
    data = pd.DataFrame({"order_id": [1, 2, 2], "product_id": ["a", "a", "a"]})
    got = custval.affinity(data)
    assert got.empty and "lift" in got.columns
    assert custval.basket_kpis(data).attach_rate["attach_rate"].tolist() == [0.0]


@pytest.mark.parametrize("bad", [0, -0.5, 1.5, float("nan")])
def test_min_support_outside_the_unit_interval(bad):
    with pytest.raises(custval.CustvalError, match="min_support"):
        custval.affinity(lines(), min_support=bad)


def test_unknown_level_and_missing_customer():
    with pytest.raises(custval.CustvalError, match="level"):
        custval.affinity(lines(), level="week")
    with pytest.raises(custval.CustvalError, match="customer"):
        custval.affinity(lines(), level="customer")


def test_float_product_ids_are_a_schema_error():
    data = lines(product_id=[1.5, 2.5, 1.5])
    with pytest.raises(custval.SchemaError, match="'product_id'"):
        custval.affinity(data)
