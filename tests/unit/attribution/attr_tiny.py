"""Helpers for attribution tests: tiny seeded models and a batch of varied lengths."""

from __future__ import annotations

import torch

from probe_rnn.models import ModelConfig, RNNClassifier


def tiny_model(rnn: str = "lstm", layers: int = 1, bidirectional: bool = False,
               packed: bool = True, readout: str = "last", seed: int = 0,
               n_labels: int = 3) -> RNNClassifier:
    """An untrained RNNClassifier (vocab 12, emb 6, hidden 8) with weights scaled up so the
    function is clearly non-linear (random init alone is almost linear)."""
    torch.manual_seed(seed)
    model = RNNClassifier(ModelConfig(
        vocab_size=12, n_labels=n_labels, rnn=rnn, embedding_dim=6, hidden=8, layers=layers,
        bidirectional=bidirectional, packed=packed, readout=readout))
    with torch.no_grad():
        for p in model.rnn.parameters():
            p.mul_(2.5)
    return model.eval()


def tiny_batch(seed: int = 1, lengths: tuple[int, ...] = (7, 3, 5, 1, 6)
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """ids (batch, 7) right-padded with 0 and their lengths."""
    g = torch.Generator().manual_seed(seed)
    lens = torch.tensor(lengths)
    ids = torch.randint(2, 12, (len(lengths), max(lengths)), generator=g)
    ids[torch.arange(ids.shape[1])[None, :] >= lens[:, None]] = 0
    return ids, lens
