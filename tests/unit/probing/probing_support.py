"""Fixtures for the probing tests: real stores of a tiny trained LSTM, and array-backed stores.

``lstm_stores`` trains (a few seconds) a unidirectional LSTM on a planted-rule corpus (label =
whether the first character is in "abcd"; the model must carry it to the end) and captures it
and an untrained twin into real :class:`~probe_rnn.capture.store.StateStore` folders.
``ArrayStore`` serves hand-made arrays through the same read interface.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

FIRST = set("abcd")


def planted_table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Random strings over a-h, length 3..10, label "yes" iff the first char is in a-d."""
    rng = np.random.default_rng(seed)
    texts = ["".join(rng.choice(list("abcdefgh"), size=int(rng.integers(3, 11))))
             for _ in range(n)]
    labels = ["yes" if t[0] in FIRST else "no" for t in texts]
    return pd.DataFrame({"text": texts, "label": labels})


class ArrayStore:
    """A StateStore look-alike over in-memory arrays (same read methods the runner uses)."""

    def __init__(self, meta: pd.DataFrame, sentence: dict[str, np.ndarray],
                 token: dict[str, np.ndarray] | None = None) -> None:
        self.meta = meta
        self._sentence = sentence
        self._token = token or {}
        lengths = np.array([len(t) for t in meta["tokens"]])
        self._offsets = np.concatenate([[0], np.cumsum(lengths)])

    @property
    def views(self) -> list[str]:
        return [*self._sentence, *self._token]

    def kind(self, name: str) -> str:
        if name in self._token:
            return "token"
        if name in self._sentence or name.split("@")[0] in self._token:
            return "sentence"
        raise KeyError(name)

    def sentence_masked(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name in self._sentence:
            return self._sentence[name], np.ones(len(self.meta), dtype=bool)
        base, t = name.rsplit("@", 1)
        flat, off = self._token[base], self._offsets
        t = int(t)
        lengths = np.diff(off)
        mask = lengths > t if t >= 0 else lengths >= -t
        index = off[:-1] + t if t >= 0 else off[1:] + t
        out = np.full((len(self.meta), flat.shape[1]), np.nan)
        out[mask] = flat[index[mask]]
        return out, mask

    def tokens(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self._token[name], self._offsets


def meta_for(texts: list[str], labels: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"row": range(len(texts)), "text": texts, "label": labels,
                         "prediction": labels, "tokens": [list(t) for t in texts]})


def _bundle(seed: int):
    from probe_rnn.data.tokenizers import Tokenizer
    from probe_rnn.models.adapters import ProbeRnnAdapter
    from probe_rnn.models.bundle import ModelBundle
    from probe_rnn.models.classifier import RNNClassifier
    from probe_rnn.models.config import ModelConfig

    tok = Tokenizer("char").fit(list("abcdefgh"))
    cfg = ModelConfig(vocab_size=len(tok), n_labels=2, rnn="lstm", embedding_dim=8, hidden=16)
    torch.manual_seed(seed)
    model = RNNClassifier(cfg)
    return ModelBundle(model=model, tokenizer=tok, labels=["no", "yes"], config=cfg, meta={},
                       adapter=ProbeRnnAdapter(tok), source="test", checksum=f"probing-{seed}")


def _train(bundle, df: pd.DataFrame, epochs: int = 10) -> None:
    torch.manual_seed(0)
    batch = bundle.adapter.encode(df["text"].tolist())
    y = torch.tensor([bundle.labels.index(v) for v in df["label"]])
    opt = torch.optim.Adam(bundle.model.parameters(), lr=0.02)
    bundle.model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(y)).split(50):
            opt.zero_grad()
            logits = bundle.model(batch["ids"][idx], batch["lengths"][idx])
            torch.nn.functional.cross_entropy(logits, y[idx]).backward()
            opt.step()
    bundle.model.eval()


@pytest.fixture(scope="session")
def lstm_stores(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``{"trained": StateStore, "random-init": StateStore}`` plus the training accuracy."""
    from probe_rnn.capture.run_capture import capture_states

    df = planted_table(300)
    trained, untrained = _bundle(1), _bundle(2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: threads only add contention on a shared machine
    try:
        _train(trained, df)
    finally:
        torch.set_num_threads(threads)
    root: Path = tmp_path_factory.mktemp("stores")
    views = ["output@last", "hidden/L0/fwd"]
    return {
        "trained": capture_states(trained, df, root / "trained", views=views, dtype="float32"),
        "random-init": capture_states(untrained, df, root / "random", views=views, dtype="float32"),
    }
