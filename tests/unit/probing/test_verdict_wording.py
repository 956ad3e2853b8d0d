"""The one verdict rule and its wording, on constructed differences, and the study verdicts
that are written with it (the report's are in tests/unit/report/test_verdicts.py)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from probe_rnn.probing.verdict_wording import (
    ABOVE,
    ALPHA,
    BELOW,
    BEST,
    IDENTICAL_TO_BEST,
    WITHIN_NOISE,
    better_by,
    decide,
    within_noise,
    worse_by,
)
from probe_rnn.studies.stats import pair_verdict, ties_best, vs_best


def test_a_p_value_decides_alone_when_there_is_one() -> None:
    assert decide(0.02, -0.01, 0.05, p=0.01) == ABOVE  # the interval is not consulted
    assert decide(-0.02, -0.05, -0.01, p=0.2) == WITHIN_NOISE
    assert decide(-0.02, p=ALPHA) == BELOW  # at the level exactly: rejected
    assert decide(0.02, p=ALPHA * 1.01) == WITHIN_NOISE
    assert decide(0.02, p=0.03, alpha=0.01) == WITHIN_NOISE


def test_without_a_p_value_the_interval_decides() -> None:
    assert decide(0.03, 0.01, 0.05) == ABOVE
    assert decide(-0.03, -0.05, -0.01) == BELOW
    assert decide(0.03, -0.01, 0.05) == WITHIN_NOISE
    assert decide(0.03, 0.0, 0.05) == WITHIN_NOISE  # an end on 0 does not exclude it
    assert decide(0.03) == WITHIN_NOISE  # neither: nothing shown
    assert decide(0.03, math.nan, 0.05) == WITHIN_NOISE


def test_the_phrases() -> None:
    assert within_noise() == "within noise"
    assert within_noise("best", 0.034) == ("within noise of best (minimum detectable "
                                           "difference 3.4 points)")
    assert within_noise("`h_n@L0.cat`") == "within noise of `h_n@L0.cat`"
    assert within_noise(mdd=0.5, scale=1.0, unit="bits") == (
        "within noise (minimum detectable difference 0.5 bits)")
    assert better_by(-0.2, "b") == "b better by 20.0 points"
    assert better_by(0.0123) == "better by 1.2 points"
    assert worse_by(0.031) == "measurably worse by 3.1 points"


def test_the_study_verdicts_are_written_with_the_same_words() -> None:
    assert pair_verdict("a", "b", -0.2, -0.3, -0.1) == better_by(-0.2, "b")
    assert pair_verdict("a", "b", 0.01, -0.1, 0.1, mdd=0.034) == within_noise(mdd=0.034)
    summary = pd.DataFrame({"readout": ["x", "y", "z"], "mean": [0.9, 0.85, 0.9]})
    pairs = pd.DataFrame([
        {"readout_a": "x", "readout_b": "y", "mean_diff": 0.05, "ci_low": 0.02, "ci_high": 0.08,
         "p_value": 0.01, "mdd": 0.02, "verdict": ""},
        {"readout_a": "z", "readout_b": "x", "mean_diff": 0.0, "ci_low": -0.01, "ci_high": 0.01,
         "p_value": 1.0, "mdd": 0.02, "verdict": ""},
    ])
    got = vs_best(summary, pairs).tolist()
    # Holm over two: 0.01 * 2 = 0.02 for y; 1.0 for z
    assert got == [BEST, f"{worse_by(0.05)} (Holm p = 0.02)", within_noise("best", 0.02)]
    assert [ties_best(v) for v in got] == [True, False, True]
    assert ties_best(IDENTICAL_TO_BEST)


@pytest.mark.parametrize("low, high", [(0.01, 0.05), (-0.05, -0.01), (-0.01, 0.05)])
def test_the_opening_and_the_study_agree_on_a_pair(low: float, high: float) -> None:
    mean = (low + high) / 2
    word = decide(mean, low, high)
    text = pair_verdict("last", "hidden", mean, low, high)
    assert (word == WITHIN_NOISE) == text.startswith(WITHIN_NOISE)
    if word != WITHIN_NOISE:
        assert text == better_by(mean, "last" if word == ABOVE else "hidden")
