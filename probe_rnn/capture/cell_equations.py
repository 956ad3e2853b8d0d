"""The recurrence of ``nn.LSTM``/``nn.GRU``/``nn.RNN``: weight decoding and cell equations.

One place for the maths every route shares (the capture loop and kernel routes, their checks,
the lazily recomputed gates and the unrolled attribution twin):

* **weights**: a fused module's ``_flat_weights`` hold, per layer and direction, ``w_ih, w_hh``
  then ``b_ih, b_hh`` (with ``bias``) then ``w_hr`` (with ``proj_size``).
  :func:`direction_weights` splits them per ``[layer][direction]``, :func:`cell_weights` names
  the positions of one direction, :func:`named_cell_weights` reads them by parameter name at
  call time;
* **steps**: :func:`previous_states` (each packed row's ``s_{t-1}``), :func:`final_states`;
* **pre-activations**: :func:`gate_preactivations` (``x W_ih^T + b_ih``, ``h W_hh^T + b_hh``);
* **cells**, in PyTorch's gate order: LSTM ``i, f, g, o`` (:func:`lstm_gates_`,
  :func:`lstm_cell`, :func:`lstm_cell_sequence`, :func:`lstm_hidden`), GRU ``r, z, n``
  (:func:`gru_gates`, :func:`gru_hidden`), RNN ``tanh``/``relu`` (:func:`rnn_hidden`).

Each function keeps one fixed operation order, so every caller gets bit-identical results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from probe_rnn.capture.states import PackedLayout


class CellWeights(NamedTuple):
    """The weights of one layer-direction (biases and projection None when absent)."""

    w_ih: Tensor
    w_hh: Tensor
    b_ih: Tensor | None
    b_hh: Tensor | None
    w_hr: Tensor | None


def cell_weights(flat: Sequence[Tensor]) -> CellWeights:
    """Name the positions of one direction's flat weights ``[w_ih, w_hh, (b_ih, b_hh), (w_hr)]``."""
    biased = len(flat) >= 4
    w_hr = flat[4] if len(flat) == 5 else (flat[2] if len(flat) == 3 else None)
    return CellWeights(flat[0], flat[1], flat[2] if biased else None,
                       flat[3] if biased else None, w_hr)


def layer_weights(module: nn.RNNBase) -> list[list[Tensor]]:
    """``[layer] -> flat weights of that layer`` (both directions), from ``_flat_weights``."""
    flat = list(module._flat_weights)
    per_layer = len(flat) // module.num_layers
    return [flat[i * per_layer : (i + 1) * per_layer] for i in range(module.num_layers)]


def split_directions(per_layer: list[list[Tensor]], n_dirs: int) -> list[list[list[Tensor]]]:
    """``[layer] -> flat weights`` -> ``[layer][direction] -> flat weights``."""
    return [[ws[d * len(ws) // n_dirs : (d + 1) * len(ws) // n_dirs] for d in range(n_dirs)]
            for ws in per_layer]


def direction_weights(module: nn.RNNBase) -> list[list[list[Tensor]]]:
    """``[layer][direction] -> [w_ih, w_hh, (b_ih, b_hh), (w_hr)]`` of a fused module."""
    return split_directions(layer_weights(module), 2 if module.bidirectional else 1)


def named_cell_weights(module: nn.RNNBase, layer: int, direction: int) -> CellWeights:
    """One layer-direction's weights read by parameter name now (never a stale copy)."""
    names = module._flat_weights_names
    n_dirs = 2 if module.bidirectional else 1
    per_dir = len(names) // (module.num_layers * n_dirs)
    k = layer * n_dirs + direction
    return cell_weights([getattr(module, name) for name in names[k * per_dir : (k + 1) * per_dir]])


def previous_states(initial: Tensor, states: Tensor, layout: PackedLayout,
                    direction: int) -> Tensor:
    """``s_{t-1}`` of every packed row of one direction's ``states`` ``(n_tokens, .)``: the state
    of the step the direction comes from (for ``bwd`` the next one), ``initial`` ``(batch, .)``
    at its first step."""
    prev = layout.index("prev_bwd" if direction else "prev_fwd")
    return torch.cat([initial, states], 0).index_select(0, prev)


def final_states(states: Tensor, layout: PackedLayout, direction: int) -> Tensor:
    """``(batch, .)`` last states (sorted order) of one direction's ``states`` ``(n_tokens, .)``:
    a forward direction's at each row's last step, a backward direction's at step 0."""
    if direction == 0:
        return states.index_select(0, layout.index("last"))
    return states[: layout.batch]


def gate_preactivations(x: Tensor, h_prev: Tensor, flat: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Input and hidden pre-activations of every row: ``(n, G*hidden)`` each."""
    w = cell_weights(flat)
    gi = torch.nn.functional.linear(x, w.w_ih, w.b_ih)
    gh = torch.nn.functional.linear(h_prev, w.w_hh, w.b_hh)
    return gi, gh


def lstm_gates_(pre: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """LSTM activations in place on ``pre`` ``(rows, 4*hidden)``: ``i, f, o`` sigmoid, ``g`` tanh
    (views of ``pre``, as ATen's CPU cell computes them)."""
    i, f, g, o = pre.unsafe_chunk(4, 1)
    i.sigmoid_()
    f.sigmoid_()
    g.tanh_()
    o.sigmoid_()
    return i, f, g, o


def lstm_cell(i: Tensor, f: Tensor, g: Tensor, c_prev: Tensor) -> Tensor:
    """``c_t = f*c_{t-1} + i*g`` (a fresh tensor) from activated gates."""
    return (f * c_prev).add_(i * g)


def lstm_cell_sequence(f: Tensor, ig: Tensor, c0: Tensor, layout: PackedLayout,
                       reverse: bool) -> Tensor:
    """``c_t = f_t * c_{t-1} + ig_t`` over packed steps; ``c0`` ``(batch, hidden)`` sorted."""
    c = torch.empty_like(ig)
    bs, offs = layout.batch_sizes, layout.offsets
    if not reverse:
        prev = c0
        for t in range(len(bs)):
            b, o = bs[t], offs[t]
            torch.addcmul(ig[o : o + b], f[o : o + b], prev[:b], out=c[o : o + b])
            prev = c[o : o + b]
        return c
    for t in range(len(bs) - 1, -1, -1):
        b, o = bs[t], offs[t]
        b_next = bs[t + 1] if t + 1 < len(bs) else 0
        if b_next:
            p = offs[t + 1]
            torch.addcmul(ig[o : o + b_next], f[o : o + b_next], c[p : p + b_next],
                          out=c[o : o + b_next])
        if b > b_next:
            torch.addcmul(ig[o + b_next : o + b], f[o + b_next : o + b], c0[b_next:b],
                          out=c[o + b_next : o + b])
    return c


def lstm_hidden(o: Tensor, c: Tensor, w_hr: Tensor | None) -> Tensor:
    """``h_t = o*tanh(c_t)``, projected by ``w_hr`` (``proj_size``) when given."""
    h = o * c.tanh()
    return torch.matmul(h, w_hr.t()) if w_hr is not None else h


def gru_gates(gi: Tensor, gh: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """GRU ``r, z, n`` from the pre-activations: ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``."""
    i_r, i_z, i_n = gi.chunk(3, 1)
    h_r, h_z, h_n = gh.chunk(3, 1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    return r, z, torch.tanh(i_n + r * h_n)


def gru_hidden(z: Tensor, n: Tensor, h_prev: Tensor) -> Tensor:
    """``h_t = (1-z)*n + z*h_{t-1}``."""
    return (1 - z) * n + z * h_prev


def rnn_hidden(pre: Tensor, nonlinearity: str) -> Tensor:
    """``h_t = tanh(pre)`` or ``relu(pre)`` (``nonlinearity`` ``"tanh"``/``"relu"``)."""
    return torch.relu(pre) if nonlinearity == "relu" else torch.tanh(pre)
