"""Every Examples section in the public modules runs as a doctest."""

from __future__ import annotations

import doctest
import importlib
import sys

import pytest

# The modules with examples, by area (models and metrics are packages: one module a topic).
AREAS = {
    "summary": ["custval.summary"],
    "datasets": ["custval.datasets.simulate"],
    "threads": ["custval.threads"],
    "baskets": [
        "custval.baskets.kpis",
        "custval.baskets.pairs",
        "custval.baskets.recommendations",
    ],
    "models": ["custval.models.purchase", "custval.models.spend", "custval.models.contractual"],
    "clv": ["custval.models.clv"],
    "tracking": ["custval.models.tracking"],
    "evaluation": [
        "custval.models.evaluation",
        "custval.models.comparison",
        "custval.models.risk",
    ],
    "datasets_public": ["custval.datasets.public"],
    "plotting": [
        "custval.plotting.models",
        "custval.plotting.evaluation",
        "custval.plotting.tracking",
        "custval.plotting.metrics",
        "custval.plotting.spend",
        "custval.plotting.baskets",
    ],
    "batch": ["custval.batch", "custval.batch.pipeline"],
    "metrics": [
        "custval.metrics.growth",
        "custval.metrics.segments",
        "custval.metrics.economics",
        "custval.metrics.nps",
    ],
    "dask": ["custval.dask.summary", "custval.dask.metrics", "custval.dask.models"],
}


@pytest.mark.parametrize("area", AREAS)
def test_docstring_examples(area):
    if area == "plotting":
        pytest.importorskip("matplotlib")
    if area == "dask":
        pytest.importorskip("dask.dataframe")
    for name in AREAS[area]:
        if area == "plotting":
            # Each example makes its own figure: closed module by module, so that pyplot
            # never holds more than its warning's 20.
            import matplotlib.pyplot as plt

            plt.close("all")
        module = importlib.import_module(name)
        failures, tried = doctest.testmod(
            module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
        )
        assert tried > 0, f"{name} has no examples"
        assert failures == 0
    if "matplotlib.pyplot" in sys.modules:  # the plotting examples open figures
        sys.modules["matplotlib.pyplot"].close("all")
