"""Net Promoter Score against a plain pandas reference."""

from __future__ import annotations

import math

import custval
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def ref_nps(scores: list[int], low: int, high: int) -> tuple[float, float]:
    s = pd.Series(scores)
    cut = {(0, 10): (6, 8), (1, 10): (6, 8), (1, 7): (5, 6), (1, 5): (3, 4)}[(low, high)]
    p = (s > cut[1]).mean()
    d = (s <= cut[0]).mean()
    return 100 * (p - d), 100 * math.sqrt((p + d - (p - d) ** 2) / len(s))


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from([(0, 10), (1, 10), (1, 7), (1, 5)]).flatmap(
        lambda sc: st.tuples(st.just(sc), st.lists(st.integers(*sc), min_size=1, max_size=200))
    )
)
def test_nps_matches_reference(case):
    (low, high), scores = case
    got = custval.nps(scores, scale=(low, high))
    score, stderr = ref_nps(scores, low, high)
    assert math.isclose(got.nps, score, abs_tol=1e-9)
    assert math.isclose(got.stderr, stderr, abs_tol=1e-9)
    assert math.isclose(got.ci_high - got.ci_low, 2 * 1.959963984540054 * stderr, abs_tol=1e-9)
    assert got.promoters + got.passives + got.detractors == got.n == len(scores)


def test_nps_frames_groups_and_invalid():
    frame = pd.DataFrame({"g": ["a", "a", "b", "b", "b"], "s": [10, 0, 9, 9, 7]})
    by = custval.nps(frame, score="s", by="g")
    assert by.loc["a", "nps"] == 0.0 and by.loc["b", "nps"] == pytest.approx(200 / 3)
    assert isinstance(custval.nps(pl.from_pandas(frame), score="s", by="g"), pl.DataFrame)
    assert custval.nps(frame, score="s").n == 5
    with pytest.raises(custval.DataError, match="3 scores"):
        custval.nps([1, 11, 2.5, None, 5])
    with pytest.warns(UserWarning, match="dropped 3"):
        dropped = custval.nps([1, 11, 2.5, None, 5], dropna=True)
    assert dropped.n == 2
    with pytest.raises(ValueError, match="cutoffs"):
        custval.nps([1, 2], scale=(1, 4))
    assert custval.nps([1, 4, 3], scale=(1, 4), cutoffs=(2, 3)).nps == 0.0
