from __future__ import annotations

import warnings

import pytest


@pytest.fixture(scope="module")
def lifetimes():
    """The lifetimes package, or a skip where it is not installed."""
    with warnings.catch_warnings():
        # lifetimes sets a pandas option deprecated in pandas 3 when it is imported.
        warnings.filterwarnings(
            "ignore", message="The 'mode.chained_assignment' option is deprecated"
        )
        return pytest.importorskip("lifetimes")
