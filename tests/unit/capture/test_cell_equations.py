"""The cell equations and weight decoding every capture route shares
(``probe_rnn.capture.cell_equations``), one step at a time against PyTorch's own
``nn.LSTMCell``/``nn.GRUCell``/``nn.RNNCell`` holding the same weights, and the packed
recurrences against a per-row loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probe_rnn.capture.cell_equations import (
    direction_weights,
    final_states,
    gate_preactivations,
    gru_gates,
    gru_hidden,
    lstm_cell,
    lstm_cell_sequence,
    lstm_gates_,
    lstm_hidden,
    named_cell_weights,
    previous_states,
    rnn_hidden,
)
from tests.unit.capture.layout_support import LENGTHS, packed_batch

CELLS = {"lstm": (nn.LSTM, nn.LSTMCell), "gru": (nn.GRU, nn.GRUCell),
         "rnn-tanh": (nn.RNN, nn.RNNCell), "rnn-relu": (nn.RNN, nn.RNNCell)}


def _module_and_cell(kind: str, layer: int, direction: int) -> tuple[nn.RNNBase, nn.RNNCellBase]:
    """A 2-layer bidirectional fused module and a cell holding one layer-direction's weights."""
    torch.manual_seed(1)
    fused, cell_cls = CELLS[kind]
    extra = {"nonlinearity": kind.split("-")[1]} if kind.startswith("rnn") else {}
    module = fused(3, 4, num_layers=2, bidirectional=True, **extra)
    cell = cell_cls(3 if layer == 0 else 8, 4, **extra)
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(module, name + suffix))
    return module, cell


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize(("layer", "direction"), [(0, 0), (1, 1)])
def test_one_step_equals_pytorchs_cell(kind: str, layer: int, direction: int) -> None:
    module, cell = _module_and_cell(kind, layer, direction)
    flat = direction_weights(module)[layer][direction]
    assert named_cell_weights(module, layer, direction).w_ih is flat[0]  # same tensors
    x = torch.randn(5, cell.input_size)
    h = torch.randn(5, 4)
    gi, gh = gate_preactivations(x, h, flat)
    with torch.no_grad():
        if kind == "lstm":
            c = torch.randn(5, 4)
            i, f, g, o = lstm_gates_(gi + gh)
            c_new = lstm_cell(i, f, g, c)
            h_ref, c_ref = cell(x, (h, c))
            torch.testing.assert_close(c_new, c_ref)
            torch.testing.assert_close(lstm_hidden(o, c_new, None), h_ref)
        elif kind == "gru":
            _, z, n = gru_gates(gi, gh)
            torch.testing.assert_close(gru_hidden(z, n, h), cell(x, h))
        else:
            torch.testing.assert_close(rnn_hidden(gi + gh, kind.split("-")[1]), cell(x, h))


def test_lstm_hidden_projects_with_proj_size() -> None:
    torch.manual_seed(2)
    lstm = nn.LSTM(3, 5, proj_size=2)
    w = named_cell_weights(lstm, 0, 0)
    x, h0, c0 = torch.randn(1, 4, 3), torch.randn(1, 4, 2), torch.randn(1, 4, 5)
    gi, gh = gate_preactivations(x[0], h0[0], direction_weights(lstm)[0][0])
    i, f, g, o = lstm_gates_(gi + gh)
    c = lstm_cell(i, f, g, c0[0])
    with torch.no_grad():
        out, (h_n, c_n) = lstm(x, (h0, c0))
        torch.testing.assert_close(lstm_hidden(o, c, w.w_hr), out[0])
    torch.testing.assert_close(c, c_n[0].detach())


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_cell_sequence_runs_the_recurrence_per_row(reverse: bool) -> None:
    _, packed, layout = packed_batch(dim=3, seed=4)
    f = torch.rand(layout.n_tokens, 3)
    ig = packed.data
    c0 = torch.randn(layout.batch, 3)  # sorted order
    c = layout.to_padded([lstm_cell_sequence(f, ig, c0, layout, reverse)])[:, :, 0]
    f_pad = layout.to_padded([f])[:, :, 0]
    ig_pad = layout.to_padded([ig])[:, :, 0]
    for sorted_row, row in enumerate(packed.sorted_indices.tolist()):
        prev = c0[sorted_row]
        steps = range(LENGTHS[row] - 1, -1, -1) if reverse else range(LENGTHS[row])
        for t in steps:
            prev = f_pad[row, t] * prev + ig_pad[row, t]
            torch.testing.assert_close(c[row, t], prev)


def test_previous_and_final_states_of_each_direction() -> None:
    x, packed, layout = packed_batch(dim=2, seed=5)
    h0 = torch.randn(layout.batch, 2)
    order = packed.sorted_indices.tolist()
    fwd_prev = layout.to_padded([previous_states(h0, packed.data, layout, 0)])[:, :, 0]
    for sorted_row, row in enumerate(order):
        torch.testing.assert_close(fwd_prev[row, 0], h0[sorted_row])
        torch.testing.assert_close(fwd_prev[row, 1:LENGTHS[row]], x[row, :LENGTHS[row] - 1])
    last_fwd = final_states(packed.data, layout, 0)
    first = final_states(packed.data, layout, 1)
    for sorted_row, row in enumerate(order):
        torch.testing.assert_close(last_fwd[sorted_row], x[row, LENGTHS[row] - 1])
        torch.testing.assert_close(first[sorted_row], x[row, 0])  # bwd ends at step 0
