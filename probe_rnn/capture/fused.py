"""The fused-kernel capture route and its verification.

Each layer is run through PyTorch's own fused kernel (``_VF.lstm``/``gru``/``rnn_*``) with that
layer's weights, one call per layer, so every layer's per-step ``h`` comes out of the very kernel
the module would have used (chained single-layer calls are the multi-layer call, minus the
inter-layer dropout that eval mode does not apply). What the kernel keeps to itself is then
recomputed from its own ``h``: the gates of every step in batched matmuls from ``h_{t-1}`` and
the input, and for an LSTM the cell recurrence ``c_t = f_t*c_{t-1} + i_t*g_t``. The check is the
per-step identity between the two: the recomputed ``h_t`` (``o_t*tanh(c_t)``, projected with
``proj_size``; the GRU/RNN update) must equal the kernel's ``h_t`` at every step, and the last
recomputed ``c`` must equal the kernel's ``c_n``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import _VF, Tensor

from probe_rnn.capture.states import PackedLayout
from probe_rnn.errors import CaptureMismatchError

__all__ = ["FusedResult", "run_fused", "check_states", "default_tolerance"]

_KERNELS = {"lstm": _VF.lstm, "gru": _VF.gru, "rnn-tanh": _VF.rnn_tanh, "rnn-relu": _VF.rnn_relu}


@dataclass
class FusedResult:
    """Per-layer kernel outputs: ``hidden (n_tokens, layers, dirs, out)`` packed layout,
    the top layer's raw output (packed data or padded tensor), and final states."""

    hidden: Tensor
    top: Tensor
    h_n: Tensor
    c_n: Tensor | None
    layer_inputs: list[Tensor]


def default_tolerance(dtype: torch.dtype) -> float:
    """Absolute tolerance per unit of magnitude used by the checks for ``dtype``."""
    if dtype == torch.float64:
        return 1e-9
    if dtype in (torch.float16, torch.bfloat16):
        return 2e-2
    return 5e-5


def _to_packed_layout(out: Tensor, packed: bool, batch_first: bool) -> Tensor:
    """Kernel output -> ``(n_tokens, dirs * out)`` time-major packed layout."""
    if packed:
        return out
    if batch_first:
        out = out.transpose(0, 1)
    return out.reshape(-1, out.shape[-1])


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
        tops.append(_to_packed_layout(res[0], packed, batch_first))
        h_ns.append(res[1])
        if kind == "lstm":
            c_ns.append(res[2])
    n = tops[0].shape[0]
    hidden = torch.stack([t.detach().view(n, n_dirs, -1) for t in tops], 1)
    return FusedResult(
        hidden=hidden,
        top=layer_in,
        h_n=torch.cat(h_ns, 0),
        c_n=torch.cat(c_ns, 0) if c_ns else None,
        layer_inputs=[_to_packed_layout(t, packed, batch_first).detach() for t in inputs],
    )


def _recurrence(f: Tensor, ig: Tensor, c0: Tensor, layout: PackedLayout, reverse: bool) -> Tensor:
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


def _gates(x: Tensor, h_prev: Tensor, weights: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Input and hidden pre-activations of every step: ``(n, G*hidden)`` each."""
    has_bias = len(weights) >= 4
    gi = torch.nn.functional.linear(x, weights[0], weights[2] if has_bias else None)
    gh = torch.nn.functional.linear(h_prev, weights[1], weights[3] if has_bias else None)
    return gi, gh


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
                prev = layout.index("prev_bwd" if d else "prev_fwd")
                h_prev = torch.cat([h0[k], h], 0).index_select(0, prev)
                gi, gh = _gates(x, h_prev, weights)
                tag = f"L{layer}/{'bwd' if d else 'fwd'}"
                if kind == "lstm":
                    c, h_hat = _lstm_identity(gi.add_(gh), weights, c0[k], layout, d == 1)
                    cells.append(c)
                    last = layout.index("last")
                    c_last = c.index_select(0, last) if d == 0 else c[: layout.batch]
                    report.append(diff(f"c_n {tag}", c_last, fused.c_n[k], tol))
                elif kind == "gru":
                    h_hat = _gru_update(gi, gh, h_prev)
                else:
                    h_hat = gi.add_(gh)
                    h_hat = h_hat.tanh_() if kind == "rnn-tanh" else h_hat.relu_()
                report.append(diff(f"h {tag}", h_hat, h, tol))
    if kind != "lstm":
        return None, report
    n = fused.hidden.shape[0]
    cell = torch.stack(cells, 1).view(n, len(dir_weights), n_dirs, -1)
    return cell, report


def _lstm_identity(
    gates: Tensor, weights: list[Tensor], c0: Tensor, layout: PackedLayout, reverse: bool
) -> tuple[Tensor, Tensor]:
    i, f, g, o = gates.chunk(4, 1)
    i, f, o = i.sigmoid(), f.sigmoid(), o.sigmoid()
    c = _recurrence(f, i * g.tanh(), c0, layout, reverse)
    h_hat = o * c.tanh()
    w_hr = weights[4] if len(weights) == 5 else (weights[2] if len(weights) == 3 else None)
    if w_hr is not None:
        h_hat = torch.matmul(h_hat, w_hr.t())
    return c, h_hat


def _gru_update(gi: Tensor, gh: Tensor, h_prev: Tensor) -> Tensor:
    i_r, i_z, i_n = gi.chunk(3, 1)
    h_r, h_z, h_n = gh.chunk(3, 1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return (h_prev - n).mul_(z).add_(n)


def diff(what: str, got: Tensor, ref: Tensor, tol: float) -> tuple[str, float, float]:
    if got.numel() == 0:
        return what, 0.0, tol
    diff = (got - ref).abs().max().item()
    scale = max(1.0, ref.abs().max().item())
    return what, diff, tol * scale


def raise_on_mismatch(
    module_name: str, report: list[tuple[str, float, float]], tolerance: float | None
) -> None:
    """Raise :class:`CaptureMismatchError` for the worst entry beyond its allowed difference.

    ``tolerance`` (absolute) overrides the per-dtype default when given.
    """
    worst = None
    for what, diff, allowed in report:
        limit = allowed if tolerance is None else tolerance
        if not diff <= limit and (worst is None or diff - limit > worst[1] - worst[2]):
            worst = (what, diff, limit)
    if worst is not None:
        what, diff, limit = worst
        raise CaptureMismatchError(
            f"recomputed states of module {module_name!r} fail the check at {what}: "
            f"max |difference| {diff:.3g} > tolerance {limit:.3g}; the module's weights or "
            "inputs changed during the call, or its forward is not the standard one"
        )
