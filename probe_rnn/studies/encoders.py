"""What the autoencode and siamese objectives share: the data, the encoder, the loop, the bundle.

Both objectives train the reference encoder (:class:`~probe_rnn.models.RNNClassifier`'s
embedding, recurrent module and readout; its label head is not trained) under another loss, so
that the readouts compared are the very ones the classifier study compares. This module holds:

* :func:`prepare` — the split (seeded, shared by every run of a study), the tokenizer fitted on
  the training rows, the encoded splits;
* :func:`build_encoder` — the encoder for one readout (the ``zero`` baseline of the autoencoder
  builds the ``last`` encoder and ignores it);
* :func:`fit` — the one training loop (Adam, clipping, early stopping on a dev score), seeded;
* :func:`encoder_bundle` — the trained encoder as a :class:`~probe_rnn.models.ModelBundle`, so
  it can be captured, probed and saved like any model. Its label head is a logistic regression
  fitted afterwards on the frozen encoder's readout of the training rows (the encoder itself
  never saw a label), so ``prediction`` means "what a linear classifier reading this readout
  predicts".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from probe_rnn.data import Tokenizer
from probe_rnn.models.adapters import ProbeRnnAdapter
from probe_rnn.models.bundle import ModelBundle
from probe_rnn.models.classifier import RNNClassifier
from probe_rnn.models.config import Architecture, TrainBudget
from probe_rnn.models.training import (
    EncodedSplit,
    build_classifier,
    encode_split,
    prepare_table,
    seed_everything,
    train_loop,
)


@dataclass
class Prepared:
    """The table with its split, the class names, the fitted tokenizer, the encoded splits."""

    table: pd.DataFrame
    labels: list[str]
    tokenizer: Tokenizer
    splits: dict[str, EncodedSplit]


def prepare(df: pd.DataFrame, tokenizer: str, seed: int) -> Prepared:
    """Check the table, add the seeded split when absent, fit the tokenizer on train rows."""
    table, labels = prepare_table(df, seed, None)
    parts = {s: table[table["split"] == s] for s in ("train", "dev", "test")}
    tok = Tokenizer(tokenizer).fit(parts["train"]["text"].tolist())
    splits = {s: encode_split(tok, part, labels) for s, part in parts.items() if len(part)}
    return Prepared(table, labels, tok, splits)


def build_encoder(prepared: Prepared, readout: str, architecture: Architecture
                  ) -> RNNClassifier:
    """The reference encoder reading ``readout`` (``zero`` builds a ``last`` encoder)."""
    return build_classifier(architecture.config(
        vocab_size=len(prepared.tokenizer), n_labels=len(prepared.labels),
        pad_id=prepared.tokenizer.pad_id, readout="last" if readout == "zero" else readout))


def fit(model: nn.Module, step: Callable[[int, Tensor], Tensor], n_train: int,
        dev_score: Callable[[], float], budget: TrainBudget, seed: int
        ) -> tuple[list[dict[str, float]], int]:
    """Seed everything, then train ``model`` with the one training loop
    (:func:`~probe_rnn.models.training.train_loop`): Adam, clipped gradients, the weights of
    the best dev score kept.

    ``step(epoch, index)`` returns the loss of the training items ``index`` (a permutation slice
    of ``range(n_train)``) in that epoch; ``dev_score()`` is higher-is-better. Returns one
    ``{"epoch", "train_loss", "dev_score"}`` per epoch run and the best epoch.
    """
    seed_everything(seed)
    return train_loop(model, step, n_train, dev_score, budget, seed)


@torch.no_grad()
def features(encoder: RNNClassifier, split: EncodedSplit, batch_size: int = 512) -> Tensor:
    """The encoder's readout of every row of ``split``: ``(rows, directions * hidden)``."""
    encoder.eval()
    parts = []
    for start in range(0, len(split.y), batch_size):
        ids, lengths, _ = split.rows(torch.arange(start, min(start + batch_size, len(split.y))))
        parts.append(encoder.features(ids, lengths))
    return torch.cat(parts)


def _fit_label_head(encoder: RNNClassifier, train: EncodedSplit, seed: int) -> None:
    """Set the head to a logistic regression on the frozen readout of the training rows."""
    from sklearn.linear_model import LogisticRegression

    x = features(encoder, train).double().numpy()
    y = train.y.numpy()
    present = np.unique(y)
    weight = torch.zeros_like(encoder.head.weight)
    bias = torch.full_like(encoder.head.bias, -1e4)  # a class absent from train is never predicted
    if len(present) < 2:
        bias[int(present[0])] = 0.0
    else:
        clf = LogisticRegression(max_iter=2000, random_state=seed).fit(x, y)
        coef = torch.as_tensor(clf.coef_, dtype=weight.dtype)
        inter = torch.as_tensor(clf.intercept_, dtype=bias.dtype)
        if len(present) == 2:  # one logit z for classes_[1]: logits (-z/2, z/2) give sigmoid(z)
            coef = torch.cat([-coef / 2, coef / 2])
            inter = torch.cat([-inter / 2, inter / 2])
        for row, cls in enumerate(clf.classes_):
            weight[int(cls)], bias[int(cls)] = coef[row], inter[row]
    with torch.no_grad():
        encoder.head.weight.copy_(weight)
        encoder.head.bias.copy_(bias)


def encoder_bundle(encoder: RNNClassifier, prepared: Prepared, meta: dict[str, Any],
                   seed: int) -> ModelBundle:
    """The trained encoder as a probe-able bundle (label head fitted on frozen readouts)."""
    _fit_label_head(encoder, prepared.splits["train"], seed)
    meta = {
        **meta, "labels": prepared.labels,
        "rows": {s: int(len(p.y)) for s, p in prepared.splits.items()},
        "head": "logistic regression fitted on the frozen encoder's readout of the training "
                "rows; the encoder was trained on the objective only",
    }
    return ModelBundle(
        model=encoder, tokenizer=prepared.tokenizer, labels=prepared.labels,
        config=encoder.config, meta=meta, adapter=ProbeRnnAdapter(prepared.tokenizer),
        source="trained in memory", format="in memory",
    )
