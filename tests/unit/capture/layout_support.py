"""A packed batch and its :class:`~probe_rnn.capture.states.PackedLayout`, built by torch."""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from probe_rnn.capture.states import PackedLayout

LENGTHS = [3, 5, 1, 4]  # unsorted on purpose


def packed_batch(dim: int = 2, seed: int = 0) -> tuple[torch.Tensor, PackedSequence, PackedLayout]:
    """Padded ``x`` ``(batch, time, dim)`` (zeros after each length), its packed form and layout."""
    torch.manual_seed(seed)
    lengths = torch.tensor(LENGTHS)
    x = torch.randn(len(LENGTHS), max(LENGTHS), dim)
    x[torch.arange(max(LENGTHS))[None, :] >= lengths[:, None]] = 0
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    sizes = packed.batch_sizes.tolist()
    offsets = [0, *torch.tensor(sizes).cumsum(0).tolist()]
    layout = PackedLayout(sizes, offsets, packed.sorted_indices, lengths, torch.device("cpu"))
    return x, packed, layout
