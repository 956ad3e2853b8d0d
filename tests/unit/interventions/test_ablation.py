"""Mean, resample and zero ablation: the values written and the rows against a manual run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probe_rnn.interventions.ablation import ablated_values, ablation_rows


def test_ablated_values_are_the_training_mean_a_training_row_or_zeros(tiny_setup):
    setup = tiny_setup
    train = setup.values("train", "h_n/L0")
    n = len(setup.test)
    mean = ablated_values(setup, "h_n/L0", "mean")
    assert mean.shape == (n, train.shape[1])
    assert torch.allclose(mean, train.mean(0).expand(n, -1))
    assert torch.equal(ablated_values(setup, "h_n/L0", "zero"), torch.zeros(n, train.shape[1]))
    resampled = ablated_values(setup, "h_n/L0", "resample")
    assert all(any(torch.equal(r, t) for t in train) for r in resampled)


def test_zero_ablation_rows_match_a_manual_replaced_run(tiny_setup):
    setup = tiny_setup
    rows = {r["measure"]: r for r in ablation_rows(setup, "output@last", kinds=("zero",))}
    width = setup.values("test", "output@last").shape[1]
    logits, _ = setup.replacer.forward(setup.test.ids, setup.test.lengths,
                                       replace=("output@last", torch.zeros(len(setup.test),
                                                                           width)))
    after = logits.argmax(1).numpy()
    gold, before = setup.test.gold, setup.test.pred
    assert rows["accuracy_after"]["value"] == np.mean(after == gold)
    assert rows["agreement"]["value"] == np.mean(after == before)
    assert rows["accuracy_drop"]["value"] == pytest.approx(
        np.mean(before == gold) - np.mean(after == gold), abs=1e-12)
    assert all(r["intervention"] == "ablation-zero" and r["sanity_ok"] for r in rows.values())
