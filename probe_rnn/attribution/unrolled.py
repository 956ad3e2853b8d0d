"""The unrolled twin: a step-by-step copy of a fused ``nn.LSTM``/``nn.GRU``/``nn.RNN``.

A fused recurrent kernel exposes only ``output`` (top layer) and the final states, so a hook on
it cannot see, let alone perturb, ``h_t`` of a lower layer or any cell state. The twin re-runs
the module layer by layer, direction by direction and step by step **with the module's own
weights** (read at call time, never copied) and the cell equations of
:mod:`probe_rnn.capture.cell_equations`, honouring packed lengths, ``proj_size``, ``batch_first``
and an initial ``hx``. It has one tap per (layer, direction, state, step): a
per-row additive ``delta`` (:class:`Taps`), so each intermediate state can be perturbed and its
gradient read. :func:`twin_in_place` swaps the twin's result in for the module's inside the
model's own forward, so the readout (``readout_from``) and head stay the model's.
:func:`verify_twin` checks the twin against the fused module and raises if they differ.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from probe_rnn.attribution.parts import Forward
from probe_rnn.capture import cell_equations
from probe_rnn.errors import AttributionError
from probe_rnn.models.recurrent import module_kind


@dataclass
class Taps:
    """Per-row additive perturbations of one state each.

    ``slot`` (rows,) long: ``(layer * directions + direction) * n_states + state`` with state 0 =
    hidden, 1 = cell; ``step`` (rows,) long: the loop step (processing order; for the backward
    direction ``eff_len - 1 - t``); ``delta`` (rows, hidden_size): added to the state there.
    """

    slot: Tensor
    step: Tensor
    delta: Tensor


@dataclass
class TwinStates:
    """States of one twin run, batch-major.

    output (batch, time, directions*out), h_n (layers*directions, batch, out), c_n likewise or
    None, hidden (batch, time, layers, directions, out), cell (batch, time, layers, directions,
    hidden) or None. Steps a packed run did not process are zero. ``hidden`` is None in a run
    that computed only the output and the final states (a replaced run continued from the
    clean one, :class:`~probe_rnn.interventions.replace.ReplacingTwin`).
    """

    output: Tensor
    h_n: Tensor
    c_n: Tensor | None
    hidden: Tensor | None
    cell: Tensor | None


def processed_steps(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Steps each row of a run on ``x`` (batch, time, .) processes: its length when
    ``lengths`` is given (packed), else the width."""
    if lengths is not None:
        return lengths.to(x.device)
    return torch.full((x.shape[0],), x.shape[1], device=x.device)


def _time_gather(x: Tensor, index: Tensor) -> Tensor:
    """x (batch, time, feat) reordered along time by index (batch, time)."""
    return torch.gather(x, 1, index[:, :, None].expand(-1, -1, x.shape[2]))


class UnrolledRNN(nn.Module):
    """Step-by-step twin of a fused recurrent module (see module docstring)."""

    def __init__(self, module: nn.RNNBase) -> None:
        super().__init__()
        if module_kind(module) is None:
            raise AttributionError(
                f"the unrolled twin needs an nn.LSTM, nn.GRU or nn.RNN; got {type(module).__name__}"
            )
        object.__setattr__(self, "module", module)  # not a child: no duplicated parameters
        self.mode: str = module.mode
        self.num_layers: int = module.num_layers
        self.num_directions: int = 2 if module.bidirectional else 1
        self.hidden_size: int = module.hidden_size
        self.proj_size: int = getattr(module, "proj_size", 0) or 0
        self.out_size: int = self.proj_size or self.hidden_size
        self.n_states: int = 2 if self.mode == "LSTM" else 1
        self.taps: Taps | None = None
        self.last: TwinStates | None = None
        self.last_packed: bool = False

    def slot(self, layer: int, direction: int, state: int) -> int:
        """Tap slot id of (layer, direction, state) with state 0 = hidden, 1 = cell."""
        return (layer * self.num_directions + direction) * self.n_states + state

    def _cell(self, xp: Tensor, h: Tensor, c: Tensor | None, w: cell_equations.CellWeights,
              tap_c) -> tuple:
        """One step: xp (batch, gates) = input projection; returns new (h, c)."""
        hh = h @ w.w_hh.T
        if w.b_hh is not None:
            hh = hh + w.b_hh
        if self.mode == "LSTM":
            i, f, g, o = (xp + hh).chunk(4, dim=1)
            c = cell_equations.lstm_cell(torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), c)
            c = tap_c(c)
            return cell_equations.lstm_hidden(torch.sigmoid(o), c, w.w_hr), c
        if self.mode == "GRU":
            _, z, n = cell_equations.gru_gates(xp, hh)
            return cell_equations.gru_hidden(z, n, h), None
        activation = "relu" if self.mode == "RNN_RELU" else "tanh"
        return cell_equations.rnn_hidden(xp + hh, activation), None

    def _tapper(self, slot: int, step: int, dim: int):
        """A function adding the taps of (slot, step) to a (batch, dim) state, or identity."""
        taps = self.taps
        if taps is None:
            return lambda s: s
        active = (taps.slot == slot) & (taps.step == step)
        if not bool(active.any()):
            return lambda s: s
        weight = active.to(taps.delta.dtype)[:, None]
        return lambda s: s + weight * taps.delta[:, :dim]

    def _direction(self, inp: Tensor, mask: Tensor, layer: int, d: int, h0: Tensor,
                   c0: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """Run one (layer, direction) over inp (batch, time, in) in processing order."""
        w = cell_equations.named_cell_weights(self.module, layer, d)
        xp = inp @ w.w_ih.T
        if w.b_ih is not None:
            xp = xp + w.b_ih
        h, c = h0, c0
        hs, cs = [], []
        for s in range(inp.shape[1]):
            tap_c = self._tapper(self.slot(layer, d, 1), s, self.hidden_size)
            h_new, c_new = self._cell(xp[:, s], h, c, w, tap_c)
            h_new = self._tapper(self.slot(layer, d, 0), s, self.out_size)(h_new)
            m = mask[:, s, None]
            h = torch.where(m, h_new, h)
            hs.append(h * m)
            if c_new is not None:
                c = torch.where(m, c_new, c)
                cs.append(c * m)
        return torch.stack(hs, 1), h, c, (torch.stack(cs, 1) if cs else None)

    def run(self, x: Tensor, lengths: Tensor | None = None, hx=None) -> TwinStates:
        """Run the twin on x (batch, time, input); lengths given = packed semantics.

        Parameters
        ----------
        x : (batch, time, input_size), batch-major.
        lengths : (batch,) valid lengths for packed semantics (steps ≥ length not processed,
            backward direction starts at length-1); None = every step processed (padded batch).
        hx : initial state as the module takes it ((h0, c0) for LSTM), batch in x's order.
        """
        time = x.shape[1]
        steps = torch.arange(time, device=x.device)
        eff = processed_steps(x, lengths)
        mask = steps[None, :] < eff[:, None]
        rev = torch.where(mask, eff[:, None] - 1 - steps[None, :], steps[None, :])
        h0, c0 = self.initial_states(x, hx)
        L, D = self.num_layers, self.num_directions
        hidden, cells, h_n, c_n = [], [], [], []
        layer_in = x
        for layer in range(L):
            outs, layer_cells = [], []
            for d in range(D):
                k = layer * D + d
                hi, ci = h0[k], c0[k] if c0 is not None else None
                inp = layer_in if d == 0 else _time_gather(layer_in, rev)
                out, h_last, c_last, cs = self._direction(inp, mask, layer, d, hi, ci)
                if d == 1:
                    out = _time_gather(out, rev)
                    cs = _time_gather(cs, rev) if cs is not None else None
                outs.append(out)
                layer_cells.append(cs)
                h_n.append(h_last)
                c_n.append(c_last)
            layer_in = torch.cat(outs, dim=2)
            hidden.append(torch.stack(outs, 2))
            if self.mode == "LSTM":  # None: a direction ran fused (ReplacingTwin), no cells
                cells.append(None if any(c is None for c in layer_cells)
                             else torch.stack(layer_cells, 2))
        return TwinStates(
            output=layer_in, h_n=torch.stack(h_n), hidden=torch.stack(hidden, 2),
            c_n=torch.stack(c_n) if self.mode == "LSTM" else None,
            cell=(torch.stack(cells, 2) if self.mode == "LSTM"
                  and all(c is not None for c in cells) else None),
        )

    def initial_states(self, x: Tensor, hx) -> tuple[Tensor, Tensor | None]:
        """``(h0, c0)`` (layers * directions, batch, size) of a run on ``x``: ``hx`` as the
        module takes it, zeros where not given (``c0`` None unless an LSTM)."""
        h0, c0 = (hx if isinstance(hx, tuple) else (hx, None)) if hx is not None else (None, None)
        n = self.num_layers * self.num_directions
        if h0 is None:
            h0 = x.new_zeros(n, x.shape[0], self.out_size)
        if self.mode == "LSTM" and c0 is None:
            c0 = x.new_zeros(n, x.shape[0], self.hidden_size)
        return h0, c0 if self.mode == "LSTM" else None

    def module_call(self, args: tuple, kwargs: dict):
        """Compute what the fused module returns for the same call (args, kwargs)."""
        inp = args[0]
        hx = args[1] if len(args) > 1 else kwargs.get("hx")
        if isinstance(inp, PackedSequence):
            padded, lens = pad_packed_sequence(inp, batch_first=True)
            states = self.run(padded, lens.to(padded.device), hx)
            srt = states.output[inp.sorted_indices] if inp.sorted_indices is not None \
                else states.output
            data = torch.cat([srt[:n, t] for t, n in enumerate(inp.batch_sizes.tolist())])
            output = PackedSequence(data, inp.batch_sizes, inp.sorted_indices,
                                    inp.unsorted_indices)
        else:
            if inp.dim() != 3:
                raise AttributionError("the unrolled twin needs a batched (3-D) input")
            bf = self.module.batch_first
            states = self.run(inp if bf else inp.transpose(0, 1), None, hx)
            output = states.output if bf else states.output.transpose(0, 1)
        self.last, self.last_packed = states, isinstance(inp, PackedSequence)
        if self.mode == "LSTM":
            return output, (states.h_n, states.c_n)
        return output, states.h_n


@contextlib.contextmanager
def twin_in_place(twin: UnrolledRNN) -> Iterator[UnrolledRNN]:
    """Within the block, calling the twin's module runs the twin instead of the fused kernel.

    The module's ``forward`` is shadowed by an instance attribute (restored in ``finally``), so
    the model's own forward, readout and head run unchanged around it and the fused kernel is
    not run at all; hooks registered on the module still fire.
    """
    module = twin.module
    had_own = "forward" in vars(module)
    previous = vars(module).get("forward")
    module.forward = lambda *args, **kwargs: twin.module_call(args, kwargs)
    try:
        yield twin
    finally:
        if had_own:
            module.forward = previous
        else:
            del module.forward
        twin.taps = None


def _as_tensor(out) -> Tensor:
    return out.data if isinstance(out, PackedSequence) else out


def verify_twin(twin: UnrolledRNN, forward: Forward, ids: Tensor, lengths: Tensor,
                atol: float = 1e-4) -> float:
    """Check twin == fused module (output, h_n, c_n and the model's logits) on this batch.

    Returns the largest absolute difference; raises AttributionError above ``atol`` (scaled by
    the magnitude of the compared values).
    """
    seen: list = []
    handle = twin.module.register_forward_hook(
        lambda _m, a, k, o: seen.append((a, k, o)), with_kwargs=True)
    try:
        with torch.no_grad():
            logits = forward(ids, lengths)
    finally:
        handle.remove()
    if len(seen) != 1:
        raise AttributionError(
            f"the recurrent module ran {len(seen)} times in one forward; the twin needs exactly one"
        )
    args, kwargs, fused = seen[0]
    with torch.no_grad():
        mine = twin.module_call(args, kwargs)
        with twin_in_place(twin):
            twin_logits = forward(ids, lengths)
    pairs = [(_as_tensor(fused[0]), _as_tensor(mine[0])), (logits, twin_logits)]
    f_state, m_state = fused[1], mine[1]
    if isinstance(f_state, tuple):
        pairs += list(zip(f_state, m_state, strict=True))
    else:
        pairs.append((f_state, m_state))
    worst = 0.0
    for a, b in pairs:
        diff = float((a - b).abs().max()) if a.numel() else 0.0
        worst = max(worst, diff / max(1.0, float(a.abs().max()) if a.numel() else 1.0))
    if worst > atol:
        raise AttributionError(
            f"the unrolled twin differs from the fused {type(twin.module).__name__} by {worst:.2e} "
            f"(> {atol:.0e}); per-step attribution would be wrong for this module"
        )
    return worst
