"""The calls tried for a forward that takes an initial state or two texts."""

from __future__ import annotations

import torch
from torch import nn

from probe_rnn.models.call_options import Candidate, candidates


class LM(nn.Module):
    def __init__(self, init: bool) -> None:
        super().__init__()
        self.rnn = nn.LSTM(3, 4)
        if init:
            self.init_hidden = lambda bsz: (torch.zeros(1, bsz, 4), torch.zeros(1, bsz, 4))

    def forward(self, input, hidden):
        return self.rnn(input, hidden)


def test_a_language_models_hidden_gets_init_hidden_or_zeros() -> None:
    assert candidates(LM(True)) == [Candidate(1, False, initial_state="init_hidden")]
    assert candidates(LM(False)) == [Candidate(1, False, initial_state="zeros")]


def test_an_optional_state_is_left_out_first() -> None:
    model = type("M", (nn.Module,), {"forward": lambda self, x, hidden=None: x})()
    model.gru = nn.GRU(2, 2)
    assert candidates(model) == [Candidate(1, False), Candidate(1, False, initial_state="zeros")]


def test_two_texts_are_tried_only_when_asked() -> None:
    pair = type("P", (nn.Module,), {"forward": lambda self, a, b: a})()
    assert all(c.texts == 1 for c in candidates(pair))
    assert candidates(pair, 2) == [Candidate(2, False)]
    four = type("F", (nn.Module,), {"forward": lambda self, a, la, b, lb: a})()
    assert candidates(four, 2) == [Candidate(2, True)]


def test_a_teacher_forcing_ratio_is_given_one() -> None:
    model = type("S", (nn.Module,), {
        "forward": lambda self, src, trg, teacher_forcing_ratio=0.5: src})()
    assert candidates(model, 2) == [Candidate(2, False, teacher_forcing="teacher_forcing_ratio")]


def test_a_teacher_forcing_ratio_without_default_is_given_one_too() -> None:
    model = type("S", (nn.Module,), {
        "forward": lambda self, src, trg, teacher_forcing_ratio: src})()
    assert candidates(model, 2) == [Candidate(2, False, teacher_forcing="teacher_forcing_ratio")]
