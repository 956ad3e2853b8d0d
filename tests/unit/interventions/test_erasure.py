"""LEACE erasure and its random-subspace control, on data with a known linear concept."""

from __future__ import annotations

import numpy as np
import torch

from probe_rnn.interventions.erasure import fit_eraser, fresh_probe_accuracy, random_eraser


def _concept_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(np.array(["a", "b", "c"]), n, p=[0.5, 0.3, 0.2])
    means = {"a": [2.0, 0, 0, 0, 0], "b": [0, 2.0, 0, 0, 0], "c": [0, 0, 2.0, 0, 0]}
    x = rng.normal(size=(n, 5)) + np.array([means[v] for v in y])
    return torch.tensor(x, dtype=torch.float32), y


def test_after_leace_a_fresh_probe_reads_the_majority_rate():
    x, y = _concept_data()
    test_x, test_y = _concept_data(seed=1)
    clean, majority = fresh_probe_accuracy(x, y, test_x, test_y)
    assert clean > majority + 0.3
    eraser, rank = fit_eraser(x, y)
    assert rank == 2
    erased = eraser(x.double()).float()
    after, _ = fresh_probe_accuracy(erased, y, eraser(test_x.double()).float(), test_y)
    assert after <= majority + 0.03
    assert abs(majority - np.mean(test_y == "a")) < 1e-12


def test_the_control_removes_exactly_a_random_subspace_of_the_rank():
    x, y = _concept_data()
    erase = random_eraser(x, 2, seed=4)
    once = erase(x)
    assert torch.allclose(erase(once), once, atol=1e-9)  # a projection
    centred = once - once.mean(0)
    singular = torch.linalg.svdvals(centred)
    assert (singular[-2:] < 1e-8).all() and (singular[:3] > 1.0).all()
    assert not torch.allclose(random_eraser(x, 2, seed=5)(x), once)


def test_a_per_step_view_is_erased_on_the_rows_longer_than_its_step(tiny_setup, monkeypatch):
    from probe_rnn.interventions import erasure

    monkeypatch.setattr(erasure, "MIN_ROWS", 5)
    lengths = tiny_setup.test.lengths.numpy()
    rows = erasure.erasure_rows(tiny_setup, "hidden/L0/fwd@4", step=4)
    agreement = [r for r in rows if r["measure"] == "agreement"]
    assert [r["intervention"] for r in agreement] == ["erasure", "erasure-control"]
    assert all(r["n"] == int((lengths > 4).sum()) and r["step"] == 4 for r in agreement)
    monkeypatch.setattr(erasure, "MIN_ROWS", 10_000)
    assert erasure.erasure_rows(tiny_setup, "hidden/L0/fwd@4", step=4) == []
    assert len(erasure.erasure_rows(tiny_setup, "h_n/L0")) == 10  # sentence views: every row
