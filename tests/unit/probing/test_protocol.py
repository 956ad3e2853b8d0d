"""The cell protocol: K-fold below the precision target's sentence count, one held-out split
above it (training side capped), and the cluster bootstrap against the binomial interval."""

from __future__ import annotations

import numpy as np
import pytest

from probe_rnn.errors import ConfigError
from probe_rnn.probing.protocol import (
    bootstrap_draws,
    needed_test_sentences,
    percentile_interval,
    plan_splits,
)


def test_needed_sentences_follow_the_worst_case_binomial_half_width() -> None:
    for precision in (0.01, 0.02, 0.05):
        need = needed_test_sentences(precision)
        half = 1.959964 * np.sqrt(0.25 / need)  # the normal-approximation half-width at p=.5
        assert half <= precision < 1.959964 * np.sqrt(0.25 / (need - 1))
    with pytest.raises(ConfigError, match="precision must be a number in"):
        needed_test_sentences(0)


def test_k_fold_up_to_folds_times_need_then_held_out_with_the_training_side_at_its_cap(
) -> None:
    need = needed_test_sentences(0.1)  # 97
    groups = np.repeat(np.arange(5 * need), 2)  # 485 sentences, 2 rows each
    at_cap = plan_splits(groups, folds=5, seeds=[0], precision=0.1)
    assert at_cap.protocol == "kfold" and len(at_cap.splits[0]) == 5
    tested = np.sort(np.concatenate([te for _, te in at_cap.splits[0]]))
    np.testing.assert_array_equal(tested, np.arange(len(groups)))
    assert {len(np.unique(groups[tr])) for tr, _ in at_cap.splits[0]} == {4 * need}
    over = np.repeat(np.arange(5 * need + 1), 2)
    plan = plan_splits(over, folds=5, seeds=[0], precision=0.1)
    assert plan.protocol == "holdout" and set(plan.splits) == {0, 1}  # two seeds at least
    for sd in (0, 1):
        (tr, te), = plan.splits[sd]
        assert len(np.unique(over[te])) == need
        assert len(np.unique(over[tr])) == 4 * need  # the K-fold cell's training size
        assert not set(over[tr]) & set(over[te])
    assert not np.array_equal(plan.splits[0][0][1], plan.splits[1][0][1])  # own splits
    assert plan.used_sentences == 5 * need and plan.sentences == 5 * need + 1
    three = plan_splits(np.arange(1000), folds=3, seeds=[4, 5, 6], precision=0.1)
    assert set(three.splits) == {4, 5, 6}
    (btr, bte), = three.splits[4]
    assert (len(btr), len(bte), three.used_sentences) == (2 * 97, 97, 3 * 97)


def test_bootstrap_interval_matches_the_binomial_one_for_single_row_sentences() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    correct = (rng.random(n) < 0.8).astype(float)
    point, draws = bootstrap_draws({0: np.arange(n)}, {0: correct[:, None]}, seed=0)
    low, high = percentile_interval(draws)
    p = correct.mean()
    half = 1.959964 * np.sqrt(p * (1 - p) / n)
    assert point[0] == pytest.approx(p)
    assert low[0] == pytest.approx(p - half, abs=0.25 * half)
    assert high[0] == pytest.approx(p + half, abs=0.25 * half)


def test_bootstrap_resamples_whole_sentences() -> None:
    # 200 sentences of 10 identical rows: the effective sample is 200, not 2000
    rng = np.random.default_rng(1)
    per_sentence = (rng.random(200) < 0.5).astype(float)
    groups = np.repeat(np.arange(200), 10)
    values = np.repeat(per_sentence, 10)[:, None]
    _, draws = bootstrap_draws({0: groups}, {0: values}, seed=0)
    low, high = percentile_interval(draws)
    p = per_sentence.mean()
    half = 1.959964 * np.sqrt(p * (1 - p) / 200)
    assert high[0] - low[0] == pytest.approx(2 * half, rel=0.25)
