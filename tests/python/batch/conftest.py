"""Fixtures of the ``custval run`` tests (helpers in ``runs.py``, beside this file)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from custval import cli

sys.path.append(os.path.dirname(__file__))  # after tests/python: its conftest stays `conftest`

from runs import Run, simulated_log, write_parts  # noqa: E402


@pytest.fixture(scope="session")
def small_log() -> pa.Table:
    return simulated_log(3_000)


@pytest.fixture
def log_dir(tmp_path, small_log) -> Path:
    return write_parts(small_log, tmp_path / "log")


@pytest.fixture
def run_cli(capsys):
    """``custval run ARGS`` in this process."""

    def run(*args: str) -> Run:
        capsys.readouterr()
        code = cli.main(["run", *map(str, args)])
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run
