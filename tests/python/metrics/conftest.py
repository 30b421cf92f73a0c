"""The CDNOW master log, for the metrics checkable by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import DATA

CDNOW = DATA / "CDNOW_master.txt"


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    if not CDNOW.exists():
        pytest.skip("../shared/data is not available")
    # Whitespace-separated with a header: customer_id date number_of_cds dollar_value.
    frame = pd.read_csv(CDNOW, sep=r"\s+", dtype={"date": str})
    frame["timestamp"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    frame["dollar_value"] = frame["dollar_value"].astype(float)
    frame["customer_id"] = frame["customer_id"].astype(np.int64)
    return frame
