"""The siamese setting: one shared encoder scores sentence pairs by the similarity of readouts.

The question's third case ("a siamese network with contrastive loss as well as MSE on both the
output and the hidden state"). Both sentences of a pair go through the same reference encoder
(:mod:`probe_rnn.studies.encoders`); the pair's **score** is the cosine similarity of their
readouts. A pair is *similar* (``y = 1``) when both sentences have the same label.

Losses (``--loss``):

``mse``
    ``(cos(a, b) − y)²``: the similarity regressed on 1 for similar and 0 for dissimilar pairs.
``contrastive``
    Hadsell, Chopra & LeCun (2006), as in the common PyTorch siamese tutorials, on the Euclidean
    distance ``d = ‖a − b‖₂`` of the readouts: ``y·d² + (1 − y)·max(0, m − d)²`` with margin
    ``m = CONTRASTIVE_MARGIN = 2.0``. The model is still *scored* by the cosine similarity;
    the AUC of ``−d`` is reported beside it (``test_auc_distance``) so that a loss that shapes
    distances rather than angles is not misread.

Pairs are built from the labelled rows, seeded, within one split, so no sentence is in both
training and test pairs. Each epoch draws new training pairs: half of the training sentences
(a fresh permutation) are anchors, each paired with another training sentence of the same label
with probability 1/2 and of another label otherwise (so the classes' imbalance does not decide
the pair labels). Dev and test pairs are fixed: every sentence of the split is an anchor once.
Scores: held-out pair ROC AUC of the cosine, and pair accuracy at the threshold that maximises
dev accuracy; early stopping on dev AUC.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from probe_rnn.models.config import Architecture, TrainBudget
from probe_rnn.models.training import EncodedSplit
from probe_rnn.studies.encoders import (
    Prepared,
    build_encoder,
    encoder_bundle,
    features,
    fit,
    prepare,
)

#: Siamese training losses.
LOSSES = ("mse", "contrastive")
#: Margin of the contrastive loss on the Euclidean distance of two readouts.
CONTRASTIVE_MARGIN = 2.0


def make_pairs(labels: np.ndarray, anchors: np.ndarray, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Partners for ``anchors`` (row indices into ``labels``): same label with probability 1/2.

    Returns ``(a, b, y)`` with ``y = 1`` where ``labels[a] == labels[b]``; a partner is never
    the anchor itself. Where the wanted kind of partner does not exist (a label with one row,
    or one label only), the other kind is drawn.
    """
    labels = np.asarray(labels)
    rows = {v: np.flatnonzero(labels == v) for v in np.unique(labels)}
    rest = {v: np.flatnonzero(labels != v) for v in rows}
    want_same = rng.random(len(anchors)) < 0.5
    picks = rng.random(len(anchors))
    partners = np.empty(len(anchors), dtype=np.int64)
    for k, (anchor, same) in enumerate(zip(anchors, want_same, strict=True)):
        own, others = rows[labels[anchor]], rest[labels[anchor]]
        if same and len(own) < 2 or not same and not len(others):
            same = not same
        pool = own[own != anchor] if same else others
        partners[k] = pool[min(int(picks[k] * len(pool)), len(pool) - 1)]
    y = (labels[anchors] == labels[partners]).astype(np.float32)
    return np.asarray(anchors, dtype=np.int64), partners, y


def pair_loss(a: Tensor, b: Tensor, y: Tensor, loss: str) -> Tensor:
    """Mean ``mse`` or ``contrastive`` loss of readout pairs ``a``, ``b`` ``(pairs, dim)``."""
    if loss == "mse":
        return ((nn.functional.cosine_similarity(a, b, dim=1) - y) ** 2).mean()
    d = (a - b).pow(2).sum(1).clamp_min(1e-12).sqrt()
    return (y * d ** 2 + (1 - y) * (CONTRASTIVE_MARGIN - d).clamp_min(0) ** 2).mean()


class _PairSet:
    """Fixed pairs of one split and the encoded rows they index."""

    def __init__(self, split: EncodedSplit, seed: int, salt: int) -> None:
        rng = np.random.default_rng([seed, salt])
        self.split = split
        self.a, self.b, self.y = make_pairs(split.y.numpy(), np.arange(len(split.y)), rng)


@torch.no_grad()
def score_pairs(encoder: nn.Module, pairs: _PairSet) -> dict[str, np.ndarray]:
    """Cosine similarity and negative Euclidean distance of every pair, and its label."""
    encoder.eval()
    r = features(encoder, pairs.split)
    a, b = r[torch.as_tensor(pairs.a)], r[torch.as_tensor(pairs.b)]
    return {"cosine": nn.functional.cosine_similarity(a, b, dim=1).double().numpy(),
            "neg_distance": -(a - b).double().norm(dim=1).numpy(), "y": pairs.y}


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return math.nan
    return float(roc_auc_score(y, score))


def dev_threshold(y: np.ndarray, score: np.ndarray) -> float:
    """The cosine threshold (``score >= t`` means similar) with the highest dev accuracy."""
    values = np.unique(score)
    cuts = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2, [values[-1] + 1.0]])
    accuracy = [float(((score >= t) == (y == 1)).mean()) for t in cuts]
    return float(cuts[int(np.argmax(accuracy))])


def train_siamese(
    df: Any, *, readout: str, loss: str, seed: int, tokenizer: str, architecture: Architecture,
    budget: TrainBudget, prepared: Prepared | None = None,
) -> dict[str, Any]:
    """Train one siamese encoder; return its scores, history and the encoder as a bundle."""
    prepared = prepared or prepare(df, tokenizer, seed)
    torch.manual_seed(seed)
    encoder = build_encoder(prepared, readout, architecture)
    train = prepared.splits["train"]
    dev = _PairSet(prepared.splits["dev"], seed, 1)
    labels = train.y.numpy()
    n_pairs = max(1, len(labels) // 2)
    epoch_pairs: dict[int, tuple[np.ndarray, ...]] = {}

    def step(epoch: int, index: Tensor) -> Tensor:
        if epoch not in epoch_pairs:
            epoch_pairs.clear()
            rng = np.random.default_rng([seed, 100 + epoch])
            epoch_pairs[epoch] = make_pairs(labels, rng.permutation(len(labels))[:n_pairs], rng)
        a, b, y = (torch.as_tensor(v[index.numpy()]) for v in epoch_pairs[epoch])
        ids, lengths, _ = train.rows(torch.cat([a, b]))
        r = encoder.features(ids, lengths)
        return pair_loss(r[: len(a)], r[len(a):], y, loss)

    def dev_auc() -> float:
        s = score_pairs(encoder, dev)
        return _auc(s["y"], s["cosine"])

    history, best_epoch = fit(encoder, step, n_pairs, dev_auc, budget, seed)
    d = score_pairs(encoder, dev)
    threshold = dev_threshold(d["y"], d["cosine"])
    scores = {"dev_auc": _auc(d["y"], d["cosine"]), "threshold": threshold}
    if "test" in prepared.splits:
        t = score_pairs(encoder, _PairSet(prepared.splits["test"], seed, 2))
        scores.update(test_auc=_auc(t["y"], t["cosine"]),
                      test_pair_accuracy=float(((t["cosine"] >= threshold) == (t["y"] == 1))
                                               .mean()),
                      test_auc_distance=_auc(t["y"], t["neg_distance"]))
    else:
        scores.update(test_auc=math.nan, test_pair_accuracy=math.nan, test_auc_distance=math.nan)
    bundle = encoder_bundle(encoder, prepared, {
        "objective": "siamese", "readout": readout, "loss": loss, "seed": seed,
        "best_epoch": best_epoch, "dev_auc": scores["dev_auc"],
    }, seed)
    return {"scores": scores, "history": history, "best_epoch": best_epoch, "bundle": bundle}
