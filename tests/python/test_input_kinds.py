"""Hypothesis over the public API: the same log as pandas, polars, Arrow (one table or many
chunks), a dict of NumPy arrays or a Parquet file gives the same answer; float ids (pandas'
integer ids with a missing value) give the integer-id answer; arbitrary bad inputs give a
custval error. ``CUSTVAL_FUZZ_EXAMPLES`` raises the example count (CI keeps it small)."""

from __future__ import annotations

import os
import warnings

import custval
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reference import logs

EXAMPLES = int(os.environ.get("CUSTVAL_FUZZ_EXAMPLES", "40"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _as_pandas(result) -> pd.DataFrame:
    if isinstance(result, pl.DataFrame):
        return result.to_pandas().set_index("customer_id")
    if isinstance(result, pa.Table):
        return result.to_pandas().set_index("customer_id")
    return result


def _kinds(log: pd.DataFrame, tmp_path) -> dict:
    table = pa.Table.from_pandas(log, preserve_index=False)
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=max(1, len(log) // 3)))
    path = tmp_path / "log.parquet"
    pq.write_table(table, path, row_group_size=max(1, len(log) // 2))
    return {
        "pandas": log,
        "polars": pl.from_pandas(log),
        "arrow": table,
        "arrow chunks": chunked,
        "numpy dict": {c: log[c].to_numpy() for c in log.columns},
        "parquet": path,
    }


@SETTINGS
@given(drawn=logs())
def test_every_input_kind_gives_the_same_summary(drawn, tmp_path):
    freq, log = drawn
    log = log.drop(columns="cents")
    expected = custval.rfm_summary(log, amount="amount", freq=freq)
    for kind, data in _kinds(log, tmp_path).items():
        got = _as_pandas(custval.rfm_summary(data, amount="amount", freq=freq, output="pandas"))
        pd.testing.assert_frame_equal(got, expected, check_like=False, obj=kind)


@SETTINGS
@given(drawn=logs(), missing=st.lists(st.integers(0, 59), max_size=5))
def test_float_ids_with_missing_values_match_integer_ids(drawn, missing, tmp_path):
    freq, log = drawn
    log = log.drop(columns="cents")
    holes = sorted({m for m in missing if m < len(log)})
    floats = log.assign(customer_id=log["customer_id"].astype("float64"))
    floats.loc[holes, "customer_id"] = np.nan  # what pandas does to an id column with a gap
    kept = log.drop(index=holes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the dropped-rows warning
        for kind, data in _kinds(floats, tmp_path).items():
            if holes:
                with pytest.raises(custval.DataError, match=f"{len(holes)} rows are null"):
                    custval.rfm_summary(data, amount="amount", freq=freq)
            if len(kept) == 0:
                continue
            got = custval.rfm_summary(data, amount="amount", freq=freq, dropna=True)
            got = _as_pandas(got)
            expected = custval.rfm_summary(kept, amount="amount", freq=freq)
            assert got.index.dtype == np.int64, kind
            pd.testing.assert_frame_equal(got, expected, obj=kind, check_like=False)
            assert got.attrs.get("custval", {}).get("rows_dropped_null", 0) in (0, len(holes))


BAD_VALUES = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dates().map(str),
)


@SETTINGS
@given(
    column=st.sampled_from(["customer_id", "timestamp", "amount"]),
    values=st.lists(BAD_VALUES, min_size=1, max_size=6),
)
@example(column="customer_id", values=[1, "a"])  # ints mixed with strings
@example(column="customer_id", values=[1.5])  # an id that is not a whole number
@example(column="amount", values=["1,5"])  # a number written with a comma
def test_arbitrary_values_give_an_answer_or_a_custval_error(column, values):
    n = len(values)
    log = pd.DataFrame(
        {
            "customer_id": np.arange(n) % 3,
            "timestamp": pd.Timestamp("2021-01-01") + pd.to_timedelta(np.arange(n), unit="D"),
            "amount": np.ones(n),
        }
    )
    log[column] = pd.Series(values, dtype=object)
    for call in (custval.rfm_summary, custval.retention, custval.kpis):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call(log, amount="amount")
        except custval.CustvalError as err:
            assert str(err)


@SETTINGS
@given(
    option=st.sampled_from(["freq", "freq_multiplier", "money", "scale", "output", "customer"]),
    value=BAD_VALUES,
)
def test_arbitrary_options_give_an_answer_or_a_custval_error(option, value):
    log = pd.DataFrame({"customer_id": [1, 1, 2], "timestamp": pd.to_datetime(["2021-01-01"] * 3)})
    try:
        custval.rfm_summary(log, **{option: value})
    except custval.CustvalError as err:
        assert str(err)


FUNCTIONS = {
    "summary": lambda d: custval.rfm_summary(d, amount="amount", dropna=True),
    "holdout": lambda d: custval.calibration_holdout(
        d, calibration_end="2024-06-30", amount="amount", dropna=True
    ),
    "kpis": lambda d: pd.Series(custval.kpis(d, amount="amount", dropna=True).__dict__),
    "retention": lambda d: custval.retention(d, amount="amount", dropna=True),
    "cohorts": lambda d: custval.cohorts(d, dropna=True),
    "segments": lambda d: custval.rfm_segments(d, amount="amount", dropna=True),
}


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("kind", ["pandas", "parquet"])
def test_online_retail_style_float_ids_work_everywhere(function, kind, tmp_path):
    # UCI Online Retail's CustomerID: integer ids stored as float64 because some are missing.
    log = custval.datasets.simulate_transactions(200, seed=2)
    # Milliseconds, the unit a Parquet round trip keeps (it has no seconds).
    ints = log.drop(columns="order_id").astype({"timestamp": "datetime64[ms]"})
    floats = ints.assign(customer_id=ints["customer_id"].astype("float64"))
    floats.loc[::17, "customer_id"] = np.nan
    data = floats
    if kind == "parquet":
        data = tmp_path / "retail.parquet"
        pq.write_table(pa.Table.from_pandas(floats, preserve_index=False), data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the dropped-rows warning
        got = FUNCTIONS[function](data)
    expected = FUNCTIONS[function](ints.drop(index=floats.index[::17]))
    if isinstance(got, pd.DataFrame) and function in ("summary", "holdout", "segments"):
        assert got.index.dtype == np.int64
    if isinstance(got, pd.Series):
        pd.testing.assert_series_equal(got, expected)
    else:
        pd.testing.assert_frame_equal(got, expected)
