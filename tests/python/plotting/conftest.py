from __future__ import annotations

import custval
import pytest
from custval.datasets import load_cdnow, load_cdnow_summary

plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def no_figures_left():
    """Each test starts and ends with no pyplot figure (the plots never leak any)."""
    plt.close("all")
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def log():
    return load_cdnow()


@pytest.fixture(scope="session")
def summary():
    return load_cdnow_summary()


@pytest.fixture(scope="session")
def bgnbd(summary):
    return custval.BetaGeo().fit(summary)


@pytest.fixture(scope="session")
def pnbd(summary):
    return custval.ParetoNBD().fit(summary)


@pytest.fixture(scope="session")
def holdout(log):
    return custval.calibration_holdout(
        log, calibration_end="1997-09-30", amount="amount", freq="D", freq_multiplier=7
    )


@pytest.fixture(scope="session")
def full_summary(log):
    return custval.rfm_summary(log, amount="amount", freq="D", freq_multiplier=7)


@pytest.fixture
def own_axes():
    """A function making an Axes on a figure pyplot does not know about."""
    from matplotlib.figure import Figure

    return lambda: Figure().subplots()
