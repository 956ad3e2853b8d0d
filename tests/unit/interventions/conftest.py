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


@pytest.fixture(scope="session")
def tiny_bundle():
    """(bundle, table): a 1-layer BiGRU trained for six epochs on 80 synthetic rows of
    lengths 3 to 8 (its predictions differ between rows)."""
    df = make_synthetic(rule="first", n_rows=80, seed=1, min_len=3, max_len=8)
    result = train(df, Architecture(rnn="gru", embedding_dim=8, hidden=6, layers=1,
                                    bidirectional=True),
                   TrainBudget(epochs=6, batch_size=16, lr=1e-2), tokenizer="word", seed=0)
    return result.bundle, df


@pytest.fixture()
def tiny_setup(tiny_bundle):
    """An :class:`InterventionSetup` of :func:`tiny_bundle` on 24 held-out and 40 training
    rows, the top layer's sentence views and two per-step views."""
    from probe_rnn.interventions.setup import new_setup

    bundle, df = tiny_bundle
    test, train_rows = df.iloc[:24], df.iloc[24:64]
    views = ["output@last", "h_n/L0/fwd", "h_n/L0/bwd", "h_n/L0"]
    return new_setup(bundle, test, train_rows, views, ["hidden/L0/fwd@4"], "label", seed=0)

