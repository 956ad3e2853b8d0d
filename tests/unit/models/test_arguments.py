"""The arguments the built-in adapters pass: initial states, two texts, keywords."""

from __future__ import annotations

import torch
from torch import nn

from probe_rnn.models.adapters import IdsAdapter, IdsLengthsAdapter
from probe_rnn.models.arguments import forward_arguments, initial_state
from probe_rnn.models.feeding import Feeding


def test_zeros_are_shaped_as_the_first_modules_h0_and_c0() -> None:
    model = nn.Module()
    model.rnn = nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
    h, c = initial_state(model, "zeros", 7)
    assert h.shape == (4, 7, 2) and c.shape == (4, 7, 5) and not h.any() and not c.any()
    model.rnn = nn.GRU(3, 5)
    assert initial_state(model, "zeros", 7).shape == (1, 7, 5)


def test_init_hidden_gets_the_number_of_rows() -> None:
    seen = []
    model = nn.GRU(2, 2)
    model.init_hidden = lambda bsz: seen.append(bsz) or torch.ones(1, bsz, 2)
    adapter = IdsAdapter(None, "time", Feeding(initial_state="init_hidden"))
    batch = {"ids": torch.tensor([[1, 2, 3], [4, 5, 0]]), "lengths": torch.tensor([3, 2])}
    args, kwargs = forward_arguments(adapter, model, batch)
    assert seen == [2] and torch.equal(args[0], batch["ids"].t()) and args[1].shape == (1, 2, 2)
    assert kwargs == {}


def test_two_texts_come_in_order_with_their_lengths_and_teacher_forcing() -> None:
    adapter = IdsLengthsAdapter(None, "batch", Feeding(texts=2, teacher_forcing="ratio"))
    batch = {"ids": torch.ones(2, 3, dtype=torch.long), "lengths": torch.tensor([3, 1]),
             "ids_2": torch.full((2, 4), 2), "lengths_2": torch.tensor([4, 2])}
    args, kwargs = forward_arguments(adapter, nn.Linear(1, 1), batch)
    assert [tuple(a.shape) for a in args] == [(2, 3), (2,), (2, 4), (2,)]
    assert torch.equal(args[2], batch["ids_2"]) and torch.equal(args[3], batch["lengths_2"])
    assert kwargs == {"ratio": 1.0}
