"""Neuron ranking: scores, ranks, agreement with probe weights, and units summing to states."""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression

from probe_rnn.attribution import find_parts, rank_neurons, step_attributions, view_units
from tests.unit.attribution.attr_tiny import tiny_batch, tiny_model


def test_rank_neurons_scores_and_agreement():
    rng = np.random.default_rng(0)
    units = rng.normal(size=(6, 5))
    targets = np.array([0, 0, 0, 1, 1, 1])
    X = rng.normal(size=(40, 5))
    probe = LogisticRegression().fit(X, np.where(X[:, 2] > 0, "b", "a"))
    frame = rank_neurons("v", units, targets, ["a", "b"], probe, k=3)
    for c, label in enumerate(["a", "b"]):
        part = frame[frame["label"] == label]
        score = units[targets == c].mean(0)
        assert part["neuron"].tolist() == list(np.argsort(-score)[:3])
        assert part["rank"].tolist() == [1, 2, 3]
        w = probe.coef_[0] * (1 if label == "b" else -1)
        np.testing.assert_allclose(part["probe_weight"], w[part["neuron"]])
        assert np.isclose(part["spearman"].iloc[0], spearmanr(score, w).statistic)


def test_view_units_sum_to_the_state_attribution():
    model = tiny_model("lstm", layers=2, bidirectional=True)
    ids, lengths = tiny_batch()
    target = model(ids, lengths).argmax(1)
    st = step_attributions(find_parts(model), ids, lengths, target, n_steps=16)
    f = st.frame
    units = view_units(st, "h_n/L0/bwd", 2, 2, 8)
    expect = f[(f["layer"] == 0) & (f["direction"] == "bwd") & (f["state"] == "hidden")
               & (f["t"] == 0)].sort_values("row")["attribution"].to_numpy()
    np.testing.assert_allclose(units.sum(1), expect, rtol=1e-5, atol=1e-6)
    # h_n/L0 (both directions concatenated): the fwd half's units, then the bwd half's
    both = view_units(st, "h_n/L0", 2, 2, 8)
    np.testing.assert_array_equal(both, np.concatenate(
        [view_units(st, "h_n/L0/fwd", 2, 2, 8), units], axis=1))
    out = view_units(st, "output@last", 2, 2, 8)
    assert out.shape == (5, 16)
    # with a 'last' readout, output@last is all the head sees: its two halves' ablations
    # are the model's own dependence on them, so they cannot both be zero
    assert np.abs(out).sum() > 0
    assert torch.is_tensor(st.units)
