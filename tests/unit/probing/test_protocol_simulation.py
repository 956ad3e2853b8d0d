"""The protocol's intervals against simulations with a known answer (tests/unit/probing/
simulation.py): the fit's between-seed variance, coverage of the accuracy and bits intervals
on small cells, and false positives of "A more than B" between exchangeable views.

Replicates here are few to keep CI cheap; ``tests/benchmarks/bench_coverage.py`` runs 200 per
scenario (its numbers are in the closing note of issue 25)."""

from __future__ import annotations

import numpy as np
import pytest

from probe_rnn.probing.protocol import fit_variance, with_fit_noise
from tests.unit.probing.simulation import World, rates


def _seeds(offsets: np.ndarray, rows: int, rng: np.random.Generator):
    """Per seed: its own held-out sentences (one row each) and per-row correctness drawn
    with accuracy 0.7 + that seed's fit offset."""
    groups, values = {}, {}
    for s, off in enumerate(offsets):
        groups[s] = np.arange(s * rows, (s + 1) * rows)
        values[s] = (rng.random(rows) < 0.7 + off).astype(float)[:, None]
    return groups, values


def test_fit_variance_recovers_a_known_between_seed_variance_and_zero_without_one() -> None:
    # 40 seeds x 1,000 rows: each seed's probe is off by a N(0, 0.04^2) fit offset; the test
    # rows add binomial noise (sd 0.014 a seed) that the method of moments must take out
    rng = np.random.default_rng(0)
    seeds, rows, sd = 40, 1000, 0.04
    offsets = rng.normal(0, sd, seeds)
    groups, values = _seeds(offsets, rows, rng)
    got = fit_variance(groups, values, seed=0, resamples=200)[0]
    assert got == pytest.approx(np.var(offsets, ddof=1) / seeds, rel=0.2)
    assert got == pytest.approx(sd ** 2 / seeds, rel=0.5)
    groups, values = _seeds(np.zeros(seeds), rows, rng)
    assert fit_variance(groups, values, seed=0, resamples=200)[0] < 0.15 * sd ** 2 / seeds
    assert fit_variance({0: groups[0]}, {0: values[0]}, seed=0)[0] == 0.0  # one seed: none


def test_fit_noise_is_seeded_per_cell_and_has_the_variance_asked() -> None:
    draws = np.zeros((4000, 2))
    a = with_fit_noise(draws, np.array([0.01, 0.0]), 0, "trained|a|label|logistic")
    again = with_fit_noise(draws, np.array([0.01, 0.0]), 0, "trained|a|label|logistic")
    b = with_fit_noise(draws, np.array([0.01, 0.0]), 0, "trained|b|label|logistic")
    np.testing.assert_array_equal(a, again)
    assert np.var(a[:, 0]) == pytest.approx(0.01, rel=0.1) and not a[:, 1].any()
    assert abs(np.corrcoef(a[:, 0], b[:, 0])[0, 1]) < 0.05  # independent across cells


@pytest.mark.slow
@pytest.mark.parametrize("case", ["kfold", "holdout"])
def test_small_cells_cover_the_truth_and_equal_views_are_rarely_called_different(case) -> None:
    """40 replicates per protocol (two views each): K-fold on 300 sentences (5 folds,
    n_train 240), held-out on 600 sentences at precision 0.1 (97 held-out, 388 training
    sentences, 2 seeds). Coverage of the accuracy and bits intervals >= 0.93; "A more than B"
    on exchangeable views (paired difference excludes 0) <= 0.07."""
    world = World()
    n, precision, n_train = (300, 0.01, 240) if case == "kfold" else (600, 0.1, 388)
    r = rates(world, n, precision, replicates=40, n_train=n_train, first_seed=500)
    assert r["protocol"] == case and r["n_train"] == n_train
    assert r["coverage_accuracy"] >= 0.93 and r["coverage_bits"] >= 0.93
    assert r["false_positive_accuracy"] <= 0.07 and r["false_positive_bits"] <= 0.07
