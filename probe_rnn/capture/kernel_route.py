"""The kernel capture route: the module's fused kernel layer by layer, and its check.

Each layer is run through PyTorch's own fused kernel (``_VF.lstm``/``gru``/``rnn_*``) with that
layer's weights, one call per layer, so every layer's per-step ``h`` comes out of the very kernel
the module would have used (chained single-layer calls are the multi-layer call, minus the
inter-layer dropout that eval mode does not apply). What the kernel keeps to itself is then
recomputed from its own ``h``: the gates of every step in batched matmuls from ``h_{t-1}`` and
the input, and for an LSTM the cell recurrence ``c_t = f_t*c_{t-1} + i_t*g_t``. The check is the
per-step identity between the two: the recomputed ``h_t`` (``o_t*tanh(c_t)``, projected with
``proj_size``; the GRU/RNN update) must equal the kernel's ``h_t`` at every step, and the last
recomputed ``c`` must equal the kernel's ``c_n``. The equations are
:mod:`probe_rnn.capture.cell_equations`'s; tolerances and reports :mod:`probe_rnn.capture.verify`'s.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import torch
from torch import _VF, Tensor

from probe_rnn.capture import cell_equations
from probe_rnn.capture.states import PackedLayout
from probe_rnn.capture.verify import default_tolerance, diff
from probe_rnn.catalogue import DIRECTIONS

_KERNELS = {"lstm": _VF.lstm, "gru": _VF.gru, "rnn-tanh": _VF.rnn_tanh, "rnn-relu": _VF.rnn_relu}


def _to_packed_layout(out: Tensor, packed: bool, batch_first: bool) -> Tensor:
    """Kernel output -> ``(n_tokens, dirs * out)`` time-major packed layout."""
    if packed:
        return out
    if batch_first:
        out = out.transpose(0, 1)
    return out.reshape(-1, out.shape[-1])


@dataclass
class FusedResult:
    """Per-layer kernel outputs: the top layer's raw output (packed data or padded tensor in
    the module's layout), the final states, and each layer's raw output and input, from which
    :attr:`hidden` ``(n_tokens, layers, dirs, out)`` and :attr:`layer_inputs` are laid out in
    the packed (time-major) layout on first read (a capture of sentence views never reads
    them: its padded top output is :attr:`top`)."""

    top: Tensor
    h_n: Tensor
    c_n: Tensor | None
    outputs: list[Tensor]
    inputs: list[Tensor]
    packed: bool
    batch_first: bool
    n_dirs: int

    @functools.cached_property
    def hidden(self) -> Tensor:
        """``(n_tokens, layers, dirs, out)`` every layer's ``h``, packed layout."""
        tops = [_to_packed_layout(t, self.packed, self.batch_first).detach()
                for t in self.outputs]
        return torch.stack([t.view(tops[0].shape[0], self.n_dirs, -1) for t in tops], 1)

    @functools.cached_property
    def layer_inputs(self) -> list[Tensor]:
        """Each layer's input ``(n_tokens, in)``, packed layout."""
        return [_to_packed_layout(t, self.packed, self.batch_first).detach()
                for t in self.inputs]


def run_fused(
    kind: str,
    x: Tensor,
    batch_sizes: Tensor | None,
    layer_weights: list[list[Tensor]],
    hx: tuple[Tensor, Tensor] | Tensor,
    *,
    n_dirs: int,
    has_bias: bool,
    training: bool,
    batch_first: bool,
) -> FusedResult:
    """Run the fused kernel one layer at a time.

    Parameters
    ----------
    x : Tensor
        Packed data ``(n_tokens, input)`` when ``batch_sizes`` is given, else the padded input
        in the module's own layout ``(batch, time, input)`` or ``(time, batch, input)``.
    layer_weights : list
        ``[layer] -> flat weights of that layer`` (both directions), module order.
    hx : Tensor or (Tensor, Tensor)
        Initial states ``(layers * dirs, batch, .)`` in the kernel's (sorted) row order.
    """
    kernel = _KERNELS[kind]
    packed = batch_sizes is not None
    tops, h_ns, c_ns, inputs = [], [], [], []
    layer_in = x
    for layer, weights in enumerate(layer_weights):
        sl = slice(layer * n_dirs, (layer + 1) * n_dirs)
        h = (hx[0][sl], hx[1][sl]) if kind == "lstm" else hx[sl]
        inputs.append(layer_in)
        with warnings.catch_warnings():  # cuDNN: one layer's weights are not one flat chunk
            warnings.filterwarnings("ignore", message="RNN module weights are not part")
            if packed:
                res = kernel(layer_in, batch_sizes, h, weights, has_bias, 1, 0.0, training,
                             n_dirs == 2)
            else:
                res = kernel(layer_in, h, weights, has_bias, 1, 0.0, training, n_dirs == 2,
                             batch_first)
        layer_in = res[0]
        tops.append(res[0])
        h_ns.append(res[1])
        if kind == "lstm":
            c_ns.append(res[2])
    return FusedResult(
        top=layer_in,
        h_n=torch.cat(h_ns, 0),
        c_n=torch.cat(c_ns, 0) if c_ns else None,
        outputs=tops, inputs=inputs, packed=packed, batch_first=batch_first, n_dirs=n_dirs,
    )


def check_states(
    kind: str,
    fused: FusedResult,
    layout: PackedLayout,
    dir_weights: list[list[list[Tensor]]],
    h0: Tensor,
    c0: Tensor | None,
) -> tuple[Tensor | None, list[tuple[str, float, float]]]:
    """Recompute gates from the kernel's ``h`` and check the per-step identities.

    Returns the LSTM cell states ``(n_tokens, layers, dirs, hidden)`` (None otherwise) and one
    ``(what, max |difference|, allowed)`` entry per layer/direction/check.
    """
    n_dirs = len(dir_weights[0])
    cells, report = [], []
    tol = default_tolerance(fused.hidden.dtype)
    with torch.no_grad():
        for layer, dirs in enumerate(dir_weights):
            x = fused.layer_inputs[layer]
            for d, weights in enumerate(dirs):
                k = layer * n_dirs + d
                h = fused.hidden[:, layer, d]
                h_prev = cell_equations.previous_states(h0[k], h, layout, d)
                gi, gh = cell_equations.gate_preactivations(x, h_prev, weights)
                tag = f"L{layer}/{DIRECTIONS[d]}"
                if kind == "lstm":
                    c, h_hat = _lstm_identity(gi.add_(gh), weights, c0[k], layout, d == 1)
                    cells.append(c)
                    c_last = cell_equations.final_states(c, layout, d)
                    report.append(diff(f"c_n {tag}", c_last, fused.c_n[k], tol))
                elif kind == "gru":
                    _, z, new = cell_equations.gru_gates(gi, gh)
                    h_hat = cell_equations.gru_hidden(z, new, h_prev)
                else:
                    h_hat = cell_equations.rnn_hidden(gi.add_(gh), kind.removeprefix("rnn-"))
                report.append(diff(f"h {tag}", h_hat, h, tol))
    if kind != "lstm":
        return None, report
    n = fused.hidden.shape[0]
    cell = torch.stack(cells, 1).view(n, len(dir_weights), n_dirs, -1)
    return cell, report


def _lstm_identity(
    gates: Tensor, weights: list[Tensor], c0: Tensor, layout: PackedLayout, reverse: bool
) -> tuple[Tensor, Tensor]:
    """Cells of every step and the ``h`` they give, from one direction's pre-activations."""
    i, f, g, o = cell_equations.lstm_gates_(gates)
    # contiguous f: the per-step addcmul then runs as one flat loop, as it always has
    c = cell_equations.lstm_cell_sequence(f.contiguous(), i * g, c0, layout, reverse)
    return c, cell_equations.lstm_hidden(o, c, cell_equations.cell_weights(weights).w_hr)
