"""The data sets shipped in the package are the public files, unchanged."""

from __future__ import annotations

import custval
import numpy as np
import pandas as pd
import pytest
from conftest import DATA
from custval.datasets import load_cdnow, load_cdnow_summary, load_donations, load_sbg_cohorts


def shared(name: str):
    if not (DATA / name).exists():
        pytest.skip("../shared/data is not available")
    return DATA / name


def test_cdnow_log_is_the_public_sample(cdnow_sample):
    log = load_cdnow()
    assert list(log.columns) == ["customer_id", "timestamp", "cds", "amount"]
    pd.testing.assert_series_equal(log["customer_id"], cdnow_sample["customer_id"])
    pd.testing.assert_series_equal(log["timestamp"], cdnow_sample["timestamp"])
    np.testing.assert_array_equal(log["amount"], cdnow_sample["amount"])
    np.testing.assert_array_equal(log["cds"], cdnow_sample["cds"])


def test_cdnow_summary_is_the_published_table_with_its_time_unit():
    raw = pd.read_csv(shared("cdnow_customers_summary.csv"))
    summary = load_cdnow_summary()
    np.testing.assert_array_equal(summary.index, raw["ID"])
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(summary[column], raw[column])
    assert custval.BetaGeo().fit(summary).time_unit_ == {"freq": "D", "freq_multiplier": 7.0}
    as_arrow = load_cdnow_summary(output="arrow")
    assert as_arrow.column_names[0] == "customer_id"
    assert custval.BetaGeo().fit(as_arrow).time_unit_ == {"freq": "D", "freq_multiplier": 7.0}


def test_donations_and_sbg_cohorts_are_the_public_files():
    pd.testing.assert_frame_equal(load_donations(), pd.read_csv(shared("donations.csv")))
    pd.testing.assert_frame_equal(load_sbg_cohorts(), pd.read_csv(shared("sbg_cohorts.csv")))
