"""Every Examples section in the public modules runs as a doctest."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["custval.summary", "custval.datasets", "custval.models", "custval.clv"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, tried = doctest.testmod(
        module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    )
    assert tried > 0, f"{name} has no examples"
    assert failures == 0
