"""Shared fixtures of the models tests: a fitted char tokenizer, tiny tables and models."""

from __future__ import annotations

import random

import pandas as pd
import pytest
import torch

from probe_rnn.data import Tokenizer
from probe_rnn.models import ModelBundle, ModelConfig, ProbeRnnAdapter, RNNClassifier

TEXTS = ["abc", "hello world", "x", "zebra crossing", "qq", "the end"]



@pytest.fixture
def tokenizer() -> Tokenizer:
    return Tokenizer("char").fit(TEXTS)


def make_bundle(tokenizer: Tokenizer, seed: int = 0, **overrides) -> ModelBundle:
    """A tiny untrained RNNClassifier bundle (2 labels)."""
    settings = dict(vocab_size=len(tokenizer), n_labels=2, embedding_dim=6, hidden=5)
    settings.update(overrides)
    torch.manual_seed(seed)
    config = ModelConfig(**settings)
    model = RNNClassifier(config)
    return ModelBundle(
        model=model, tokenizer=tokenizer, labels=["neg", "pos"], config=config,
        meta={"note": "tiny"}, adapter=ProbeRnnAdapter(tokenizer),
    )


@pytest.fixture
def bundle(tokenizer: Tokenizer) -> ModelBundle:
    return make_bundle(tokenizer, rnn="lstm", layers=2, bidirectional=True)


def tiny_table(rows: int = 80, seed: int = 0) -> pd.DataFrame:
    """Random lowercase strings; label ``x`` when the text starts with x, else ``other``."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(rows):
        first = "x" if i % 2 == 0 else rng.choice("abcdefg")
        text = first + "".join(rng.choice("abcdefgx") for _ in range(rng.randint(1, 7)))
        texts.append(text)
        labels.append("x" if first == "x" else "other")
    return pd.DataFrame({"text": texts, "label": labels})
