"""Pairs for interchange interventions, and the follow rate against a manual patch."""

from __future__ import annotations

import numpy as np

from probe_rnn.interventions.patching import draw_pairs, patching_rows, usable_pairs


def test_pairs_have_different_predictions_each_base_once_and_are_seeded():
    pred = np.array([0, 1, 1, 0, 2, 0, 1])
    pairs = draw_pairs(pred, 5, seed=0)
    assert len(pairs) == 5 and len(set(pairs[:, 0])) == 5
    assert (pred[pairs[:, 0]] != pred[pairs[:, 1]]).all()
    assert np.array_equal(pairs, draw_pairs(pred, 5, seed=0))
    assert not np.array_equal(pairs, draw_pairs(pred, 5, seed=1))
    assert draw_pairs(np.zeros(4, int), 3, 0).shape == (0, 2)


def test_per_step_pairs_keep_rows_long_enough(tiny_setup):
    pairs = np.array([[0, 1], [1, 2], [2, 3], [3, 0]])
    lengths = tiny_setup.test.lengths.numpy()
    kept = usable_pairs(tiny_setup, "hidden/L0/fwd@4", pairs)
    assert ((lengths[kept] > 4).all()) and len(kept) == int(((lengths[pairs] > 4).all(1)).sum())
    assert np.array_equal(usable_pairs(tiny_setup, "output@last", pairs), pairs)


def test_follow_rate_is_the_share_of_patched_predictions_equal_to_the_source(tiny_setup):
    setup = tiny_setup
    pairs = draw_pairs(setup.test.pred, 50, 0)
    [row] = patching_rows(setup, "h_n/L0", pairs)
    base, source = pairs[:, 0], pairs[:, 1]
    values = setup.values("test", "h_n/L0")[source]
    logits, _ = setup.replacer.forward(setup.test.ids[base], setup.test.lengths[base],
                                       replace=("h_n/L0", values))
    manual = np.mean(logits.argmax(1).numpy() == setup.test.pred[source])
    assert row["value"] == manual and row["n"] == len(pairs)
    assert row["sanity_ok"] is True
