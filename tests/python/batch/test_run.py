"""``custval run`` on good input: every output, exact money, byte-identical re-runs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import ROUND_HALF_EVEN, Decimal

import custval
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from custval import cli
from runs import COLUMNS, write_parts

DATA_FILES = ["customers", "retention", "cohorts", "segments"]
CUSTOMER_COLUMNS = {
    "customer_id",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "n_orders",
    "revenue",
    "aov",
    "first_purchase",
    "last_purchase",
    "r_score",
    "f_score",
    "m_score",
    "rfm_score",
    "segment",
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
    "at_risk",
}


def _ledger(log: pa.Table) -> Decimal:
    """The log's revenue as an accountant adds it: each amount to the cent, then summed."""
    cent = Decimal("0.01")
    return sum(
        (Decimal(repr(a)).quantize(cent, ROUND_HALF_EVEN) for a in log["amount"].to_pylist()),
        Decimal(0),
    )


def _ledger_by_customer(log: pa.Table) -> dict[int, Decimal]:
    cent = Decimal("0.01")
    out: dict[int, Decimal] = {}
    for customer, amount in zip(
        log["customer_id"].to_pylist(), log["amount"].to_pylist(), strict=True
    ):
        cents = Decimal(repr(amount)).quantize(cent, ROUND_HALF_EVEN)
        out[customer] = out.get(customer, Decimal(0)) + cents
    return out


@pytest.fixture
def done(tmp_path, log_dir, run_cli):
    out = tmp_path / "out" / "2024-12-31"
    result = run_cli(log_dir, "-o", out, *COLUMNS)
    assert result.code == 0, result.stderr
    return out, result


def test_writes_every_output_and_a_summary_line(done, small_log):
    out, result = done
    names = {p.name for p in out.iterdir()}
    assert names == {f"{n}.parquet" for n in DATA_FILES} | {
        "kpis.json",
        "model.json",
        "report.html",
        "manifest.json",
    }
    customers = pq.read_table(out / "customers.parquet")
    assert set(customers.column_names) == CUSTOMER_COLUMNS
    assert customers.num_rows == pc.count_distinct(small_log["customer_id"]).as_py()
    assert customers["customer_id"].null_count == 0
    assert customers["clv"].null_count == 0 and pc.min(customers["clv"]).as_py() >= 0
    p_alive = customers["p_alive"]
    assert 0 <= pc.min(p_alive).as_py() and pc.max(p_alive).as_py() <= 1
    # The stdout summary is the last line, JSON, with what Airflow's XCom needs.
    summary = result.summary
    assert summary["status"] == "complete" and summary["exit_code"] == 0
    assert summary["customers"] == customers.num_rows
    assert summary["model"] in ("bgnbd", "mbgnbd", "pnbd")
    assert summary["at_risk"] == pc.sum(customers["at_risk"]).as_py()
    assert "customers.parquet" in summary["outputs"]


def test_money_reconciles_to_the_cent(done, small_log):
    out, _ = done
    ledger = _ledger(small_log)
    customers = pq.read_table(out / "customers.parquet")
    assert pa.types.is_decimal(customers.schema.field("revenue").type)
    assert sum(customers["revenue"].to_pylist(), Decimal(0)) == ledger
    kpis = json.loads((out / "kpis.json").read_text())
    assert Decimal(kpis["revenue"]) == ledger
    retention = pq.read_table(out / "retention.parquet")
    assert sum(retention["revenue"].to_pylist(), Decimal(0)) == ledger
    segments = pq.read_table(out / "segments.parquet")
    assert sum(segments["revenue"].to_pylist(), Decimal(0)) == ledger
    assert sum(segments["customers"].to_pylist()) == customers.num_rows


def test_model_json_has_parameters_errors_unit_evaluation_and_comparison(done):
    out, result = done
    model = json.loads((out / "model.json").read_text())
    assert model["status"] == "fitted" and model["model"] == result.summary["model"]
    purchase = model["purchase_model"]
    assert set(purchase["params"]) == set(purchase["standard_errors"])
    assert all(v > 0 for v in purchase["standard_errors"].values())
    assert purchase["time_unit"]["freq"] == "D"
    names = [row["name"] for row in model["comparison"]]
    assert set(names) == {"bgnbd", "mbgnbd", "pnbd", "baseline"}
    assert names[0] == model["model"]  # auto picks the lowest holdout MAE
    maes = [row["mae"] for row in model["comparison"]]
    assert maes == sorted(maes)
    assert model["evaluation"]["metrics"]["mae"] == pytest.approx(maes[0])
    assert model["spend_model"]["model"] == "GammaGamma"


def test_manifest_lists_inputs_options_versions_checksums(done, log_dir, small_log):
    out, _ = done
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    files = manifest["inputs"]["files"]
    assert [f["path"] for f in files] == [str(p) for p in sorted(log_dir.iterdir())]
    assert sum(f["rows"] for f in files) == small_log.num_rows
    assert manifest["options"]["model"] == "auto"
    assert manifest["versions"]["custval"] == custval.__version__
    for name, entry in manifest["outputs"].items():
        data = (out / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), name
    assert manifest["dropped"]["rows_after_observation_end"]["count"] == 0
    assert set(manifest["timings_s"]) >= {"summary", "model", "scoring", "report"}


def test_rerun_gives_byte_identical_data_files(tmp_path, log_dir, run_cli):
    digests = []
    for name in ("a", "b"):
        result = run_cli(log_dir, "-o", tmp_path / name, *COLUMNS, "--no-report")
        assert result.code == 0, result.stderr
        files = [f"{n}.parquet" for n in DATA_FILES] + ["kpis.json", "model.json"]
        digests.append({f: (tmp_path / name / f).read_bytes() for f in files})
    assert digests[0] == digests[1]


def test_rerun_replaces_the_previous_output_whole(tmp_path, log_dir, run_cli):
    out = tmp_path / "out"
    assert run_cli(log_dir, "-o", out, *COLUMNS, "--no-report").code == 0
    (out / "stale.txt").write_text("from an older run")
    assert run_cli(log_dir, "-o", out, *COLUMNS, "--no-report").code == 0
    assert not (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_observation_end_drops_later_rows_and_counts_them(tmp_path, log_dir, small_log, run_cli):
    end = "2024-06-30"
    result = run_cli(
        log_dir, "-o", tmp_path / "out", *COLUMNS, "--observation-end", end, "--no-report"
    )
    assert result.code == 0, result.stderr
    after = pc.greater_equal(
        small_log["timestamp"], pa.scalar(dt.datetime(2024, 7, 1), pa.timestamp("s"))
    )
    later = pc.sum(after).as_py()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["dropped"]["rows_after_observation_end"]["count"] == later > 0
    retention = pq.read_table(tmp_path / "out" / "retention.parquet")
    assert retention["period"][-1].as_py().strftime("%Y-%m") == "2024-06"
    kept = small_log.filter(pc.invert(after))
    assert Decimal(result.summary["revenue"]) == _ledger(kept)


def test_csv_inputs_and_outputs_with_a_given_model(tmp_path, small_log, run_cli):
    logs = tmp_path / "csv"
    logs.mkdir()
    half = small_log.num_rows // 2
    pacsv.write_csv(small_log.slice(0, half), logs / "a.csv")
    pacsv.write_csv(small_log.slice(half), logs / "b.csv")
    out = tmp_path / "out"
    result = run_cli(
        str(logs / "*.csv"),
        "-o",
        out,
        *COLUMNS,
        "--model",
        "bgnbd",
        "--format",
        "csv",
        "--no-report",
        "--log-format",
        "json",
    )
    assert result.code == 0, result.stderr
    assert result.summary["model"] == "bgnbd"
    model = json.loads((out / "model.json").read_text())
    assert [r["name"] for r in model["comparison"]] in (
        ["bgnbd", "baseline"],
        ["baseline", "bgnbd"],
    )
    # Each customer's revenue, read as the text the CSV holds, is that customer's ledger.
    customers = pacsv.read_csv(
        out / "customers.csv",
        convert_options=pacsv.ConvertOptions(column_types={"revenue": pa.string()}),
    )
    written = dict(
        zip(
            customers["customer_id"].to_pylist(),
            map(Decimal, customers["revenue"].to_pylist()),
            strict=True,
        )
    )
    assert written == _ledger_by_customer(small_log)
    assert sum(written.values(), Decimal(0)) == _ledger(small_log)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [f["rows"] for f in manifest["inputs"]["files"]] == [half, small_log.num_rows - half]
    for line in result.stderr.strip().splitlines():  # --log-format json: one object a line
        assert {"time", "level", "message"} <= set(json.loads(line))


def test_help_is_complete_with_an_example(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--customer",
        "--time",
        "--amount",
        "--order",
        "--freq",
        "--observation-end",
        "--calibration-end",
        "--model",
        "--horizon",
        "--horizon-unit",
        "--discount-rate",
        "--margin",
        "--format",
        "--no-report",
        "--log-format",
        "--threads",
        "exit codes",
        "example:",
        "custval run ",
    ):
        assert option in text, option


def test_usage_errors_exit_2(tmp_path, log_dir, run_cli, capsys):
    result = run_cli(log_dir, "-o", tmp_path / "out", "--observation-end", "someday")
    assert result.code == 2 and "--observation-end" in result.stderr
    result = run_cli(
        log_dir,
        "-o",
        tmp_path / "out",
        "--calibration-end",
        "2024-12-31",
        "--observation-end",
        "2024-06-30",
    )
    assert result.code == 2 and "before" in result.stderr
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", str(log_dir), "-o", str(tmp_path / "out"), "--model", "magic"])
    assert exit_.value.code == 2
    assert not (tmp_path / "out").exists()


def test_threads_do_not_change_the_outputs(tmp_path, log_dir, run_cli):
    previous = custval.get_num_threads()
    try:
        for threads in ("1", "2"):
            result = run_cli(
                log_dir, "-o", tmp_path / threads, *COLUMNS, "--no-report", "--threads", threads
            )
            assert result.code == 0, result.stderr
    finally:
        custval.set_num_threads(previous)
    for name in ("customers.parquet", "model.json"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes()


def test_parts_split_differently_give_the_same_customers(tmp_path, small_log, run_cli):
    for parts in (1, 4):
        logs = write_parts(small_log, tmp_path / f"log{parts}", parts=parts)
        assert run_cli(logs, "-o", tmp_path / f"out{parts}", *COLUMNS, "--no-report").code == 0
    a = (tmp_path / "out1" / "customers.parquet").read_bytes()
    assert a == (tmp_path / "out4" / "customers.parquet").read_bytes()
