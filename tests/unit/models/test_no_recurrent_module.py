"""A model whose recurrence is written by hand (the from-scratch character RNN of PyTorch's
name-classification tutorial: `i2h`/`i2o` linears, `forward(input, hidden)`) has no module whose
states probe-rnn can capture: the error says so instead of sending the user to --collate."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probe_rnn.errors import ModelCallError
from probe_rnn.models.calling import detect_call


class HandWritten(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        combined = torch.cat((input, hidden), 1)
        return self.softmax(self.i2o(combined)), self.i2h(combined)


def test_a_hand_written_recurrence_is_named_as_the_cause() -> None:
    with pytest.raises(ModelCallError) as err:
        detect_call(HandWritten(20, 8, 2).eval(), 20, 0)
    text = str(err.value)
    assert "HandWritten.forward(input, hidden)" in text
    assert "has no nn.LSTM, nn.GRU or nn.RNN" in text and "collate" not in text
