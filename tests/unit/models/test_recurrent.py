"""Recurrent-module discovery (:mod:`probe_rnn.models.recurrent`): every fused module (and,
on request, every cell) in model order, named as ``named_modules`` names them, and each kind
spelled as the state catalogue spells it."""

from __future__ import annotations

import pytest
from torch import nn

from probe_rnn import catalogue
from probe_rnn.models.recurrent import cell_kind, first_recurrent, module_kind, recurrent_modules


class _Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.enc = nn.GRU(3, 4)
        self.cell = nn.LSTMCell(4, 4)
        self.stack = nn.ModuleList([nn.RNN(4, 4, nonlinearity="relu"), nn.Linear(4, 2)])
        self.dec = nn.LSTM(4, 4, bidirectional=True)


def test_every_fused_module_in_model_order_and_cells_on_request() -> None:
    model = _Mixed()
    expected = [n for n, m in model.named_modules()
                if isinstance(m, (nn.LSTM, nn.GRU, nn.RNN))]
    found = recurrent_modules(model)
    assert list(found) == expected == ["enc", "stack.0", "dec"]
    assert all(found[n] is model.get_submodule(n) for n in found)
    assert list(recurrent_modules(model, cells=True)) == ["enc", "cell", "stack.0", "dec"]
    assert first_recurrent(model) == ("enc", model.enc)


def test_a_model_without_recurrent_modules_has_none() -> None:
    model = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 2))
    assert recurrent_modules(model, cells=True) == {}
    assert first_recurrent(model) is None


def test_the_model_itself_is_named_empty() -> None:
    lstm = nn.LSTM(2, 3)
    assert recurrent_modules(lstm) == {"": lstm}


@pytest.mark.parametrize(("module", "kind"), [
    (nn.LSTM(2, 3), "lstm"), (nn.GRU(2, 3), "gru"), (nn.RNN(2, 3), "rnn-tanh"),
    (nn.RNN(2, 3, nonlinearity="relu"), "rnn-relu"), (nn.Linear(2, 3), None),
    (nn.LSTMCell(2, 3), None),
])
def test_module_kinds_are_the_catalogue_spellings(module, kind) -> None:
    assert module_kind(module) == kind
    assert kind is None or kind in catalogue.MODULE_KINDS


@pytest.mark.parametrize(("module", "kind"), [
    (nn.LSTMCell(2, 3), "lstm-cell"), (nn.GRUCell(2, 3), "gru-cell"),
    (nn.RNNCell(2, 3), "rnn-cell"), (nn.LSTM(2, 3), None),
])
def test_cell_kinds_are_the_catalogue_spellings(module, kind) -> None:
    assert cell_kind(module) == kind
    assert kind is None or kind in catalogue.CELL_KINDS
