"""Seeded sampling: rows without replacement, whole groups, a seeded order of the groups."""

from __future__ import annotations

import numpy as np

from probe_rnn.data.sampling import sample_groups, sample_rows, shuffled_groups


def test_sample_rows_is_a_sorted_seeded_subset_without_repeats() -> None:
    pool = np.arange(100, 200, 2)
    rows = sample_rows(pool, 10, seed=3)
    assert len(rows) == 10 and len(set(rows.tolist())) == 10
    assert set(rows.tolist()) <= set(pool.tolist())
    assert np.all(np.diff(rows) > 0)
    assert np.array_equal(rows, sample_rows(pool, 10, seed=3))
    assert not np.array_equal(rows, sample_rows(pool, 10, seed=4))
    assert set(sample_rows(20, 5, seed=0).tolist()) <= set(range(20))


def test_shuffled_groups_gives_each_rows_group_and_a_permutation_of_the_groups() -> None:
    groups = np.array(["b", "a", "c", "a", "b"])
    inverse, order = shuffled_groups(groups, seed=1)
    assert inverse.tolist() == [1, 0, 2, 0, 1]  # index among the sorted groups a, b, c
    assert sorted(order.tolist()) == [0, 1, 2]
    again, order_again = shuffled_groups(groups, seed=1)
    assert np.array_equal(order, order_again) and np.array_equal(inverse, again)


def test_sample_groups_keeps_whole_groups_and_about_the_asked_rows() -> None:
    groups = np.repeat(np.arange(50), 4)  # 50 groups of 4 rows
    rows = sample_groups(groups, 40, seed=2)
    picked = set(groups[rows].tolist())
    assert all(set(np.flatnonzero(groups == g).tolist()) <= set(rows.tolist()) for g in picked)
    assert 40 <= len(rows) <= 44  # the group that crosses 40 rows is kept
    assert np.array_equal(sample_groups(groups, None, seed=2), np.arange(200))
    assert np.array_equal(sample_groups(groups, 500, seed=2), np.arange(200))
