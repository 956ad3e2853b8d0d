"""Tiny models with several recurrent sites, and an adapter feeding them one or two texts.

* :class:`Siamese`: one ``nn.LSTM`` encoder called on text a and on text b, cosine out.
* :class:`EncoderDecoder`: an encoder GRU on the source, a decoder GRU teacher-forced on the
  target from the encoder's final state, per-step logits.
* :class:`GreedyDecoder`: an encoder GRU, then a decoder GRU called once per step on its own
  previous prediction (the seq2seq tutorial's greedy loop); ``short_last``: one step fewer
  on a batch of an odd number of rows.
* :class:`Stacked`: two modules, an LSTM then a GRU on its output, on one text.

:class:`PairAdapter` encodes ``"a|b"`` texts into ``ids``/``lengths`` (text a) and
``ids_2``/``lengths_2`` (text b), padded with 0; :func:`site_bundle` wraps a model in a bundle.
A forward hook (:func:`own_calls`) catches every call's own ``output`` and ``h_n`` from a plain
forward: the independent reference the tests compare captured states with.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from probe_rnn.models.bundle import ModelBundle

VOCAB = "abcdefg"
STEPS = 4


class Siamese(nn.Module):
    def __init__(self, packed: bool = False) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(VOCAB) + 1, 6, padding_idx=0)
        self.encoder = nn.LSTM(6, 5, batch_first=True)
        self.packed = packed

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids)
        if self.packed:
            x = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.encoder(x)
        return h_n[-1]

    def forward(self, ids, lengths, ids_2, lengths_2):  # noqa: ANN001, ANN201
        a, b = self.encode(ids, lengths), self.encode(ids_2, lengths_2)
        return torch.cosine_similarity(a, b, dim=-1)[:, None]


class EncoderDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(VOCAB) + 1, 6, padding_idx=0)
        self.encoder = nn.GRU(6, 5, batch_first=True)
        self.decoder = nn.GRU(6, 5, batch_first=True)
        self.out = nn.Linear(5, len(VOCAB) + 1)

    def forward(self, ids, lengths, ids_2, lengths_2):  # noqa: ANN001, ANN201
        _, h_n = self.encoder(self.embedding(ids))
        steps, _ = self.decoder(self.embedding(ids_2), h_n)
        return self.out(steps)  # (batch, time, vocab) per-step logits


class GreedyDecoder(nn.Module):
    def __init__(self, steps: int = STEPS, short_last: bool = False) -> None:
        super().__init__()
        self.steps, self.short_last = steps, short_last
        self.embedding = nn.Embedding(len(VOCAB) + 1, 6, padding_idx=0)
        self.encoder = nn.GRU(6, 5, batch_first=True)
        self.decoder = nn.GRU(6, 5, batch_first=True)
        self.out = nn.Linear(5, len(VOCAB) + 1)

    def forward(self, ids, lengths, ids_2=None, lengths_2=None):  # noqa: ANN001, ANN201
        x = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True,
                                 enforce_sorted=False)
        _, hidden = self.encoder(x)
        token = torch.ones(len(ids), 1, dtype=torch.long)
        logits = []
        steps = self.steps - 1 if self.short_last and len(ids) % 2 else self.steps
        for _ in range(steps):
            step, hidden = self.decoder(self.embedding(token), hidden)
            logits.append(self.out(step))
            token = logits[-1].argmax(-1)
        return torch.cat(logits, 1)


class Stacked(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(VOCAB) + 1, 6, padding_idx=0)
        self.rnn1 = nn.LSTM(6, 5, batch_first=True)
        self.rnn2 = nn.GRU(5, 4, batch_first=True, bidirectional=True)
        self.head = nn.Linear(8, 2)

    def forward(self, ids, lengths, ids_2=None, lengths_2=None):  # noqa: ANN001, ANN201
        first, _ = self.rnn1(self.embedding(ids))
        second, _ = self.rnn2(first)
        return self.head(second[torch.arange(len(ids)), lengths - 1])


class PairAdapter:
    """Encodes ``"a|b"`` texts (text b optional) and calls ``model(ids, lengths, ids_2,
    lengths_2)``; returns ``(batch, n)`` scores (per-step logits averaged over steps)."""

    def __init__(self, pair: bool = True) -> None:
        self.pair = pair

    @staticmethod
    def _pad(parts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = torch.tensor([len(p) for p in parts], dtype=torch.long)
        ids = torch.zeros(len(parts), int(lengths.max()), dtype=torch.long)
        for row, part in enumerate(parts):
            ids[row, :len(part)] = torch.tensor([VOCAB.index(c) + 1 for c in part])
        return ids, lengths

    def encode(self, texts: list[str]) -> dict[str, Any]:
        ids, lengths = self._pad([t.split("|")[0] for t in texts])
        batch = {"ids": ids, "lengths": lengths}
        if self.pair:
            batch["ids_2"], batch["lengths_2"] = self._pad([t.split("|")[1] for t in texts])
        return batch

    def forward(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        out = model(batch["ids"], batch["lengths"], batch.get("ids_2"), batch.get("lengths_2"))
        return out.mean(1) if out.dim() == 3 else out

    @staticmethod
    def tokens(text: str) -> list[str]:
        return list(text.split("|")[0])


def site_bundle(model: nn.Module, pair: bool = True) -> ModelBundle:
    model.eval()
    return ModelBundle(model=model, tokenizer=None, labels=["x", "y"], config=None, meta={},
                       adapter=PairAdapter(pair), source="test", checksum="sites")


def pair_table(n: int = 11, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)

    def text() -> str:
        return "".join(rng.choice(list(VOCAB), size=rng.integers(1, 8)))

    texts = [f"{text()}|{text()}" for _ in range(n)]
    return pd.DataFrame({"text": texts, "label": ["x" if i % 2 else "y" for i in range(n)],
                         "split": ["train", "train", "test"] * (n // 3) + ["train"] * (n % 3)})


@contextmanager
def own_calls(module: nn.Module) -> Any:
    """Every call's own ``(output batch-major padded, h_n)`` of ``module`` in a plain forward."""
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def hook(mod: nn.Module, _inputs: Any, result: Any) -> None:
        output, state = result
        if isinstance(output, PackedSequence):
            output = pad_packed_sequence(output, batch_first=True)[0]
        elif not mod.batch_first:
            output = output.transpose(0, 1)
        h_n = state[0] if isinstance(state, tuple) else state
        calls.append((output.detach().clone(), h_n.detach().clone()))

    handle = module.register_forward_hook(hook)
    try:
        yield calls
    finally:
        handle.remove()
