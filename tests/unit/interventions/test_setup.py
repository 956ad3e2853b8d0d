"""The setup's rows: gold indices, the concept, predictions through the twin, cached views."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probe_rnn.errors import DataError
from probe_rnn.interventions.setup import make_rows


def test_rows_hold_gold_indices_predictions_and_the_model_logits(tiny_bundle, tiny_setup):
    bundle, df = tiny_bundle
    test = tiny_setup.test
    labels = list(bundle.labels)
    assert [labels[g] for g in test.gold] == df["label"].iloc[:24].tolist()
    assert np.array_equal(test.concept, df["label"].iloc[:24].to_numpy())
    fused = bundle.predict_logits(df["text"].iloc[:24].tolist())  # the fused kernel's
    assert np.array_equal(test.pred, fused.argmax(1).numpy())
    assert set(test.values) >= {"output@last", "h_n/L0"}
    assert "hidden/L0/fwd@4" not in tiny_setup.train.values


def test_per_step_values_come_from_the_kept_states_as_a_read_gives_them(tiny_setup):
    """Held-out per-step values are taken from the clean run's kept states (not cached),
    equal to the bit to a read through the twin, zeros on rows shorter than the step."""
    test = tiny_setup.test
    views = ["hidden/L0/fwd@4", "hidden/L0/bwd@0", "output@last", "h_n/L0"]
    _, read = tiny_setup.replacer.forward(test.ids, test.lengths, read=views)
    for view in views:
        got = tiny_setup.values("test", view)
        assert torch.equal(got, read[view]), view
    assert "hidden/L0/fwd@4" not in test.values
    short = test.lengths <= 4
    assert bool(short.any()) and not bool(tiny_setup.values("test", "hidden/L0/fwd@4")[short].any())


def test_predict_with_own_values_changes_nothing_and_identity_check_passes(tiny_setup):
    own = tiny_setup.values("test", "h_n/L0/bwd")
    assert np.array_equal(tiny_setup.predict("test", "h_n/L0/bwd", own), tiny_setup.test.pred)
    check = tiny_setup.identity_check("h_n/L0/bwd")
    assert check["sanity_ok"] is True and "changes 0 predictions" in check["sanity"]
    with pytest.raises(DataError, match="split"):
        tiny_setup.values("dev", "h_n/L0")


def test_the_concept_may_be_the_prediction_or_a_column(tiny_bundle, tiny_setup):
    bundle, df = tiny_bundle
    rows = make_rows(bundle, tiny_setup.replacer, df.iloc[:10], "prediction")
    assert [list(bundle.labels)[p] for p in rows.pred] == rows.concept.tolist()
    assert make_rows(bundle, tiny_setup.replacer, df.iloc[:10], "rule").concept[0] == "first"
    with pytest.raises(DataError, match="nope"):
        make_rows(bundle, tiny_setup.replacer, df.iloc[:10], "nope")
