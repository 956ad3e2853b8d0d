"""Report verdicts: the one verdict rule on a paired difference, Holm-corrected over a family;
the difference against the majority baseline of the same cell, recomputed here with scipy and
numpy from the values the cells wrote (per split, per bootstrap draw, or the interval alone);
claims as JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from probe_rnn.probing.intervals import Difference
from probe_rnn.probing.verdict_wording import ABOVE, BELOW, WITHIN_NOISE
from probe_rnn.report.verdicts import (
    MAJORITY,
    Claim,
    claims_json,
    holm_verdicts,
    majority_difference,
    split_ratio,
    verdict,
)


def test_the_report_verdict_is_the_rule_on_a_difference() -> None:
    d = Difference(0.04, 0.01, 0.07, "paired over 5 splits (Nadeau–Bengio)", 0.02)
    assert verdict(d, d.p_value) == ABOVE and verdict(None, 0.0) == WITHIN_NOISE
    assert verdict(d, math.nan) == ABOVE  # no p-value: the interval excludes 0
    # Holm over two: 0.02 * 2 = 0.04 <= 0.05, 0.03 * 1 -> max(0.04, 0.03)
    e = Difference(-0.03, -0.05, -0.01, "paired over 5 splits (Nadeau–Bengio)", 0.03)
    assert holm_verdicts([d, e]) == [ABOVE, BELOW]
    # both significant alone; Holm: 0.03 * 2 = 0.06 > 0.05 stops the step-down at once
    g = Difference(0.04, 0.01, 0.07, "paired over 5 splits (Nadeau–Bengio)", 0.03)
    f = Difference(-0.03, -0.05, -0.01, "paired over 5 splits (Nadeau–Bengio)", 0.04)
    assert [verdict(x, x.p_value) for x in (g, f)] == [ABOVE, BELOW]
    assert holm_verdicts([g, f, None]) == [WITHIN_NOISE, WITHIN_NOISE, WITHIN_NOISE]


def _results(acc: float, maj: float, *, t: float | None = None, ci: tuple[float, float] = (
        math.nan, math.nan), view: str = "output@last", n_train: int = 80,
        n_test: int = 20, folds: int = 5) -> pd.DataFrame:
    base = {"model": "trained", "view": view, "task": "label", "probe": "logistic",
            "t": np.nan if t is None else float(t), "n_train": n_train, "n_test": n_test,
            "folds": folds}
    return pd.DataFrame([
        {**base, "metric": "accuracy", "value": acc, "ci_low": ci[0], "ci_high": ci[1]},
        {**base, "metric": "majority_accuracy", "value": maj, "ci_low": np.nan,
         "ci_high": np.nan},
    ])


def _values(metric: str, values: list[float], *, draws: bool = False, t: float | None = None,
            view: str = "output@last") -> pd.DataFrame:
    return pd.DataFrame([
        {"model": "trained", "view": view, "task": "label", "probe": "logistic",
         "t": np.nan if t is None else float(t), "metric": metric, "value": v, "seed": 0,
         "split": -1 if draws else i, "draw": i if draws else -1}
        for i, v in enumerate(values)])


def _nadeau_bengio(d: np.ndarray, ratio: float) -> tuple[float, float, float, float]:
    """Mean, 95% interval and two-sided p of per-split differences, written out by hand."""
    n = len(d)
    se = math.sqrt(np.var(d, ddof=1) * (1 / n + ratio))
    q = stats.t.ppf(0.975, n - 1)
    mean = float(np.mean(d))
    return mean, mean - q * se, mean + q * se, 2 * stats.t.sf(abs(mean) / se, n - 1)


def test_split_ratio_of_a_sentence_row_and_of_a_position() -> None:
    row = pd.Series({"n_train": 80, "n_test": 20, "folds": 5})
    assert split_ratio(row, None) == 0.25
    assert split_ratio(row, 3) == 1 / 4  # 1 / (folds - 1), whatever n_test / n_train
    assert split_ratio(pd.Series({"n_train": 80, "n_test": 20, "folds": 3}), 0) == 0.5
    assert split_ratio(pd.Series({"n_train": 0, "n_test": 20, "folds": 5}), None) == 0.0
    assert split_ratio(pd.Series({"n_train": 80, "n_test": 20, "folds": 1}), 2) == 0.0


@pytest.mark.parametrize("t", [None, 4])
def test_majority_difference_is_paired_over_the_splits(t: int | None) -> None:
    acc = [0.81, 0.78, 0.85, 0.80, 0.83]
    maj = [0.60, 0.62, 0.58, 0.61, 0.59]
    noise = _values("accuracy", [0.1] * 5, view="mean(output)", t=t)  # another cell
    values = pd.concat([_values("accuracy", acc, t=t), _values("majority_accuracy", maj, t=t),
                        _values("accuracy", [0.0] * 7, draws=True, t=t), noise])
    results = pd.concat([_results(0.814, 0.6, t=t, n_train=90, n_test=10),
                         _results(0.1, 0.6, view="mean(output)", t=t)])
    d = majority_difference(results, values, "output@last", "label", "logistic", t)
    ratio = 10 / 90 if t is None else 1 / 4
    mean, low, high, p = _nadeau_bengio(np.subtract(acc, maj), ratio)
    assert d is not None and d.paired and "5 splits" in d.method
    assert (d.value, d.low, d.high, d.p_value) == pytest.approx((mean, low, high, p), rel=1e-12)
    # the position's cell is not the sentence's: asking the other gives nothing
    assert majority_difference(results, values, "output@last", "label", "logistic",
                               None if t is not None else 4) is None


def test_majority_difference_of_a_held_out_cell_uses_its_bootstrap_draws() -> None:
    rng = np.random.default_rng(3)
    draws = list(0.7 + 0.03 * rng.standard_normal(199))
    values = _values("accuracy", draws, draws=True)
    d = majority_difference(_results(0.71, 0.65), values, "output@last", "label", "logistic")
    diffs = np.asarray(draws) - 0.65
    tail = min((diffs <= 0).sum(), (diffs >= 0).sum())
    assert d is not None and d.method.startswith("paired bootstrap (199 resamples")
    assert d.value == pytest.approx(0.71 - 0.65, abs=1e-15)
    assert (d.low, d.high) == pytest.approx(tuple(np.percentile(diffs, [2.5, 97.5])))
    assert d.p_value == pytest.approx(min(1.0, 2 * (tail + 1) / 200))


def test_without_values_the_accuracy_interval_meets_the_point_majority_rate() -> None:
    d = majority_difference(_results(0.75, 0.6, ci=(0.7, 0.8)), None, "output@last", "label",
                            "logistic")
    se = (0.2 - 0.1) / (2 * stats.norm.ppf(0.975))
    assert d is not None and not d.paired
    assert (d.value, d.low, d.high) == pytest.approx((0.15, 0.1, 0.2))
    assert d.p_value == pytest.approx(2 * stats.norm.sf(0.15 / se))
    bare = majority_difference(_results(0.75, 0.6), pd.DataFrame(), "output@last", "label",
                               "logistic")
    assert bare is not None and bare.value == pytest.approx(0.15)
    assert not bare.has_ci and math.isnan(bare.p_value)


def test_a_missing_or_unfinished_side_gives_no_difference() -> None:
    results = _results(0.75, 0.6)
    assert majority_difference(results[results["metric"] == "accuracy"], None, "output@last",
                               "label", "logistic") is None
    assert majority_difference(_results(math.nan, 0.6), None, "output@last", "label",
                               "logistic") is None
    assert majority_difference(results, None, "output@last", "length", "logistic") is None
    # probe=None reads whichever probe the cell has
    assert majority_difference(results, None, "output@last", "label", None) is not None


def test_claims_are_written_as_sorted_json_with_their_defaults() -> None:
    claims = [Claim("output@last", MAJORITY, "accuracy", ABOVE, "f1", "label", "logistic"),
              Claim("h_n/L0/fwd", "output@last", "bits", WITHIN_NOISE, "f2", "label",
                    "logistic", t=3, model_b="random-init")]
    text = claims_json(claims)
    back = json.loads(text)
    assert back[0] == {"a": "output@last", "b": "majority", "metric": "accuracy",
                       "verdict": ABOVE, "family": "f1", "task": "label", "probe": "logistic",
                       "t": None, "model": "trained", "model_b": "trained"}
    assert back[1]["t"] == 3 and back[1]["model_b"] == "random-init"
    assert list(back[0]) == sorted(back[0])
    assert claims_json([]) == "[]"
