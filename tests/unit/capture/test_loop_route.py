"""The LSTM loop route (``probe_rnn.capture.loop_route.lstm_loop``) against the fused module it
replaces: the same output, ``h_n`` and ``c_n``, for a 2-layer bidirectional LSTM on a packed
batch of unsorted rows, with and without ``proj_size``; its cells follow ``c_t = f*c + i*g``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probe_rnn.capture.cell_equations import direction_weights
from probe_rnn.capture.loop_route import lstm_loop
from tests.unit.capture.layout_support import packed_batch


@pytest.mark.parametrize("proj_size", [0, 2])
def test_the_loop_reproduces_the_fused_lstm(proj_size: int) -> None:
    _, packed, layout = packed_batch(dim=3, seed=8)
    torch.manual_seed(8)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=proj_size).eval()
    out_size = proj_size or 4
    h0 = torch.randn(4, layout.batch, out_size)  # (layers * dirs, batch, out), sorted rows
    c0 = torch.randn(4, layout.batch, 4)
    order = packed.sorted_indices
    with torch.no_grad():
        hidden, cell, top, h_n, c_n, pre = lstm_loop(
            packed.data, layout, direction_weights(lstm), h0, c0)
        restore = packed.unsorted_indices
        out, (ref_h, ref_c) = lstm(packed, (h0[:, restore], c0[:, restore]))
    assert pre == [[], []]  # no gates kept unless asked
    assert len(hidden) == len(cell) == 2
    assert hidden[0].shape == (layout.n_tokens, 2, out_size)
    assert cell[1].shape == (layout.n_tokens, 2, 4)
    torch.testing.assert_close(top, out.data, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(h_n, ref_h[:, order], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(c_n, ref_c[:, order], rtol=1e-6, atol=1e-6)


def test_kept_gates_are_the_pre_activations_of_every_step() -> None:
    _, packed, layout = packed_batch(dim=3, seed=9)
    torch.manual_seed(9)
    lstm = nn.LSTM(3, 4).eval()
    zeros_h, zeros_c = torch.zeros(1, layout.batch, 4), torch.zeros(1, layout.batch, 4)
    with torch.no_grad():
        hidden, cell, *_, pre = lstm_loop(packed.data, layout, direction_weights(lstm),
                                          zeros_h, zeros_c, keep_gates=True)
    gates = pre[0][0]
    assert gates.shape == (layout.n_tokens, 16)
    i, f, g, o = gates.chunk(4, 1)
    h_prev = torch.cat([zeros_h[0], hidden[0][:, 0]]).index_select(0, layout.index("prev_fwd"))
    c_prev = torch.cat([zeros_c[0], cell[0][:, 0]]).index_select(0, layout.index("prev_fwd"))
    expected = packed.data @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + \
        h_prev @ lstm.weight_hh_l0.T + lstm.bias_hh_l0
    torch.testing.assert_close(gates, expected.detach(), rtol=1e-5, atol=1e-6)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    torch.testing.assert_close(cell[0][:, 0], c, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(hidden[0][:, 0], torch.sigmoid(o) * torch.tanh(c),
                               rtol=1e-5, atol=1e-6)
