"""The kernel route (``probe_rnn.capture.kernel_route``): the fused kernel run one layer at a
time gives the module's own output and final states, its per-step check passes on the
kernel's states and fails on a changed one, and its recomputed LSTM cells are the loop route's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probe_rnn.capture.cell_equations import direction_weights, layer_weights
from probe_rnn.capture.kernel_route import check_states, run_fused
from probe_rnn.capture.loop_route import lstm_loop
from tests.unit.capture.layout_support import packed_batch

MODULES = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn-tanh": nn.RNN}


def _run(kind: str, seed: int = 11):
    _, packed, layout = packed_batch(dim=3, seed=seed)
    torch.manual_seed(seed)
    module = MODULES[kind](3, 4, num_layers=2, bidirectional=True).eval()
    h0 = torch.randn(4, layout.batch, 4)  # sorted row order, as the kernel reads it
    c0 = torch.randn(4, layout.batch, 4) if kind == "lstm" else None
    hx = (h0, c0) if kind == "lstm" else h0
    with torch.no_grad():
        fused = run_fused(kind, packed.data, packed.batch_sizes, layer_weights(module), hx,
                          n_dirs=2, has_bias=True, training=False, batch_first=False)
        restore = packed.unsorted_indices
        own_hx = (h0[:, restore], c0[:, restore]) if kind == "lstm" else h0[:, restore]
        out, own_final = module(packed, own_hx)
    return module, packed, layout, fused, (h0, c0), out, own_final


@pytest.mark.parametrize("kind", list(MODULES))
def test_layer_by_layer_kernel_is_the_modules_own_forward(kind: str) -> None:
    _, packed, layout, fused, _, out, own_final = _run(kind)
    order = packed.sorted_indices
    torch.testing.assert_close(fused.top, out.data)
    own_h = own_final[0] if kind == "lstm" else own_final
    torch.testing.assert_close(fused.h_n, own_h[:, order])
    if kind == "lstm":
        torch.testing.assert_close(fused.c_n, own_final[1][:, order])
    assert fused.hidden.shape == (layout.n_tokens, 2, 2, 4)
    torch.testing.assert_close(fused.hidden[:, 1].reshape(layout.n_tokens, 8), out.data)


@pytest.mark.parametrize("kind", list(MODULES))
def test_the_check_passes_on_the_kernels_states_and_fails_on_a_changed_one(kind: str) -> None:
    module, _, layout, fused, (h0, c0), _, _ = _run(kind)
    weights = direction_weights(module)
    _, report = check_states(kind, fused, layout, weights, h0, c0)
    assert len(report) == 4 * (2 if kind == "lstm" else 1)  # per layer x direction (+ c_n)
    assert all(d <= allowed for _, d, allowed in report)
    fused.hidden[3, 1, 0] += 1e-2  # one state of one step of one row, layer 1 forward
    _, report = check_states(kind, fused, layout, weights, h0, c0)
    failed = {what for what, d, allowed in report if d > allowed}
    assert "h L1/fwd" in failed


def test_recomputed_lstm_cells_equal_the_loop_routes() -> None:
    module, packed, layout, fused, (h0, c0), _, _ = _run("lstm", seed=12)
    cell, _ = check_states("lstm", fused, layout, direction_weights(module), h0, c0)
    with torch.no_grad():
        _, loop_cells, *_ = lstm_loop(packed.data, layout, direction_weights(module), h0, c0)
    assert cell.shape == (layout.n_tokens, 2, 2, 4)
    for layer in range(2):
        torch.testing.assert_close(cell[:, layer], loop_cells[layer], rtol=1e-5, atol=1e-6)
