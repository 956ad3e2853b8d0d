"""Shared helpers for the capture and store tests: a tiny table, a tiny classifier bundle, a
forward counter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from probe_rnn.data.tokenizers import Tokenizer
from probe_rnn.models.adapters import ProbeRnnAdapter
from probe_rnn.models.bundle import ModelBundle
from probe_rnn.models.classifier import RNNClassifier
from probe_rnn.models.config import ModelConfig


def make_table(n: int = 23, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    texts = ["".join(rng.choice(list("abcdefg"), size=rng.integers(1, 11))) for _ in range(n)]
    labels = ["x" if t.count("a") % 2 else "y" for t in texts]
    splits = rng.choice(["train", "dev", "test"], size=n)
    return pd.DataFrame({"text": texts, "label": labels, "split": splits,
                         "extra": np.arange(n) * 2})


def make_bundle(rnn: str = "lstm", layers: int = 2, bidirectional: bool = True,
                packed: bool = True, seed: int = 0, hidden: int = 5) -> ModelBundle:
    tok = Tokenizer("char").fit(list("abcdefg"))
    cfg = ModelConfig(vocab_size=len(tok), n_labels=2, rnn=rnn, embedding_dim=6, hidden=hidden,
                      layers=layers, bidirectional=bidirectional, packed=packed)
    torch.manual_seed(seed)
    model = RNNClassifier(cfg)
    return ModelBundle(model=model, tokenizer=tok, labels=["x", "y"], config=cfg, meta={},
                       adapter=ProbeRnnAdapter(tok), source="test", checksum=f"test-{seed}")


class ForwardSpy:
    """Counts forward passes of an adapter."""

    def __init__(self, bundle: ModelBundle) -> None:
        self.calls = 0
        inner = bundle.adapter.forward

        def forward(model, batch):  # noqa: ANN001, ANN202
            self.calls += 1
            return inner(model, batch)

        bundle.adapter.forward = forward  # type: ignore[method-assign]
