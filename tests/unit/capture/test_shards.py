"""Capture shards (``probe_rnn.capture.shards.shard_ranges``): the rows after the first batch,
cut into about four shards per worker of whole batches, cover every row once and in order."""

from __future__ import annotations

import pytest

from probe_rnn.capture.shards import shard_ranges


def test_a_hand_counted_split() -> None:
    # 936 rows after the first batch = 15 batches of 64; 2 workers -> at most 8 shards, so
    # 2 batches (128 rows) per shard, the last one shorter
    got = shard_ranges(1000, 64, 64, 2)
    starts = list(range(64, 1000, 128))
    assert got == [range(a, min(a + 128, 1000)) for a in starts]
    assert len(got) == 8 and len(got[-1]) == 1000 - starts[-1]


@pytest.mark.parametrize(("n_rows", "first", "batch", "workers"),
                         [(10, 4, 4, 1), (257, 32, 32, 3), (5000, 256, 100, 16), (33, 1, 1, 2)])
def test_shards_cover_the_rest_in_whole_batches(n_rows, first, batch, workers) -> None:
    got = shard_ranges(n_rows, first, batch, workers)
    assert [row for r in got for row in r] == list(range(first, n_rows))
    assert all(len(r) % batch == 0 for r in got[:-1])
    assert len(got) <= max(4 * workers, 1)
    batches = -(-(n_rows - first) // batch)
    assert len(got) >= min(batches, 4 * workers) // 2  # enough shards to keep workers busy


def test_nothing_left_after_the_first_batch_gives_no_shard() -> None:
    assert shard_ranges(64, 64, 64, 4) == []
    assert shard_ranges(10, 64, 64, 4) == []
