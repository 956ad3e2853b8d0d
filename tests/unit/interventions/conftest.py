"""Fixtures for intervention tests: tiny LSTMs trained once per session on the synthetic
corpora whose label sits at a known word (first or last)."""

from __future__ import annotations

import pytest

from probe_rnn.data.synthetic import make_synthetic
from probe_rnn.models.config import Architecture, TrainBudget
from probe_rnn.models.training import train

LENGTH = 6


def _trained(rule: str):
    df = make_synthetic(rule=rule, n_rows=600, seed=0, min_len=LENGTH, max_len=LENGTH)
    result = train(df, Architecture(rnn="lstm", embedding_dim=16, hidden=16, layers=1,
                                    bidirectional=False),
                   TrainBudget(epochs=15, batch_size=32, lr=1e-2), tokenizer="word",
                   readout="last", seed=0)
    return result.bundle, df


@pytest.fixture(scope="session")
def last_rule():
    """(bundle, table): a unidirectional LSTM reading output@last, label = the last word."""
    return _trained("last")


@pytest.fixture(scope="session")
def first_rule():
    """(bundle, table): the same on the corpus whose label is the first word."""
    return _trained("first")
