"""Choosing C (``probe_rnn.probing.tuning``): the one-standard-error rule on hand-computed
losses, at fold and at row level, and the inner folds it scores on."""

from __future__ import annotations

import numpy as np
import pytest

from probe_rnn.probing.tuning import (
    fold_one_standard_error,
    inner_folds_of,
    row_one_standard_error,
)

# mean fold losses: C=0.01 0.703, C=0.1 0.610, C=1 0.6033 (the best), C=10 0.6233
FOLD_LOSSES = {0.01: np.array([0.70, 0.72, 0.69]), 0.1: np.array([0.60, 0.62, 0.61]),
               1.0: np.array([0.58, 0.63, 0.60]), 10.0: np.array([0.59, 0.66, 0.62])}


def test_fold_rule_takes_the_most_regularised_c_within_one_standard_error() -> None:
    # C=0.1 minus the best, per fold: (0.02, -0.01, 0.01): mean 0.00667, sd 0.01528,
    # se 0.00882 -> within; C=0.01: (0.12, 0.09, 0.09): mean 0.1 > se 0.01 -> not
    assert fold_one_standard_error(FOLD_LOSSES) == 0.1


def test_fold_rule_takes_the_minimum_when_it_is_clearly_best() -> None:
    losses = {c: v.copy() for c, v in FOLD_LOSSES.items()}
    losses[0.1] = losses[1.0] + np.array([0.03, 0.031, 0.029])  # consistently worse
    assert fold_one_standard_error(losses) == 1.0
    assert fold_one_standard_error({0.5: np.array([0.3])}) == 0.5  # one fold: no error bar


def test_row_rule_on_one_split() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 1.0, size=200)
    noisy = {0.01: base + 0.3, 0.1: base + rng.normal(0, 0.05, 200) + 0.002, 1.0: base}
    assert row_one_standard_error(noisy) == 0.1  # 0.002 above the best, se about 0.0035
    clear = {0.01: base + 0.3, 0.1: base + 0.05, 1.0: base}
    assert row_one_standard_error(clear) == 1.0


@pytest.mark.parametrize("folds", [1, 3, 5])
def test_inner_folds_keep_sentences_whole(folds: int) -> None:
    groups = np.repeat(np.arange(12), 2)
    splits = inner_folds_of(groups, folds, 0.25, seed=1)
    assert len(splits) == folds
    for train, dev in splits:
        assert set(groups[train]).isdisjoint(groups[dev])
        assert len(train) + len(dev) == len(groups)
    if folds > 1:
        dev_rows = np.sort(np.concatenate([dev for _, dev in splits]))
        assert (dev_rows == np.arange(len(groups))).all()  # every sentence is dev once
    assert len(inner_folds_of(np.zeros(6, dtype=int), 5, 0.25, seed=1)) == 1  # one sentence
