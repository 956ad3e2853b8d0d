"""Shared by the ``record`` tests: a bidirectional 2-layer tagger, its batch, a cleanup check."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


class Tagger(nn.Module):
    def __init__(self, rnn: str = "lstm", dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(10, 4, padding_idx=0)
        cls = {"lstm": nn.LSTM, "gru": nn.GRU}[rnn]
        self.rnn = cls(4, 5, num_layers=2, batch_first=True, dropout=dropout,
                       bidirectional=True)
        self.head = nn.Linear(10, 3)

    def forward(self, ids, lengths):
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True,
                                      enforce_sorted=False)
        _, h = self.rnn(packed)
        h_n = h[0] if isinstance(h, tuple) else h
        return self.head(torch.cat([h_n[-2], h_n[-1]], 1))


def tagger_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded ids (3, 6) and lengths [6, 2, 4]."""
    torch.manual_seed(0)
    return torch.randint(1, 10, (3, 6)), torch.tensor([6, 2, 4])


def clean(model: nn.Module) -> bool:
    return all(
        "forward" not in m.__dict__ and not m._forward_hooks and not m._forward_pre_hooks
        and "_probe_rnn_recording" not in m.__dict__
        for m in model.modules()
    )
