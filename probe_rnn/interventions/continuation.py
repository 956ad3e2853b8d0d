"""Replaced runs that start from the clean run: only what a replacement changes is computed.

A replacement at (layer ``l``, direction ``d``, loop step ``s``) leaves every layer below ``l``,
the other direction of ``l`` and direction ``d``'s steps before ``s`` exactly as they were in
the clean run. With the clean run's states of the rows kept (:class:`CleanStates`: per-step
``h`` and ``c`` of layer ``l`` and of the layer below it, the final states of every layer), a
replaced run (:func:`continued_run`, from
:class:`~probe_rnn.interventions.replace.ReplacingTwin`) takes those from it and computes only
direction ``d`` from step ``s + 1`` on (PyTorch's fused kernel for that one layer-direction,
started from the replaced state, :func:`fused_direction`) and the layers above
(:func:`fused_layer`). A replaced final state (``h_n``, ``output@last`` forward) costs no
recurrent step at all.

A replaced LSTM cell recomputes that step's ``h`` from it (``h = o * tanh(c)``, the output gate
from the step's input and the clean ``h`` before it), as the stepped twin does. The states are
kept on each row's processed steps only (its length when packed, the run's width when padded).
A continued run returns the output and the final states only (no per-step states).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from probe_rnn.capture import cell_equations
from probe_rnn.capture.kernel_route import run_fused
from probe_rnn.models.recurrent import module_kind

#: (per-step h in processing order, last h, last c or None, per-step cells or None)
DirectionRun = tuple[Tensor, Tensor, Tensor | None, Tensor | None]


def fused_direction(module: torch.nn.RNNBase, mode: str, inp: Tensor, lengths: Tensor,
                    layer: int, d: int, h0: Tensor, c0: Tensor | None) -> DirectionRun:
    """One (layer, direction) of ``module`` through its fused kernel, in the twin's terms:
    ``inp`` (batch, time, in) in processing order (a backward direction's rows already
    reversed), each row's first ``lengths`` steps valid (every one > 0). Returns the per-step
    ``h`` (batch, time, out; zeros past a row's length), the last ``h`` and ``c`` per row, and
    no cells."""
    w = cell_equations.named_cell_weights(module, layer, d)
    out, h, c = _packed_kernel(module, inp, lengths, [p for p in w if p is not None],
                               h0[None], None if c0 is None else c0[None], 1)
    return out, h[0], None if c is None else c[0], None


def fused_layer(module: torch.nn.RNNBase, inp: Tensor, lengths: Tensor, layer: int,
                h0: Tensor, c0: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
    """Every direction of one layer through its fused kernel: ``inp`` (batch, time, in),
    each row's first ``lengths`` steps valid; ``h0``/``c0`` (directions, batch, size).
    Returns the per-step output (batch, time, directions * out; zeros past a row's length)
    and the last ``h`` and ``c`` (directions, batch, size)."""
    flat = cell_equations.layer_weights(module)[layer]
    return _packed_kernel(module, inp, lengths, flat, h0, c0, 2 if module.bidirectional else 1)


def _packed_kernel(module: torch.nn.RNNBase, inp: Tensor, lengths: Tensor, flat: list[Tensor],
                   h0: Tensor, c0: Tensor | None, n_dirs: int
                   ) -> tuple[Tensor, Tensor, Tensor | None]:
    """One layer's fused kernel on ``inp`` packed by ``lengths``, back in the rows' order."""
    packed = pack_padded_sequence(inp, lengths.cpu(), batch_first=True, enforce_sorted=False)
    order, back = packed.sorted_indices, packed.unsorted_indices
    hx = (h0[:, order], c0[:, order]) if module.mode == "LSTM" else h0[:, order]
    res = run_fused(module_kind(module), packed.data, packed.batch_sizes, [flat], hx,
                    n_dirs=n_dirs, has_bias=module.bias, training=False, batch_first=True)
    out, _ = pad_packed_sequence(PackedSequence(res.top, packed.batch_sizes, order, back),
                                 batch_first=True, total_length=inp.shape[1])
    return out, res.h_n[:, back], None if res.c_n is None else res.c_n[:, back]


@dataclass
class CleanStates:
    """The clean run's states of a split's rows, kept for continued runs (module docstring).

    ``layers``: the layers a continued run may start from; ``eff`` (rows,): steps each row's
    run processed; ``offsets`` (rows,): each row's first token in the kept tensors; ``hidden``
    (those layers and the ones below them) and ``cell`` (those layers; an LSTM's): layer ->
    (tokens, directions, size), each row's processed steps in order; ``h_n``/``c_n``
    (layers * directions, rows, size).
    """

    layers: frozenset[int]
    eff: Tensor
    offsets: Tensor
    hidden: dict[int, Tensor]
    cell: dict[int, Tensor]
    h_n: Tensor
    c_n: Tensor | None

    def values(self, places: Sequence, lengths: Tensor) -> Tensor | None:
        """A view's clean values per row (its :class:`~probe_rnn.interventions.places.Place`
        parts concatenated, as the twin's read gives them: zeros where a row did not process
        the step), or None when a part's layer or state is not kept. ``lengths``: the rows'
        lengths (a ``last`` place's step)."""
        out, lengths = [], lengths.to(self.eff.device)
        for place in places:
            kept = (self.hidden if place.state == 0 else self.cell).get(place.layer)
            if kept is None:
                return None
            t = place.times_in(lengths, self.eff)
            inside = (t >= 0) & (t < self.eff)
            value = kept[self.offsets + torch.where(inside, t, 0), place.direction]
            out.append(value * inside[:, None])
        return torch.cat(out, dim=1)

    def chunk(self, rows: Tensor) -> CleanChunk:
        """The kept states of ``rows`` (positions into the split), in that order."""
        return CleanChunk(self, rows.to(self.eff.device))


class CleanStatesBuilder:
    """A split's :class:`CleanStates`, kept chunk by chunk from the twin's clean runs.

    Each kept tensor is one buffer of ``capacity`` tokens (an upper bound: rows x the input's
    width), allocated once and written in place: its pages count in memory only once written,
    so the kept states are never held twice (joining per-chunk parts at the end held every
    part and the joined layer together: the process peaked at 2,016 MiB there, 4,000 rows of
    hidden 256; 1,716 MiB now). A run of more steps than the bound grows the buffer (a
    copy)."""

    def __init__(self, layers: Sequence[int], capacity: int) -> None:
        self.layers = sorted(set(layers))
        self.below = sorted({k for layer in self.layers for k in (layer - 1, layer) if k >= 0})
        self.capacity, self.used = max(int(capacity), 1), 0
        self.hidden: dict[int, Tensor] = {}
        self.cell: dict[int, Tensor] = {}
        self.eff: list[Tensor] = []
        self.finals: list[tuple[Tensor, Tensor | None]] = []

    def add(self, eff: Tensor, states) -> None:
        """Keep one chunk's clean run (``states``, a
        :class:`~probe_rnn.attribution.unrolled.TwinStates`; ``eff`` its rows' processed
        steps)."""
        valid = torch.arange(states.hidden.shape[1], device=eff.device)[None] < eff[:, None]
        lstm = states.cell is not None
        for kept, source, layers in ((self.hidden, states.hidden, self.below),
                                     (self.cell, states.cell, self.layers if lstm else ())):
            for k in layers:
                kept[k] = self._written(kept.get(k), source[:, :, k][valid])
        self.used += int(eff.sum())
        self.eff.append(eff)
        self.finals.append((states.h_n, states.c_n if lstm else None))

    def _written(self, buffer: Tensor | None, values: Tensor) -> Tensor:
        need = self.used + len(values)
        if buffer is None or need > len(buffer):
            size = max(self.capacity, need, 0 if buffer is None else 2 * len(buffer))
            grown = values.new_empty((size, *values.shape[1:]))
            if buffer is not None:
                grown[:self.used] = buffer[:self.used]
            buffer = grown
        buffer[self.used:need] = values
        return buffer

    def build(self) -> CleanStates | None:
        """The kept states of every chunk added, in order (None when none was)."""
        if not self.eff:
            return None
        eff = torch.cat(self.eff)
        c_n = [c for _, c in self.finals]
        return CleanStates(frozenset(self.layers), eff, torch.cumsum(eff, 0) - eff,
                           {k: b[:self.used] for k, b in self.hidden.items()},
                           {k: b[:self.used] for k, b in self.cell.items()},
                           torch.cat([h for h, _ in self.finals], 1),
                           None if c_n[0] is None else torch.cat(c_n, 1))


@dataclass
class CleanChunk:
    """The kept clean states of one chunk of rows (positions ``rows`` into the split)."""

    states: CleanStates
    rows: Tensor

    @property
    def eff(self) -> Tensor:
        return self.states.eff[self.rows]

    def starts(self, layer: int) -> bool:
        """Whether a continued run can start from ``layer``."""
        return layer in self.states.layers

    def layer_output(self, layer: int, width: int) -> Tensor:
        """Layer ``layer``'s per-step ``h``, every direction: (batch, width, directions *
        size), zeros past each row's processed steps."""
        source = self.states.hidden[layer]
        steps = torch.arange(width, device=self.rows.device)
        valid = steps[None] < self.eff[:, None]
        index = torch.where(valid, self.states.offsets[self.rows][:, None] + steps, 0)
        return (source[index] * valid[:, :, None, None]).flatten(2)

    def at(self, name: str, layer: int, rows: Tensor, times: Tensor) -> Tensor:
        """``hidden`` or ``cell`` of ``layer`` at absolute step ``times`` of chunk rows
        ``rows`` (each inside its processed steps): (n, directions, size)."""
        return getattr(self.states, name)[layer][self.states.offsets[self.rows[rows]] + times]

    def finals(self) -> tuple[Tensor, Tensor | None]:
        """Copies of the last ``h`` and ``c`` (or None), (layers * directions, batch, size)."""
        c_n = self.states.c_n
        return (self.states.h_n[:, self.rows].clone(),
                None if c_n is None else c_n[:, self.rows].clone())


@dataclass
class Restart:
    """Where a direction's replaced run restarts: its loop step per row (``step``; a row whose
    step is outside its processed steps is not replaced) and the values written there
    (``hidden``/``cell``, rows × size, or None)."""

    step: Tensor
    hidden: Tensor | None = None
    cell: Tensor | None = None


def continued_run(module: torch.nn.RNNBase, chunk: CleanChunk, x: Tensor, eff: Tensor,
                  restarts: dict[tuple[int, int], Restart], hx: tuple[Tensor, Tensor | None]
                  ) -> tuple[Tensor, Tensor, Tensor | None]:
    """The module's run with ``restarts`` (all in one layer) continued from ``chunk``:
    ``(output (batch, width, directions * out), h_n, c_n)`` as the twin's run gives them.
    ``x`` (batch, width, in) is the run's input, ``hx`` the initial ``(h0, c0)``."""
    n_dirs = 2 if module.bidirectional else 1
    start, width = next(iter(restarts))[0], x.shape[1]
    out = chunk.layer_output(start, width)
    h_n, c_n = chunk.finals()
    size = out.shape[2] // n_dirs
    source = _LayerInput(chunk, x, start)
    for (_, d), restart in restarts.items():
        k = start * n_dirs + d
        _continue(module, source, eff, k, d, restart, hx[0][k],
                  out[:, :, d * size:(d + 1) * size], h_n, c_n)
    for layer in range(start + 1, module.num_layers):
        ks = slice(layer * n_dirs, (layer + 1) * n_dirs)
        out, h_n[ks], c_last = fused_layer(module, out, eff, layer, hx[0][ks],
                                           None if c_n is None else hx[1][ks])
        if c_n is not None:
            c_n[ks] = c_last
    return out, h_n, c_n


@dataclass
class _LayerInput:
    """The input of the restarted layer at given rows and absolute steps: the run's ``x``
    for layer 0, the kept output of the layer below otherwise."""

    chunk: CleanChunk
    x: Tensor
    layer: int

    def __call__(self, rows: Tensor, times: Tensor) -> Tensor:
        if self.layer == 0:
            return self.x[rows, times]
        return self.chunk.at("hidden", self.layer - 1, rows, times).flatten(-2)

    def state(self, name: str, rows: Tensor, times: Tensor, d: int) -> Tensor:
        return self.chunk.at(name, self.layer, rows, times)[:, d]


def _continue(module: torch.nn.RNNBase, source: _LayerInput, eff: Tensor, k: int, d: int,
              restart: Restart, h0: Tensor, out: Tensor, h_n: Tensor, c_n: Tensor | None
              ) -> None:
    """Write direction ``d``'s replaced run into ``out`` (batch, width, size; this direction's
    columns) and ``h_n[k]``/``c_n[k]``: the replaced state at its step, then the fused kernel
    from the next step on (processing order: a backward direction walks time down)."""
    rows = torch.nonzero((restart.step >= 0) & (restart.step < eff)).flatten()
    if len(rows) == 0:
        return
    s, n = restart.step[rows], eff[rows]
    at = s if d == 0 else n - 1 - s  # absolute step of the replacement
    h_s, c_s = _replaced_state(module, source, rows, s, at, d, restart, h0)
    out[rows, at] = h_s.to(out.dtype)
    rest = n - 1 - s
    done = rest == 0
    h_n[k, rows[done]] = h_s[done].to(h_n.dtype)
    if c_n is not None:
        c_n[k, rows[done]] = c_s[done].to(c_n.dtype)
    go = ~done
    if not bool(go.any()):
        return
    r, a, m = rows[go], at[go], rest[go]
    offsets = torch.arange(int(m.max()), device=out.device)
    valid = offsets[None] < m[:, None]
    times = a[:, None] + (offsets[None] + 1) * (1 if d == 0 else -1)
    times = torch.where(valid, times, a[:, None])
    grid = r[:, None].expand_as(times)
    suffix = source(grid.flatten(), times.flatten()).unflatten(0, times.shape)
    run, h_end, c_end, _ = fused_direction(module, module.mode, suffix, m, source.layer, d,
                                           h_s[go], None if c_s is None else c_s[go])
    out[grid[valid], times[valid]] = run[valid]
    h_n[k, r] = h_end
    if c_n is not None:
        c_n[k, r] = c_end


def _replaced_state(module: torch.nn.RNNBase, source: _LayerInput, rows: Tensor, s: Tensor,
                    at: Tensor, d: int, restart: Restart, h0: Tensor
                    ) -> tuple[Tensor, Tensor | None]:
    """``(h, c)`` of ``rows`` at their replaced steps (loop step ``s``, absolute ``at``): the
    written values, the clean ones otherwise; a written cell recomputes ``h = o * tanh(c)``
    with the output gate from the step's input and the clean ``h`` of the step before."""
    lstm = module.mode == "LSTM"
    h_s = source.state("hidden", rows, at, d)
    c_s = source.state("cell", rows, at, d) if lstm else None
    if restart.cell is not None:
        w = cell_equations.named_cell_weights(module, source.layer, d)
        first = s == 0
        prev_at = torch.where(first, at, at - 1 if d == 0 else at + 1)
        before = torch.where(first[:, None], h0[rows],
                             source.state("hidden", rows, prev_at, d))
        pre = (torch.nn.functional.linear(source(rows, at), w.w_ih, w.b_ih)
               + torch.nn.functional.linear(before, w.w_hh, w.b_hh))
        o = torch.sigmoid(pre.chunk(4, 1)[3])
        c_s = restart.cell[rows].to(h_s.dtype)
        h_s = cell_equations.lstm_hidden(o, c_s, w.w_hr)
    if restart.hidden is not None:
        h_s = restart.hidden[rows].to(h_s.dtype)
    return h_s, c_s
