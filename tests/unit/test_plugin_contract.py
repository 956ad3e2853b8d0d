"""One contract table for every plugin: each probe, task and adapter the registry holds (the
built-ins and the examples of ``probes/``, loaded as a user's folder is) goes through the same
checks, in the manner of Captum's ``tests/attr/helpers/test_config.py``.

The table is read from :data:`probe_rnn.plugins.registry` when the tests are collected, so a
new plugin is checked without editing this file.

- a probe is built by name, clones with :func:`sklearn.base.clone`, fits a tiny seeded matrix
  whose first column carries the target, predicts one value per row (the fitted classes for a
  classifier, probabilities that sum to one), learns the planted signal, and refits the same;
- a task yields targets of its declared kind, one per sentence or one per token of a tiny
  table, with at least one target kept, and a chance level that is the majority share;
- an adapter encodes texts into ``lengths`` matching its tokens, and its forward runs a tiny
  LSTM into logits ``(batch, 2)`` that do not depend on the batch-mates (padding is inert).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.validation import check_is_fitted
from torch import nn

from probe_rnn.data import Tokenizer
from probe_rnn.models.adapters import make_adapter
from probe_rnn.plugins import KINDS, PluginWarning, registry
from probe_rnn.probing.specs import make_probe
from probe_rnn.probing.tasks import flat_tokens, get_task

EXAMPLES = Path(__file__).resolve().parents[2] / "probes"
BUILT_IN = {
    "probe": {"logistic", "mlp", "ridge"},
    "task": {"label", "prediction", "length", "word-content", "first-token", "last-token",
             "position", "current-token", "next-token", "token-back-1", "token-back-2",
             "token-back-4", "token-back-8"},
    "adapter": {"probe-rnn", "ids-lengths", "ids"},
    "intervention": {"erasure", "patching", "ablation"},  # run and checked in interventions/
}
FROM_EXAMPLES = {"probe": {"centroid"}, "task": {"vowel-ending"}, "adapter": set(),
                 "intervention": set()}


def _table() -> dict[str, list[str]]:
    """Every registered name by kind, after loading ``probes/`` as ``--plugins probes`` does."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        registry.load_folder(EXAMPLES)
    _table.warnings = [str(w.message) for w in caught]  # type: ignore[attr-defined]
    return {kind: registry.names(kind) for kind in KINDS}


TABLE = _table()


def _origin(kind: str, name: str) -> str:
    return next(e.origin for e in registry.entries() if e.kind == kind and e.name == name)


# -- the table itself --------------------------------------------------------------------------
def test_the_table_covers_every_built_in_and_every_example_by_name() -> None:
    for kind in KINDS:
        assert TABLE[kind], f"no {kind} plugin in the table"
        assert BUILT_IN[kind] <= set(TABLE[kind]), kind
        assert FROM_EXAMPLES[kind] <= set(TABLE[kind]), kind
        for name in BUILT_IN[kind]:
            assert _origin(kind, name) == "built-in"
        for name in FROM_EXAMPLES[kind]:
            assert Path(_origin(kind, name)).parent == EXAMPLES


def test_the_examples_load_without_a_warning() -> None:
    assert not [w for w in _table.warnings if str(EXAMPLES) in w]  # type: ignore[attr-defined]


# -- probes ------------------------------------------------------------------------------------
def _planted(regression: bool) -> tuple[np.ndarray, np.ndarray]:
    """300 seeded rows of 4 features; column 0 carries the target (3 classes or a line); enough
    rows for an early-stopping MLP to take more than a handful of steps."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 4))
    if regression:
        return X, 2.0 * X[:, 0] + 0.1 * rng.normal(size=300)
    y = np.array(["a", "b", "c"] * 100, dtype=object)
    X[:, 0] += 8.0 * np.searchsorted(["a", "b", "c"], y)
    return X, y




def _params(kind: str) -> list:
    return list(TABLE[kind])


@pytest.mark.parametrize("name", _params("probe"))
def test_probe_contract(name: str) -> None:
    est = make_probe(name, seed=0)
    twin = clone(est)
    assert type(twin) is type(est) and twin.get_params() == est.get_params()
    regression = is_regressor(est) and not is_classifier(est)
    X, y = _planted(regression)
    fitted = est.fit(X, y)
    assert fitted is est
    with pytest.raises(NotFittedError):
        check_is_fitted(clone(est))  # a clone of a fitted probe is unfitted
    pred = est.predict(X)
    assert pred.shape == (len(X),)
    if regression:
        assert r2_score(y, pred) > 0.9
    else:
        assert list(est.classes_) == ["a", "b", "c"]
        assert set(pred) <= set(est.classes_)
        assert accuracy_score(y, pred) > 0.9  # chance is 1/3
        if hasattr(est, "predict_proba"):
            proba = est.predict_proba(X)
            assert proba.shape == (len(X), 3)
            np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
            assert (proba >= 0).all()
            np.testing.assert_array_equal(est.classes_[proba.argmax(axis=1)], pred)
    again = twin.fit(X, y).predict(X)  # seeded: the clone fits the same
    if regression:
        np.testing.assert_allclose(again, pred)
    else:
        np.testing.assert_array_equal(again, pred)


# -- tasks -------------------------------------------------------------------------------------
SENTENCES = ["the cat sat", "a dog ran far away", "the dog sat", "anna ate", "a cat ran",
             "maria sang a song", "the bird flew", "peter ran home", "a cat ate fish",
             "the small cat and the big dog ran far away home"] * 3


def _meta() -> pd.DataFrame:
    """A tiny store's meta: 30 sentences of word tokens (3 of 11 tokens, for token-back-8),
    label, prediction, length."""
    tokens = [s.split() for s in SENTENCES]
    labels = ["pos" if i % 3 else "neg" for i in range(len(tokens))]
    return pd.DataFrame({
        "text": SENTENCES, "label": labels, "prediction": labels[1:] + labels[:1],
        "tokens": tokens, "length": [len(t) for t in tokens],
    })


def _kept(y: np.ndarray, kind: str) -> np.ndarray:
    if kind == "regression":
        values = np.asarray(y, dtype=float)
        return values[~np.isnan(values)]
    return np.array([v for v in y.tolist() if v is not None], dtype=object)


@pytest.mark.parametrize("name", _params("task"))
def test_task_contract(name: str) -> None:
    task = get_task(name)
    assert task.kind in ("classification", "regression")
    assert task.level in ("sentence", "token", "both")
    meta = _meta()
    tokens, offsets = flat_tokens(meta)
    levels = [lv for lv in ("sentence", "token") if task.applies_to(lv)]
    assert levels, f"task {name!r} applies to no view kind"
    for level in levels:
        y = np.asarray(task.targets(meta, tokens, offsets, level=level))
        assert y.shape == ((len(meta),) if level == "sentence" else (len(tokens),)), level
        kept = _kept(y, task.kind)
        assert len(kept) > 0, f"{name} at {level} level keeps no target"
        if task.kind == "classification":
            assert all(isinstance(v, str | int | np.integer | bool) for v in kept)
            share = pd.Series(kept).value_counts(normalize=True).max()
            assert task.chance(kept) == pytest.approx(share)
        else:
            assert np.isfinite(kept).all() and task.chance(kept) == 0.0


# -- adapters ----------------------------------------------------------------------------------
class TinyReader(nn.Module):
    """An embedding, a 1-layer LSTM and a linear head over each row's last real step.

    Reads ``model(ids)`` or ``model(ids, lengths)``, ids ``(batch, time)``; without lengths it
    counts the non-pad ids, so padding never changes a row's logits."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embedding = nn.Embedding(vocab, 6, padding_idx=0)
        self.rnn = nn.LSTM(6, 5, batch_first=True)
        self.head = nn.Linear(5, 2)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is None:
            lengths = (ids != 0).sum(dim=1)
        out, _ = self.rnn(self.embedding(ids))
        last = out[torch.arange(len(ids)), lengths.to(torch.long) - 1]
        return self.head(last)


@pytest.mark.parametrize("name", _params("adapter"))
def test_adapter_contract(name: str) -> None:
    texts = ["abc", "a", "cabbage", "bad"]
    tokenizer = Tokenizer("char").fit(texts)
    adapter = make_adapter(name, tokenizer)
    batch = adapter.encode(texts)
    lengths = batch["lengths"]
    assert lengths.shape == (len(texts),)
    assert lengths.tolist() == [len(adapter.tokens(t)) for t in texts]
    model = TinyReader(len(tokenizer)).eval()
    with torch.no_grad():
        logits = adapter.forward(model, batch)
        alone = torch.cat([adapter.forward(model, adapter.encode([t])) for t in texts])
    assert logits.shape == (len(texts), 2) and torch.isfinite(logits).all()
    torch.testing.assert_close(logits, alone, rtol=1e-5, atol=1e-6)
