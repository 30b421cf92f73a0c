"""Bad input and faults: each with its exit code and a message naming the file (and the column
and row where that applies); nothing half-written is ever left in OUTDIR."""

from __future__ import annotations

import json
import signal
import time

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from runs import COLUMNS, simulated_log, start, write_parts

BAD_INPUT, NOT_CONVERGED, CANNOT_WRITE, TERMINATED = 3, 4, 5, 143


def _leftovers(parent) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".custval-" in p.name)


def test_truncated_parquet(tmp_path, log_dir, run_cli):
    victim = log_dir / "part-1.parquet"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    result = run_cli(log_dir, "-o", tmp_path / "out", *COLUMNS)
    assert result.code == BAD_INPUT
    assert str(victim) in result.stderr and "magic bytes" in result.stderr
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_corrupt_parquet_pages(tmp_path, small_log, run_cli):
    logs = tmp_path / "log"
    logs.mkdir()
    victim = logs / "part-0.parquet"
    pq.write_table(small_log, victim, compression="snappy")
    data = bytearray(victim.read_bytes())
    data[200:1200] = b"\xff" * 1000  # inside the first column chunk; the footer is intact
    victim.write_bytes(bytes(data))
    result = run_cli(logs, "-o", tmp_path / "out", *COLUMNS)
    assert result.code == BAD_INPUT
    assert f"cannot read {str(victim)!r}" in result.stderr
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_csv_row_with_an_unparseable_amount(tmp_path, small_log, run_cli):
    logs = tmp_path / "csv"
    logs.mkdir()
    pacsv.write_csv(small_log.slice(0, 100), logs / "a.csv")
    victim = logs / "b.csv"
    pacsv.write_csv(small_log.slice(100, 500), victim)
    lines = victim.read_text().splitlines()
    fields = lines[300].split(",")
    fields[3] = '"12,5O"'  # a typed-in amount: a letter O for a zero
    lines[300] = ",".join(fields)
    victim.write_text("\n".join(lines) + "\n")
    result = run_cli(logs, "-o", tmp_path / "out", *COLUMNS)
    assert result.code == BAD_INPUT
    assert str(victim) in result.stderr
    assert "Row #301" in result.stderr and "12,5O" in result.stderr  # the file's line 301


def test_schema_drift_a_missing_column(tmp_path, small_log, run_cli):
    logs = write_parts(small_log, tmp_path / "log", parts=2)
    victim = logs / "part-1.parquet"
    pq.write_table(pq.read_table(victim).drop_columns(["amount"]), victim)
    result = run_cli(logs, "-o", tmp_path / "out", *COLUMNS)
    assert result.code == BAD_INPUT
    assert str(victim) in result.stderr and "'amount' is missing" in result.stderr
    assert str(logs / "part-0.parquet") in result.stderr


def test_schema_drift_a_column_of_another_type(tmp_path, small_log, run_cli):
    logs = write_parts(small_log, tmp_path / "log", parts=2)
    victim = logs / "part-1.parquet"
    table = pq.read_table(victim)
    table = table.set_column(
        table.schema.get_field_index("amount"), "amount", table["amount"].cast(pa.string())
    )
    pq.write_table(table, victim)
    result = run_cli(logs, "-o", tmp_path / "out", *COLUMNS)
    assert result.code == BAD_INPUT
    assert str(victim) in result.stderr and "'amount' is string, but double" in result.stderr


def test_times_that_would_not_stream_are_refused(tmp_path, small_log, run_cli):
    logs = tmp_path / "log"
    logs.mkdir()
    table = small_log.set_column(
        small_log.schema.get_field_index("timestamp"),
        "timestamp",
        small_log["timestamp"].cast(pa.string()),
    )
    pq.write_table(table, logs / "a.parquet")
    result = run_cli(logs, "-o", tmp_path / "out", *COLUMNS)
    assert result.code == BAD_INPUT and "'timestamp' is string" in result.stderr


def test_an_empty_directory_and_a_glob_matching_nothing(tmp_path, run_cli):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "_SUCCESS").write_text("")  # a marker file is not input
    result = run_cli(empty, "-o", tmp_path / "out")
    assert result.code == BAD_INPUT and f"input directory {str(empty)!r} holds no files" in (
        result.stderr
    )
    pattern = str(tmp_path / "logs" / "2024-*.parquet")
    result = run_cli(pattern, "-o", tmp_path / "out")
    assert result.code == BAD_INPUT and f"input glob {pattern!r} matches no file" in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_unwritable_outdir(tmp_path, log_dir, run_cli):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where OUTDIR's parent should be")
    result = run_cli(log_dir, "-o", blocker / "out", *COLUMNS)
    assert result.code == CANNOT_WRITE
    assert f"cannot write {str(blocker)!r}" in result.stderr
    assert result.stdout == ""


def test_a_model_that_does_not_converge_still_writes_the_rest(tmp_path, run_cli):
    # Nobody buys twice: no purchase model can estimate a repeat-purchase rate.
    n = 500
    log = pa.table(
        {
            "customer_id": pa.array(range(n), pa.int64()),
            "timestamp": pa.array(
                [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)]
            ).cast(pa.timestamp("s")),
            "amount": pa.array([10.0 + i % 7 for i in range(n)]),
        }
    )
    logs = tmp_path / "log"
    logs.mkdir()
    pq.write_table(log.sort_by("timestamp"), logs / "a.parquet")
    out = tmp_path / "out"
    result = run_cli(logs, "-o", out, "--amount", "amount")
    assert result.code == NOT_CONVERGED
    assert "did not converge" in result.stderr
    assert result.summary["status"] == "model_not_converged" and result.summary["model"] is None
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "model_not_converged" and manifest["exit_code"] == 4
    assert manifest["model"]["converged"] is False and "repeat" in manifest["model"]["error"]
    customers = pq.read_table(out / "customers.parquet")
    assert customers.num_rows == n and customers["clv"].null_count == n
    assert customers["segment"].null_count == 0
    for name in ("kpis.json", "retention.parquet", "cohorts.parquet", "report.html"):
        assert (out / name).stat().st_size > 0
    assert "did not converge" in (out / "report.html").read_text()


def _terminate_during(stage: str, args: list, timeout: float = 120):
    """Start ``custval run ARGS``, send SIGTERM once it logs ``stage``; (exit code, stderr)."""
    process = start(*args)
    deadline = time.monotonic() + timeout
    seen = []
    for line in process.stderr:
        seen.append(line)
        if f": {stage}" in line:
            process.send_signal(signal.SIGTERM)
            break
        assert time.monotonic() < deadline, "".join(seen)
    _, rest = process.communicate(timeout=timeout)
    return process.returncode, "".join(seen) + rest


@pytest.fixture(scope="module")
def big_log_dir(tmp_path_factory):
    # Big enough that the report stage takes a while: SIGTERM lands while files are staged.
    return write_parts(simulated_log(20_000, seed=5), tmp_path_factory.mktemp("big") / "log")


def test_sigterm_leaves_nothing_half_written(tmp_path, big_log_dir):
    out = tmp_path / "out"
    code, stderr = _terminate_during("report", [big_log_dir, "-o", out, *COLUMNS])
    assert code == TERMINATED, stderr
    assert "terminated by SIGTERM" in stderr
    assert not out.exists() and _leftovers(tmp_path) == []


def test_sigterm_keeps_the_previous_complete_output(tmp_path, big_log_dir, run_cli):
    out = tmp_path / "out"
    assert run_cli(big_log_dir, "-o", out, *COLUMNS, "--no-report").code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, stderr = _terminate_during("report", [big_log_dir, "-o", out, *COLUMNS])
    assert code == TERMINATED, stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _leftovers(tmp_path) == []


def test_a_run_killed_outright_is_cleaned_up_by_the_next(tmp_path, log_dir, run_cli):
    process = start(log_dir, "-o", tmp_path / "out", *COLUMNS)
    for line in process.stderr:
        if ": summary" in line:
            process.kill()  # SIGKILL: no handler runs, the staging directory stays
            break
    process.communicate()
    assert _leftovers(tmp_path), "the killed run left no staging directory to clean"
    result = run_cli(log_dir, "-o", tmp_path / "out", *COLUMNS, "--no-report")
    assert result.code == 0 and "left by a run that was killed" in result.stderr
    assert _leftovers(tmp_path) == []
