"""Splits by sentence never leak (``probe_rnn.probing.splits``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_rnn.errors import ConfigError
from probe_rnn.probing.splits import group_ids, group_kfold, inner_split


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=5, max_size=200), st.integers(2, 5),
       st.integers(0, 10_000))
def test_folds_partition_rows_and_never_share_a_group(groups, k, seed) -> None:
    groups = np.array(groups)
    if len(set(groups.tolist())) < k:
        with pytest.raises(ConfigError):
            group_kfold(groups, k, seed)
        return
    folds = group_kfold(groups, k, seed)
    assert len(folds) == k
    seen = np.concatenate([te for _, te in folds])
    assert sorted(seen.tolist()) == list(range(len(groups)))  # every row tested exactly once
    for tr, te in folds:
        assert not set(groups[tr].tolist()) & set(groups[te].tolist())
        assert len(tr) + len(te) == len(groups) and len(te) > 0


def test_folds_are_seeded_and_duplicate_texts_share_a_fold() -> None:
    texts = np.array(["ann", "bob", "ann", "cy", "dee", "bob", "eve", "fay"])
    g = group_ids(texts)
    a, b = group_kfold(g, 3, seed=5), group_kfold(g, 3, seed=5)
    assert all((x[1] == y[1]).all() for x, y in zip(a, b, strict=True))
    assert any((x[1] != y[1]).any() if len(x[1]) == len(y[1]) else True
               for x, y in zip(a, group_kfold(g, 3, seed=6), strict=True))
    for _, te in a:
        for name in set(texts[te].tolist()):
            assert set(np.flatnonzero(texts == name).tolist()) <= set(te.tolist())


@pytest.mark.parametrize("grouped", [False, True])
def test_inner_split_keeps_groups_whole_and_sizes_the_dev_side(grouped: bool) -> None:
    groups = np.repeat(np.arange(40), 3) if grouped else None
    n = 120
    train, dev = inner_split(n, 0.2, seed=4, groups=groups)
    assert sorted([*train, *dev]) == list(range(n)) and set(train).isdisjoint(dev)
    assert list(train) == sorted(train) and list(dev) == sorted(dev)
    if grouped:
        assert set(groups[train]).isdisjoint(groups[dev])
        assert len(set(groups[dev])) == round(40 * 0.2)  # 8 of 40 sentences
    else:
        assert len(dev) == round(n * 0.2)
    again = inner_split(n, 0.2, seed=4, groups=groups)
    assert all((a == b).all() for a, b in zip(again, (train, dev), strict=True))
    assert not np.array_equal(inner_split(n, 0.2, seed=5, groups=groups)[1], dev)
    assert len(inner_split(3, 0.01, seed=0)[1]) == 1  # at least one dev row
