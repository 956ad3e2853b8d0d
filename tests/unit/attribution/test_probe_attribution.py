"""Probe attribution: folding a fitted probe into torch, completeness through model + probe."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from probe_rnn.attribution import find_parts, linear_probe_to_torch, probe_token_attributions
from probe_rnn.errors import AttributionError
from tests.unit.attribution.attr_tiny import tiny_batch, tiny_model


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("make", [
    lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
    lambda: RidgeClassifier(),
])
def test_folded_probe_equals_decision_function(make, n_classes):
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(60, 5))
    y = np.arange(60) % n_classes
    probe = make().fit(X, y)
    layer, classes = linear_probe_to_torch(probe)
    ours = layer(torch.tensor(X, dtype=torch.float32)).detach().numpy()
    ref = probe.decision_function(X).reshape(len(X), -1)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)
    assert list(classes) == list(range(n_classes))


def test_non_linear_probe_is_refused():
    probe = DecisionTreeClassifier().fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(AttributionError, match="linear probe"):
        linear_probe_to_torch(probe)


def test_probe_attribution_completeness_against_sklearn():
    model = tiny_model("lstm", layers=2, bidirectional=True, readout="last")
    ids, lengths = tiny_batch(lengths=(7, 3, 5, 2, 6, 4, 7, 5))
    with torch.no_grad():  # output@last is what the 'last' readout hands to the head
        feats = model.features(ids, lengths).numpy()
    probe = make_pipeline(StandardScaler(), LogisticRegression()).fit(feats, np.arange(8) % 2)
    res, cls = probe_token_attributions(find_parts(model), ids, lengths, probe, "output@last",
                                        n_steps=100)
    with torch.no_grad():
        base = model.features(torch.zeros_like(ids), lengths).numpy()
    sign = np.where(cls.numpy() == 1, 1.0, -1.0)
    g_x = sign * probe.decision_function(feats)
    g_b = sign * probe.decision_function(base)
    np.testing.assert_array_equal(cls.numpy(), probe.predict(feats))
    np.testing.assert_allclose(res.f_x.numpy(), g_x, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(res.attributions.sum(1).numpy(), g_x - g_b, rtol=1e-2, atol=1e-4)
    assert float(res.completeness_error.max()) < 1e-2
    pad = torch.arange(7)[None, :] >= lengths[:, None]
    assert torch.equal(res.attributions[pad], torch.zeros(int(pad.sum())))


def test_state_view_reads_h_n():
    model = tiny_model("gru", layers=2, bidirectional=True)
    ids, lengths = tiny_batch()
    with torch.no_grad():
        _, h_n = model.run_rnn(ids, lengths)
    probe = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        h_n[3].numpy(), [0, 1, 0, 1, 0])
    res, _ = probe_token_attributions(find_parts(model), ids, lengths, probe, "h_n/L1/bwd",
                                      n_steps=64)
    assert float(res.completeness_error.max()) < 1e-2
    # h_n/L1: both directions of the top layer, as cat(h_n[-2], h_n[-1])
    both = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        torch.cat([h_n[2], h_n[3]], dim=1).numpy(), [0, 1, 0, 1, 0])
    res, _ = probe_token_attributions(find_parts(model), ids, lengths, both, "h_n/L1",
                                      n_steps=64)
    assert float(res.completeness_error.max()) < 1e-2
    with pytest.raises(AttributionError, match="not supported"):
        probe_token_attributions(find_parts(model), ids, lengths, probe, "output@-1")
