"""Simple CLV, CAC, CLV:CAC and unit economics per cohort (DESIGN.md §4 worked examples)."""

from __future__ import annotations

import math

import custval
import numpy as np
import pytest


def test_worked_examples():
    assert custval.simple_clv(aov=25, purchase_frequency=4, margin=0.4, churn_rate=0.1) == 400
    assert custval.simple_clv(aov=100, purchase_frequency=3, lifespan=5) == 1500
    assert custval.retention_cost(100_000, 1_000) == 100
    result = custval.clv_to_cac(100, 20)
    assert (result.ratio, result.difference) == (5.0, 80.0)
    assert custval.cac(5_000, 250) == 20


def test_simple_clv_discounting():
    m = 10.0
    by_sum = sum(m * 1.1**-t for t in range(4))
    got = custval.simple_clv(aov=10, purchase_frequency=1, lifespan=4, discount_rate=0.1)
    assert math.isclose(got, by_sum)
    # Geometric survival: Σ m (1−c)^t (1+d)^−t = m (1+d) / (d + c).
    perpetual = custval.simple_clv(aov=10, purchase_frequency=1, churn_rate=0.2, discount_rate=0.1)
    series = sum(m * (0.8 / 1.1) ** t for t in range(2000))
    assert math.isclose(perpetual, series)
    with pytest.raises(ValueError):
        custval.simple_clv(aov=1, purchase_frequency=1)
    with pytest.raises(ValueError):
        custval.cac(10, 0)


def test_unit_economics_mapping_and_total():
    log = custval.datasets.simulate_transactions(
        3_000, seed=4, start="2023-01-01", end="2023-06-30"
    )
    total = custval.unit_economics(log, amount="amount", acquisition_spend=30_000, margin=0.3)
    assert math.isclose((total["spend"]).sum(), 30_000)
    assert np.allclose(total["cac"], 10.0)
    assert np.allclose(total["clv"], total["margin_per_period"] / total["churn_rate"])
    mapping = {"2023-01": 9_000, "2023-02-15": 6_000}
    by_month = custval.unit_economics(log, amount="amount", acquisition_spend=mapping)
    assert by_month["spend"].iloc[:2].tolist() == [9_000.0, 6_000.0]
    assert by_month["spend"].iloc[2:].isna().all()
    with pytest.raises(ValueError, match="no new customers"):
        custval.unit_economics(log, amount="amount", acquisition_spend={"2030-01": 5})
