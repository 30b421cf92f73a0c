"""Every accepted input type, output mirroring, metadata and clear errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import custval
import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from custval import cli


@pytest.fixture(scope="module")
def log() -> pa.Table:
    return custval.datasets.simulate_transactions(3_000, seed=11, output="arrow")


@pytest.fixture(scope="module")
def expected(log) -> pa.Table:
    return custval.rfm_summary(log, amount="amount", output="arrow")


def _same(result, expected: pa.Table) -> None:
    if isinstance(result, pd.DataFrame):
        result = pa.Table.from_pandas(result.reset_index(), preserve_index=False)
    elif isinstance(result, pl.DataFrame):
        result = result.to_arrow()
    result = result.replace_schema_metadata(None).sort_by("customer_id")
    expected = expected.replace_schema_metadata(None).sort_by("customer_id")
    for name in ("frequency", "recency", "T", "monetary_value", "n_orders", "revenue"):
        assert result.column(name).to_pylist() == expected.column(name).to_pylist(), name
    assert [str(v) for v in result.column("customer_id").to_pylist()] == [
        str(v) for v in expected.column("customer_id").to_pylist()
    ]


def test_output_mirrors_input(log):
    assert isinstance(custval.rfm_summary(log), pa.Table)
    assert isinstance(custval.rfm_summary(log.to_pandas()), pd.DataFrame)
    assert isinstance(custval.rfm_summary(pl.from_arrow(log)), pl.DataFrame)
    assert isinstance(custval.rfm_summary(log, output="polars"), pl.DataFrame)
    frame = custval.rfm_summary(log.to_pandas())
    assert frame.index.name == "customer_id"
    with pytest.raises(ValueError, match="output must be one of"):
        custval.rfm_summary(log, output="excel")


def test_polars_results_carry_the_time_unit(log):
    out = custval.rfm_summary(pl.from_arrow(log), freq="W", observation_end="2025-01-05")
    meta = custval._frames.metadata_of(out)
    assert (meta["freq"], meta["freq_multiplier"]) == ("W", 1.0)
    model = custval.BetaGeo().fit(out)
    assert model.time_unit_ == {"freq": "W", "freq_multiplier": 1.0}
    assert custval._frames.metadata_of(out.head(5)) == {}  # a derived frame has none
    assert custval._frames.metadata_of(pl.from_arrow(log)) == {}


def test_arrow_metadata_carries_the_time_unit(log):
    import json

    out = custval.rfm_summary(log, freq="W", freq_multiplier=1, observation_end="2025-01-05")
    meta = json.loads(out.schema.metadata[b"custval"])
    assert meta["freq"] == "W"
    assert meta["observation_end"].startswith("2025-01-05T23:59:59")


def test_every_input_kind_agrees(log, expected, tmp_path):
    frame = log.to_pandas()
    inputs = {
        "pandas": frame,
        "polars": pl.from_arrow(log),
        "record_batch": log.combine_chunks().to_batches()[0],
        "reader": pa.RecordBatchReader.from_batches(log.schema, log.to_batches(max_chunksize=999)),
        "duckdb": duckdb.from_arrow(log),
        "dict": {name: frame[name].to_numpy() for name in frame.columns},
    }
    parquet = tmp_path / "log.parquet"
    pq.write_table(log, parquet, row_group_size=log.num_rows // 4)
    assert pq.ParquetFile(parquet).metadata.num_row_groups >= 3
    inputs["parquet"] = parquet
    inputs["parquet_glob"] = str(tmp_path / "*.parquet")
    big = custval.datasets.simulate_transactions(30_000, seed=12, output="arrow")
    csv = tmp_path / "log.csv"
    pacsv.write_csv(big, csv)
    assert csv.stat().st_size > 2 * (1 << 20)  # larger than pyarrow's 1 MiB CSV block
    for data in inputs.values():
        _same(custval.rfm_summary(data, amount="amount"), expected)
    _same(
        custval.rfm_summary(csv, amount="amount"),
        custval.rfm_summary(big, amount="amount", output="arrow"),
    )


@pytest.mark.parametrize(
    "id_type",
    [pa.int8(), pa.int32(), pa.uint32(), pa.uint64(), pa.string(), pa.large_string(), "dict"],
)
def test_customer_id_types(id_type):
    ids = [3, 1, 3, 2, 1]
    if id_type in (pa.string(), pa.large_string(), "dict"):
        ids = [f"id{i}" for i in ids]
    array = pa.array(ids).dictionary_encode() if id_type == "dict" else pa.array(ids, id_type)
    table = pa.table(
        {
            "customer_id": array,
            "timestamp": pa.array(np.arange(5) * 86_400, pa.timestamp("s")),
        }
    )
    out = custval.rfm_summary(table)
    assert out.num_rows == 3
    assert out.column("frequency").to_pylist() == [1.0, 1.0, 0.0]
    assert out.column("customer_id").type == array.type


@pytest.mark.parametrize(
    "time_type",
    [
        pa.timestamp("s"),
        pa.timestamp("ms"),
        pa.timestamp("us"),
        pa.timestamp("ns"),
        pa.date32(),
        pa.date64(),
    ],
)
def test_time_types(time_type):
    days = np.datetime64("2024-01-01") + np.array([0, 1, 1, 40]).astype("timedelta64[D]")
    table = pa.table({"customer_id": [1, 1, 1, 1], "timestamp": pa.array(days).cast(time_type)})
    out = custval.rfm_summary(table, freq="D")
    assert out.column("frequency").to_pylist() == [2.0]
    assert out.column("recency").to_pylist() == [40.0]
    assert out.column("first_purchase").type == time_type


def test_timezone_aware_times_use_their_own_zone():
    # 23:30 and 00:30 local in Tokyo are different days there, the same day in UTC.
    local = pd.to_datetime(["2024-03-01 23:30", "2024-03-02 00:30"]).tz_localize("Asia/Tokyo")
    frame = pd.DataFrame({"customer_id": [1, 1], "timestamp": local})
    out = custval.rfm_summary(frame)
    assert out.loc[1, "frequency"] == 1
    utc = frame.assign(timestamp=frame["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None))
    assert custval.rfm_summary(utc).loc[1, "frequency"] == 0
    assert out.loc[1, "first_purchase"] == local[0]


def test_amount_types():
    base = {"customer_id": [1, 1], "timestamp": pa.array([0, 86_400], pa.timestamp("s"))}
    for amounts, expected in [
        (pa.array([1, 2], pa.int32()), Decimal("3.00")),
        (pa.array([2.675, 1], pa.float32()), Decimal("3.68")),
        (pa.array([Decimal("1.5"), Decimal("2.25")], pa.decimal128(10, 2)), Decimal("3.75")),
    ]:
        out = custval.rfm_summary(
            pa.table({**base, "amount": amounts}), amount="amount", money="decimal"
        )
        assert out.column("revenue").to_pylist() == [expected]


def test_empty_input_gives_empty_result_with_schema():
    table = pa.table(
        {
            "customer_id": pa.array([], pa.int64()),
            "timestamp": pa.array([], pa.timestamp("s")),
            "amount": pa.array([], pa.float64()),
        }
    )
    out = custval.rfm_summary(table, amount="amount")
    assert out.num_rows == 0
    assert "monetary_value" in out.column_names
    assert custval.kpis(table, amount="amount").customers == 0


def test_missing_column_names_close_matches(log):
    with pytest.raises(custval.ColumnNotFoundError, match="did you mean 'amount'"):
        custval.rfm_summary(log, amount="amonut")
    with pytest.raises(custval.ColumnNotFoundError, match="customer"):
        custval.rfm_summary(log, customer="customer")


def test_wrong_dtypes_raise_schema_errors():
    base = {"timestamp": pa.array([0], pa.timestamp("s"))}
    with pytest.raises(custval.SchemaError, match="customer ids"):
        custval.rfm_summary(pa.table({**base, "customer_id": [1.5]}))
    with pytest.raises(custval.SchemaError, match="'amount'.*numbers"):
        custval.rfm_summary(
            pa.table({**base, "customer_id": [1], "amount": [True]}), amount="amount"
        )
    with pytest.raises(custval.SchemaError, match="'timestamp'.*timestamps"):
        custval.rfm_summary(pa.table({"customer_id": [1], "timestamp": [1.0]}))
    assert issubclass(custval.SchemaError, ValueError)


def test_nulls_raise_with_count_or_are_dropped_with_warning():
    frame = pd.DataFrame(
        {
            "customer_id": pd.array([1, None, 2, None], dtype="Int64"),
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", None, "2024-01-03"]),
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )
    with pytest.raises(custval.DataError, match="'customer_id': 2 rows are null"):
        custval.rfm_summary(frame, amount="amount")
    with pytest.warns(UserWarning, match="dropped 3 rows"):
        out = custval.rfm_summary(frame, amount="amount", dropna=True)
    assert list(out.index) == [1]
    assert out.attrs["custval"]["rows_dropped_null"] == 3


def test_nan_inf_and_overflowing_amounts_raise():
    base = {"customer_id": [1, 1, 2], "timestamp": pd.to_datetime(["2024-01-01"] * 3)}
    # pandas reads NaN as missing: a null error; Arrow keeps NaN as a value.
    with pytest.raises(custval.DataError, match="'amount': 1 rows are null"):
        custval.rfm_summary(
            pd.DataFrame({**base, "amount": [np.nan, np.inf, 1.0]}), amount="amount"
        )
    table = pa.table(
        {
            **{k: pa.array(v) for k, v in base.items()},
            "amount": pa.array([np.nan, np.inf, 1.0], from_pandas=False),
        }
    )
    with pytest.raises(custval.DataError, match=r"'amount'.*NaN.*\(2 rows\)"):
        custval.rfm_summary(table, amount="amount")
    with pytest.raises(custval.DataError, match="'amount'"):
        custval.rfm_summary(pd.DataFrame({**base, "amount": [1e300, 1.0, 1.0]}), amount="amount")
    huge = Decimal("9" * 38)
    table = pa.table(
        {
            **{k: pa.array(v) for k, v in base.items()},
            "amount": pa.array([huge] * 3, pa.decimal128(38, 0)),
        }
    )
    with pytest.raises(custval.DataError, match="overflow"):
        custval.rfm_summary(table, amount="amount")


def test_observation_end_before_first_transaction():
    frame = pd.DataFrame({"customer_id": [1], "timestamp": pd.to_datetime(["2024-05-01"])})
    with pytest.raises(custval.CustvalError, match="observation_end"):
        custval.rfm_summary(frame, observation_end="2020-01-01", freq="D")


def test_unparseable_csv_values(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "customer_id,timestamp,amount\n1,2024-01-01,1.5\n2,2024-01-02,abc\n3,2024-01-03,2\n"
    )
    with pytest.raises(custval.DataError, match="'amount': 1 rows are not parseable"):
        custval.rfm_summary(path, amount="amount")
    path.write_text("customer_id,timestamp\n1,2024-01-01\n3,not a date\n4,2024-13-45\n")
    with pytest.raises(custval.DataError, match="'timestamp': 2 rows are not parseable"):
        custval.rfm_summary(path)


def test_bad_options():
    frame = pd.DataFrame({"customer_id": [1], "timestamp": pd.to_datetime(["2024-05-01"])})
    with pytest.raises(custval.CustvalError, match="'D'"):
        custval.rfm_summary(frame, freq="fortnight")
    with pytest.raises(ValueError, match="money"):
        custval.rfm_summary(frame, money="cents")


def test_cli_demo_summary_and_version(tmp_path, capsys):
    assert cli.main(["demo", "--customers", "500", "--top", "3"]) == 0
    printed = capsys.readouterr().out
    assert "top 3 customers by revenue" in printed and "repeat_customer_rate" in printed
    source = tmp_path / "log.parquet"
    pq.write_table(custval.datasets.simulate_transactions(200, output="arrow"), source)
    target = tmp_path / "summary.csv"
    assert cli.main(["summary", str(source), "-o", str(target), "--amount", "amount"]) == 0
    assert pd.read_csv(target).shape[0] == 200
    assert cli.main(["summary", str(tmp_path / "missing.parquet"), "-o", str(target)]) == 2
    version = subprocess.run(
        [sys.executable, "-m", "custval", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"custval {custval.__version__}"


def test_simulator_is_deterministic_and_fast_enough():
    a = custval.datasets.simulate_transactions(2_000, seed=4, output="arrow")
    b = custval.datasets.simulate_transactions(2_000, seed=4, output="arrow")
    assert a.equals(b)
    assert not a.equals(custval.datasets.simulate_transactions(2_000, seed=5, output="arrow"))
    assert pc_unique(a) == 2_000


def pc_unique(table: pa.Table) -> int:
    return len(table.column("customer_id").unique())


@pytest.fixture
def streamed(monkeypatch):
    """Small record batches, a count of those handed to the core, and no whole-file reads."""
    monkeypatch.setattr(custval._files, "BATCH_ROWS", 2_000)
    given = {"batches": 0}
    record_batches = custval._files.FileLog._record_batches

    def counted(self):
        for batch in record_batches(self):
            given["batches"] += 1
            yield batch

    def whole(*args, **kwargs):
        raise AssertionError("the file was read whole")

    monkeypatch.setattr(custval._files.FileLog, "_record_batches", counted)
    monkeypatch.setattr(custval._input, "_read_path", whole)
    return given


def test_files_are_aggregated_batch_by_batch(log, streamed, tmp_path):
    table = log.append_column("shop", pa.array(np.arange(log.num_rows) % 3).cast(pa.string()))
    table = table.append_column("cost", pc.multiply(table.column("amount"), 0.6))
    # Parquet stores seconds as milliseconds.
    at = table.schema.get_field_index("timestamp")
    table = table.set_column(at, "timestamp", table.column(at).cast(pa.timestamp("ms")))
    path = tmp_path / "log.parquet"
    pq.write_table(table, path, row_group_size=table.num_rows // 5)
    calls = {
        "summary": lambda data: custval.rfm_summary(
            data, amount="amount", order="order_id", output="arrow"
        ),
        "holdout": lambda data: custval.calibration_holdout(
            data, amount="amount", calibration_end="2024-06-30", output="arrow"
        ),
        "kpis": lambda data: custval.kpis(
            data, amount="amount", order="order_id", cost="cost", start="2023-06-01"
        ).to_dict(),
        "string ids": lambda data: custval.rfm_summary(
            data, customer="shop", amount="amount", output="arrow"
        ),
        "retention": lambda data: custval.retention(
            data, amount="amount", order="order_id", output="arrow"
        ),
        "cohorts": lambda data: custval.cohorts(
            data, customer="shop", amount="amount", value="revenue", output="arrow"
        ),
    }
    for name, call in calls.items():
        streamed["batches"] = 0
        assert call(path) == call(table), name
        assert streamed["batches"] >= table.num_rows // 2_000, name
    parts = tmp_path / "parts"
    parts.mkdir()
    third = table.num_rows // 3
    for k in range(3):  # a glob of files in log order, each of several batches
        pq.write_table(table.slice(k * third, third if k < 2 else None), parts / f"log-{k}.parquet")
    streamed["batches"] = 0
    assert calls["summary"](str(parts / "*.parquet")) == calls["summary"](table)
    assert streamed["batches"] >= 3
    csv = tmp_path / "log.csv"
    pacsv.write_csv(table, csv)
    purchases = ["first_purchase", "last_purchase"]  # CSV reads nanoseconds
    assert calls["summary"](csv).drop_columns(purchases) == calls["summary"](table).drop_columns(
        purchases
    )


def test_streamed_files_keep_their_types_and_count_nulls(streamed, tmp_path):
    days = np.datetime64("2024-01-01") + (np.arange(9_000) // 7).astype("timedelta64[D]")
    ids = pa.array(np.arange(9_000) % 500, pa.int32())
    amounts = [None if i % 1_000 == 999 else 1.25 for i in range(9_000)]
    table = pa.table(
        {
            "customer_id": ids,
            "timestamp": pa.array(days).cast(pa.date32()),
            "amount": pa.array(amounts, pa.float64()),
        }
    )
    path = tmp_path / "dates.parquet"
    pq.write_table(table, path, row_group_size=1_500)
    with pytest.raises(custval.DataError, match="'amount': 9 rows are null"):
        custval.rfm_summary(path, amount="amount")
    assert streamed["batches"] == 6  # counted to the end, for the total
    with pytest.warns(UserWarning, match="dropped 9 rows"):
        out = custval.rfm_summary(path, amount="amount", dropna=True, output="arrow")
    assert json.loads(out.schema.metadata[b"custval"])["rows_dropped_null"] == 9
    assert out.column("customer_id").type == pa.int32()
    assert out.column("first_purchase").type == pa.date32()
    kept = table.filter(pc.is_valid(table.column("amount")))
    expected = custval.rfm_summary(kept, amount="amount", output="arrow")
    assert out.replace_schema_metadata(None).equals(expected.replace_schema_metadata(None))


def test_unsorted_files_are_read_whole(monkeypatch, tmp_path):
    monkeypatch.setattr(custval._files, "BATCH_ROWS", 1_000)
    log = custval.datasets.simulate_transactions(2_000, seed=3, output="arrow")
    shuffled = log.take(np.random.default_rng(0).permutation(log.num_rows))
    at = shuffled.schema.get_field_index("timestamp")
    shuffled = shuffled.set_column(at, "timestamp", shuffled.column(at).cast(pa.timestamp("ms")))
    path = tmp_path / "shuffled.parquet"
    pq.write_table(shuffled, path, row_group_size=1_000)
    assert pq.ParquetFile(path).metadata.num_row_groups >= 3
    whole_reads = []
    read_path = custval._input._read_path
    monkeypatch.setattr(
        custval._input, "_read_path", lambda *a: whole_reads.append(a) or read_path(*a)
    )
    out = custval.rfm_summary(path, amount="amount", output="arrow")
    assert len(whole_reads) == 1
    # Retention and cohorts take rows in any order: they stream even this file.
    for metric in (custval.retention, custval.cohorts):
        assert metric(path, amount="amount", output="arrow") == metric(
            shuffled, amount="amount", output="arrow"
        )
    assert len(whole_reads) == 1
    expected = custval.rfm_summary(shuffled, amount="amount", output="arrow")
    assert out.replace_schema_metadata(None).equals(expected.replace_schema_metadata(None))


@pytest.mark.parametrize("call", ["rfm_summary", "retention", "cohorts"])
def test_times_too_far_for_periods_are_counted(call):
    # Second timestamps 3.2M years either side of 1970: their hours do not fit the states.
    far = 100_000_000_000_000
    times = pa.array(np.array([0, far, -far, 7, far + 1], dtype="datetime64[s]"))
    log = pa.table({"customer_id": [1, 2, 3, 4, 5], "timestamp": times, "amount": [1.0] * 5})
    with pytest.raises(custval.DataError, match=r"'timestamp'.*too far from 1970.*\(3 rows\)"):
        getattr(custval, call)(log, freq="h")
    if call != "cohorts":  # years fit (a cohort matrix of 6M years is refused for its size)
        getattr(custval, call)(log, freq="Y")
