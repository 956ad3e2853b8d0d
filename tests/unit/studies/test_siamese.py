"""The siamese setting: untrained pairs near chance, trained ones above; balanced pairs; the
pair losses against their formulas; the documented margin."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probe_rnn.models.config import Architecture, TrainBudget
from probe_rnn.studies.encoders import build_encoder, prepare
from probe_rnn.studies.siamese import (
    CONTRASTIVE_MARGIN,
    _auc,
    _PairSet,
    make_pairs,
    pair_loss,
    score_pairs,
    train_siamese,
)

ARCH = dict(rnn="lstm", layers=1, hidden=32, embedding_dim=16, bidirectional=False, packed=True)


def test_untrained_pairs_sit_near_chance_and_trained_ones_above(first_letter) -> None:
    prepared = prepare(first_letter, "char", 0)
    arch = Architecture(**ARCH)
    aucs = []
    for seed in range(3):
        torch.manual_seed(seed)
        encoder = build_encoder(prepared, "hidden", arch)
        scores = score_pairs(encoder, _PairSet(prepared.splits["test"], 0, 2))
        aucs.append(_auc(scores["y"], scores["cosine"]))
    assert 0.38 < float(np.mean(aucs)) < 0.62
    for loss in ("mse", "contrastive"):
        out = train_siamese(first_letter, readout="hidden", loss=loss, seed=0, tokenizer="char",
                            architecture=Architecture(**ARCH),
                            budget=TrainBudget(epochs=8, batch_size=32, lr=1e-2, patience=3))
        assert out["scores"]["test_auc"] > max(aucs) + 0.25
        assert 0.0 <= out["scores"]["test_pair_accuracy"] <= 1.0


def test_pairs_are_half_similar_never_self_and_labelled_right() -> None:
    labels = np.array(["a"] * 800 + ["b"] * 200)
    rng = np.random.default_rng(3)
    anchors = rng.permutation(1000)
    a, b, y = make_pairs(labels, np.concatenate([anchors] * 4), rng)
    assert (a != b).all()
    np.testing.assert_array_equal(y, (labels[a] == labels[b]).astype(np.float32))
    assert abs(y.mean() - 0.5) < 0.03  # balanced although the labels are 80/20
    lonely = np.array(["a", "a", "b"])  # "b" has no second row: its partner must be an "a"
    a, b, y = make_pairs(lonely, np.array([2] * 20), np.random.default_rng(0))
    assert set(b) <= {0, 1} and (y == 0).all()


def test_pair_losses_match_their_formulas() -> None:
    gen = torch.Generator().manual_seed(0)
    x, z = torch.randn(6, 5, generator=gen), torch.randn(6, 5, generator=gen)
    y = torch.tensor([1, 0, 1, 0, 0, 1], dtype=torch.float32)
    xa, za, ya = x.numpy().astype(float), z.numpy().astype(float), y.numpy()
    cos = (xa * za).sum(1) / np.linalg.norm(xa, axis=1) / np.linalg.norm(za, axis=1)
    assert float(pair_loss(x, z, y, "mse")) == pytest.approx(np.mean((cos - ya) ** 2), rel=1e-5)
    d = np.linalg.norm(xa - za, axis=1)
    want = np.mean(ya * d ** 2 + (1 - ya) * np.maximum(0, CONTRASTIVE_MARGIN - d) ** 2)
    assert float(pair_loss(x, z, y, "contrastive")) == pytest.approx(want, rel=1e-5)


def test_contrastive_margin_is_documented() -> None:
    import probe_rnn.studies.siamese as siamese

    assert f"m = CONTRASTIVE_MARGIN = {CONTRASTIVE_MARGIN}" in siamese.__doc__
