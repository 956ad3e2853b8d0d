"""Rates with seeded bootstrap intervals, and the rows of one replaced run."""

from __future__ import annotations

import numpy as np

from probe_rnn.interventions.stats import bootstrap_mean, effect_rows


def test_bootstrap_mean_is_the_mean_with_a_seeded_interval_around_it():
    values = np.random.default_rng(0).integers(0, 2, 400).astype(float)
    mean, low, high = bootstrap_mean(values, seed=3)
    assert mean == values.mean() and low < mean < high
    se = values.std() / np.sqrt(len(values))
    assert abs((high - low) - 2 * 1.96 * se) < 0.3 * (high - low)
    assert bootstrap_mean(values, seed=3) == (mean, low, high)
    assert bootstrap_mean(np.array([1.0]), 0) == (1.0, None, None)


def test_effect_rows_pair_the_drop_and_leave_unknown_labels_out():
    gold = np.array([0, 1, 1, 0, -1])
    before = np.array([0, 1, 1, 1, 0])
    after = np.array([0, 0, 1, 1, 1])
    rows = {r["measure"]: r for r in effect_rows("ablation-zero", "v", gold, before, after, 0)}
    assert rows["accuracy_before"]["value"] == 0.75 and rows["accuracy_before"]["n"] == 4
    assert rows["accuracy_after"]["value"] == 0.5
    assert rows["accuracy_drop"]["value"] == 0.25
    assert rows["agreement"]["value"] == 0.6 and rows["agreement"]["n"] == 5
    assert rows["accuracy_drop"]["ci_low"] <= 0.25 <= rows["accuracy_drop"]["ci_high"]
