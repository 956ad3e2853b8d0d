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


def test_small_cells_are_k_fold_large_ones_one_capped_held_out_split() -> None:
    groups = np.repeat(np.arange(300), 2)  # 300 sentences, 2 rows each
    plan = plan_splits(groups, folds=5, seeds=[0, 1], precision=0.1)  # need = 97
    assert plan.protocol == "holdout" and set(plan.splits) == {0, 1}
    (tr, te), = plan.splits[0]
    assert len(np.unique(groups[te])) == needed_test_sentences(0.1)
    assert len(np.unique(groups[tr])) == min(300 - 97, 4 * 97)
    assert not set(groups[tr]) & set(groups[te])
    assert plan.used_sentences == plan.sentences == 300  # 97 + 203 < 97 + 4 * 97: no cap
    big = plan_splits(np.arange(1000), folds=3, seeds=[0], precision=0.1)
    (btr, bte), = big.splits[0]
    assert (len(btr), len(bte), big.used_sentences) == (2 * 97, 97, 3 * 97)  # capped
    other, = plan.splits[1]
    assert not np.array_equal(other[1], te)  # each seed its own split
    small = plan_splits(groups, folds=5, seeds=[0], precision=0.01)
    assert small.protocol == "kfold" and len(small.splits[0]) == 5
    tested = np.sort(np.concatenate([te for _, te in small.splits[0]]))
    np.testing.assert_array_equal(tested, np.arange(len(groups)))


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
