from __future__ import annotations

import os
import sys

# Plots render off-screen, in tests and in their doctests alike.
os.environ.setdefault("MPLBACKEND", "Agg")
from pathlib import Path

import pandas as pd
import pytest

# Test modules import this file's neighbours (``conftest``, ``reference``) by name.
sys.path.insert(0, os.path.dirname(__file__))

ROOT = Path(__file__).resolve().parents[2]  # the repository
DATA = ROOT.parent / "shared" / "data"  # the data sets, beside the repository


def read_cdnow_sample() -> pd.DataFrame:
    raw = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "amount"],
    )
    raw["timestamp"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    return raw


@pytest.fixture(scope="session")
def cdnow_sample() -> pd.DataFrame:
    if not (DATA / "CDNOW_sample.txt").exists():
        pytest.skip("../shared/data is not available")
    return read_cdnow_sample()
