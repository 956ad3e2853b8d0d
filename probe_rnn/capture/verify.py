"""The checks of recomputed states: tolerances, reports, and the LSTM loop's per-step check.

Every check reports ``(what, max |difference|, allowed)`` entries (:func:`diff`, with the
per-dtype :func:`default_tolerance`) and :func:`raise_on_mismatch` turns the worst one beyond
its allowance into :class:`~probe_rnn.errors.CaptureMismatchError`.

The loop's per-step identity check is cheap enough to run on every call.

The loop keeps each step's gate pre-activations ``G`` (``(n_tokens, 4*hidden)`` per layer and
direction). The check recomputes, independently of the loop and in whole-sequence batches:

* the pre-activations, by Freivalds' randomised test: ``G @ R`` must equal
  ``X @ (W_ih^T R) + H_prev @ (W_hh^T R) + (b_ih + b_hh) @ R`` for a random ``(4*hidden, k)``
  matrix ``R`` — every row (every step of every sequence) is tested at the cost of a matrix-vector
  product instead of a matrix product; a wrong input, weight or previous state in any row shows
  up with overwhelming probability;
* the cell recurrence ``c_t = f_t * c_{t-1} + i_t * g_t`` and the output
  ``h_t = o_t * tanh(c_t)`` (projected with ``proj_size``, also by Freivalds) at every step.

Differences are reported relative to the magnitude of the terms involved, so one tolerance
(the float32 default is 5e-5) serves every check.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from probe_rnn.capture.cell_equations import cell_weights, lstm_cell, previous_states
from probe_rnn.capture.states import PackedLayout
from probe_rnn.catalogue import DIRECTIONS
from probe_rnn.errors import CaptureMismatchError

_PROBES = 2


def default_tolerance(dtype: torch.dtype) -> float:
    """Absolute tolerance per unit of magnitude used by the checks for ``dtype``."""
    if dtype == torch.float64:
        return 1e-9
    if dtype in (torch.float16, torch.bfloat16):
        return 2e-2
    return 5e-5


def _max_abs(x: Tensor) -> float:
    lo, hi = torch.aminmax(x)
    return max(-float(lo), float(hi))


def _max_rel(got: Tensor, ref: Tensor) -> float:
    """``max|got - ref|`` per unit of ``max|ref|`` (absolute below magnitude 1); overwrites
    ``got``."""
    if ref.numel() == 0:
        return 0.0
    return _max_abs(got.sub_(ref)) / max(1.0, _max_abs(ref))


def _tanh_(x: Tensor) -> Tensor:
    """In-place ``tanh`` as ``2*sigmoid(2x) - 1``: within float rounding, and several times
    faster than this build's ``tanh`` on the CPU (the loop itself uses the kernel's exact op)."""
    return x.mul_(2).sigmoid_().mul_(2).sub_(1)


def _check_direction(
    x: Tensor, h: Tensor, c: Tensor, pre: Tensor, weights: list[Tensor], h0: Tensor,
    c0: Tensor, layout: PackedLayout, direction: int, gen: torch.Generator,
) -> list[tuple[str, float]]:
    """Check one layer-direction; ``pre`` (a workspace buffer) is overwritten."""
    w_ih, w_hh, b_ih, b_hh, w_hr = cell_weights(weights)
    bias = b_ih + b_hh if b_ih is not None else None
    h_prev = previous_states(h0, h, layout, direction)
    r = torch.randn(pre.shape[1], _PROBES, generator=gen, dtype=torch.float64).to(pre)
    err = pre @ r
    err -= x @ (w_ih.t() @ r)
    err -= h_prev @ (w_hh.t() @ r)
    if bias is not None:
        err -= bias @ r
    # Cauchy-Schwarz bound of the terms' magnitude per row, times |r|
    scale = x.norm(dim=1).mul_(w_ih.norm(dim=1).max())
    scale += h_prev.norm(dim=1).mul_(w_hh.norm(dim=1).max())
    if bias is not None:
        scale += bias.abs().max()
    scale = scale[:, None].clamp_(min=1.0) * r.abs().sum(0)
    out = [("gates", float((err.abs_() / scale).max()) if err.numel() else 0.0)]
    hid = c.shape[1]
    _tanh_(pre[:, 2 * hid : 3 * hid])
    pre[:, :hid].sigmoid_()
    pre[:, hid : 2 * hid].sigmoid_()
    pre[:, 3 * hid :].sigmoid_()
    i, f, g, o = pre[:, :hid], pre[:, hid : 2 * hid], pre[:, 2 * hid : 3 * hid], pre[:, 3 * hid :]
    c_hat = lstm_cell(i, f, g, previous_states(c0, c, layout, direction))
    out.append(("c", _max_rel(c_hat, c)))
    h_cell = _tanh_(c.clone()).mul_(o)
    if w_hr is None:
        out.append(("h", _max_rel(h_cell, h)))
    else:
        rp = torch.randn(h.shape[1], _PROBES, generator=gen, dtype=torch.float64).to(h)
        err = (h @ rp).sub_(h_cell @ (w_hr.t() @ rp)).abs_()
        scale = h_cell.norm(dim=1).mul_(w_hr.norm(dim=1).max())[:, None].clamp_(min=1.0)
        out.append(("h", float((err / (scale * rp.abs().sum(0))).max()) if err.numel() else 0.0))
    return out


def check_lstm_loop(
    layout: PackedLayout,
    data: Tensor,
    hidden: list[Tensor],
    cell: list[Tensor],
    pre: list[list[Tensor]],
    layer_weights: list[list[list[Tensor]]],
    h0: Tensor,
    c0: Tensor,
    seed: int = 0,
) -> list[tuple[str, float]]:
    """Check every state the loop produced; one ``(what, relative difference)`` per check.

    Parameters
    ----------
    data : Tensor
        ``(n_tokens, input)`` packed-layout input of layer 0.
    hidden, cell : list of Tensor
        Per layer ``(n_tokens, directions, out)`` / ``(n_tokens, directions, hidden)``.
    pre : list
        ``[layer][direction]`` gate pre-activations ``(n_tokens, 4*hidden)``.
    layer_weights, h0, c0
        As for :func:`probe_rnn.capture.loop_route.lstm_loop`.
    """
    gen = torch.Generator().manual_seed(seed)
    n_dirs = len(layer_weights[0])
    report: list[tuple[str, float]] = []
    with torch.no_grad():
        x = data
        for layer, dirs in enumerate(layer_weights):
            for d, weights in enumerate(dirs):
                k = layer * n_dirs + d
                found = _check_direction(
                    x, hidden[layer][:, d], cell[layer][:, d], pre[layer][d], weights, h0[k],
                    c0[k], layout, d, gen,
                )
                tag = f"L{layer}/{DIRECTIONS[d]}"
                report += [(f"{what} {tag}", value) for what, value in found]
            x = hidden[layer].view(hidden[layer].shape[0], -1)
    return report


def diff(what: str, got: Tensor, ref: Tensor, tol: float) -> tuple[str, float, float]:
    """``(what, max |got - ref|, tol * max(1, max |ref|))``."""
    if got.numel() == 0:
        return what, 0.0, tol
    diff = (got - ref).abs().max().item()
    scale = max(1.0, ref.abs().max().item())
    return what, diff, tol * scale


def within(report: list[tuple[str, float, float]], tolerance: float | None) -> bool:
    """Whether every entry is within its allowed difference (``tolerance`` overriding it)."""
    return all(diff <= (allowed if tolerance is None else tolerance)
               for _, diff, allowed in report)


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
        if not math.isfinite(diff):
            raise CaptureMismatchError(
                f"the states of module {module_name!r} are not finite at {what} (NaN or inf): "
                "its weights or inputs hold NaN/inf, or its states overflow (e.g. a relu RNN "
                "or a float16 model): check the checkpoint and the input")
        raise CaptureMismatchError(
            f"recomputed states of module {module_name!r} fail the check at {what}: "
            f"max |difference| {diff:.3g} > tolerance {limit:.3g}; the module's weights or "
            "inputs changed during the call, or its forward is not the standard one"
        )
