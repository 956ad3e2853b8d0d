"""The loop capture route: an LSTM step loop that *replaces* the fused kernel's call.

It mirrors PyTorch's native CPU recurrence operation for operation — the input projection of
every step in one matmul per layer and direction, then per step ``addmm`` of the hidden
projection, ``add_`` of the input projection, the gate non-linearities on ``unsafe_chunk``
views, ``c = f*c + i*g``, ``h = o*tanh(c)`` (then ``h @ W_hr^T`` with ``proj_size``) — so on
the native path its output is bit-for-bit the module's, while every h and c lands directly in
preallocated packed-layout buffers. Its cost is one forward plus a little Python per step.
The cell equations are :mod:`probe_rnn.capture.cell_equations`'s.
"""

from __future__ import annotations

import torch
from torch import Tensor

from probe_rnn.capture.cell_equations import (
    CellWeights,
    cell_weights,
    final_states,
    lstm_cell,
    lstm_gates_,
    lstm_hidden,
)
from probe_rnn.capture.states import PackedLayout


class Workspace:
    """Scratch buffers reused across calls (big fresh allocations cost page faults)."""

    def __init__(self) -> None:
        self._buffers: dict[tuple, Tensor] = {}

    def get(self, key: str, rows: int, cols: int, like: Tensor) -> Tensor:
        """A ``(rows, cols)`` scratch tensor (contiguous, starting at its buffer's start)."""
        full = (key, cols, like.dtype, like.device)
        buf = self._buffers.get(full)
        if buf is None or buf.shape[0] < rows:
            buf = like.new_empty((rows, cols))
            self._buffers[full] = buf
        return buf[:rows]


def _direction(
    xw: Tensor,
    weights: list[Tensor],
    layout: PackedLayout,
    h0: Tensor,
    c0: Tensor,
    h_out: Tensor,
    c_out: Tensor,
    reverse: bool,
    gate_buf: Tensor,
    pre_out: Tensor | None = None,
) -> None:
    """Run one layer-direction over the packed steps, writing ``h_out``/``c_out`` rows.

    ``xw`` is ``(n_tokens, 4*hidden)`` (input projection with ``b_ih``); ``h0``/``c0`` are
    ``(batch, out)``/``(batch, hidden)`` in sorted order; ``h_out``/``c_out`` are
    ``(n_tokens, out)``/``(n_tokens, hidden)`` (strided views are fine); ``gate_buf`` is a
    ``(batch, 4*hidden)`` scratch tensor; ``pre_out`` ``(n_tokens, 4*hidden)``, when given,
    receives the gate pre-activations of every step (for :mod:`probe_rnn.capture.verify`).
    """
    w = cell_weights(weights)
    w_hh_t, b_hh = w.w_hh.t(), w.b_hh
    bs, offs = layout.batch_sizes, layout.offsets
    steps = range(len(bs) - 1, -1, -1) if reverse else range(len(bs))
    h_state, c_state = (h0.clone(), c0.clone()) if reverse else (h0, c0)
    for t in steps:
        b, o = bs[t], offs[t]
        gates = gate_buf[:b]
        if b_hh is not None:
            torch.addmm(b_hh, h_state[:b], w_hh_t, out=gates)
        else:
            torch.mm(h_state[:b], w_hh_t, out=gates)
        gates.add_(xw[o : o + b])
        if pre_out is not None:
            pre_out[o : o + b] = gates
        ingate, forgetgate, cellgate, outgate = lstm_gates_(gates)
        # fresh tensors as in ATen (a GEMM's rounding can depend on its input's alignment)
        c_new = lstm_cell(ingate, forgetgate, cellgate, c_state[:b])
        h_new = lstm_hidden(outgate, c_new, w.w_hr)
        c_out[o : o + b] = c_new
        h_out[o : o + b] = h_new
        if reverse:
            h_state[:b] = h_new
            c_state[:b] = c_new
        else:
            h_state, c_state = h_new, c_new


def lstm_loop(
    data: Tensor,
    layout: PackedLayout,
    layer_weights: list[list[list[Tensor]]],
    h0: Tensor,
    c0: Tensor,
    workspace: Workspace | None = None,
    keep_gates: bool = False,
) -> tuple[list[Tensor], list[Tensor], Tensor, Tensor, Tensor, list[list[Tensor]]]:
    """Recompute every state of a (multi-layer, maybe bidirectional) LSTM in packed layout.

    Parameters
    ----------
    data : Tensor
        ``(n_tokens, input_size)`` packed-layout input (time-major, sorted rows).
    layout : PackedLayout
    layer_weights : list
        ``[layer][direction] -> [w_ih, w_hh, (b_ih, b_hh), (w_hr)]`` as in ``_flat_weights``.
    h0, c0 : Tensor
        ``(layers * directions, batch, out)`` / ``(..., hidden)`` initial states, sorted order.
    workspace : Workspace, optional
        Scratch buffers to reuse across calls.
    keep_gates : bool
        Also return every step's gate pre-activations (workspace buffers: valid until the
        next call).

    Returns
    -------
    hidden, cell, top, h_n, c_n, pre
        per layer ``(n_tokens, directions, out)`` and ``(n_tokens, directions, hidden)``, the
        top layer's output ``(n_tokens, directions * out)`` (a view of ``hidden[-1]``), and the
        final states ``(layers * directions, batch, ...)`` in sorted order, and
        ``pre[layer][direction]`` ``(n_tokens, 4*hidden)`` (empty unless ``keep_gates``).
    """
    ws = workspace or Workspace()
    n_dirs = len(layer_weights[0])
    out_size, hidden_size = h0.shape[-1], c0.shape[-1]
    n = layout.n_tokens
    hidden, cell, pre = [], [], []
    layer_in = data
    gate_buf = ws.get("gates", layout.batch, 4 * hidden_size, data)
    for layer, dirs in enumerate(layer_weights):
        # one contiguous (n, dirs, out) buffer per layer: it is the next layer's input as is
        h_layer = data.new_empty((n, n_dirs, out_size))
        c_layer = data.new_empty((n, n_dirs, hidden_size))
        pre.append([])
        for d, weights in enumerate(dirs):
            pre_out = ws.get(f"pre{layer}/{d}", n, 4 * hidden_size, data) if keep_gates else None
            if pre_out is not None:
                pre[-1].append(pre_out)
            xw = _project_input(layer_in, cell_weights(weights),
                                ws.get("xw", n, 4 * hidden_size, data))
            k = layer * n_dirs + d
            _direction(xw, weights, layout, h0[k], c0[k], h_layer[:, d], c_layer[:, d], d == 1,
                       gate_buf, pre_out)
        hidden.append(h_layer)
        cell.append(c_layer)
        layer_in = h_layer.view(n, n_dirs * out_size)
    return hidden, cell, layer_in, _final(hidden, layout), _final(cell, layout), pre


def _project_input(x: Tensor, w: CellWeights, out: Tensor) -> Tensor:
    """``out = x W_ih^T + b_ih`` of every step at once (``addmm`` as ATen's, into ``out``)."""
    if w.b_ih is not None:
        return torch.addmm(w.b_ih, x, w.w_ih.t(), out=out)
    return torch.mm(x, w.w_ih.t(), out=out)


def _final(states: list[Tensor], layout: PackedLayout) -> Tensor:
    """``(layers * directions, batch, .)`` final states of per-layer ``(n_tokens, dirs, .)``."""
    return torch.stack([final_states(s[:, d], layout, d)
                        for s in states for d in range(s.shape[1])])
