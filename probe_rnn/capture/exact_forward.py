"""Exact capture for ``nn.RNN``/``nn.GRU``/``nn.LSTM``: the call that replaces the module's own.

Inside a ``record`` block, a recurrent module's ``forward`` is temporarily replaced by
:meth:`RecurrentCapture.forward`. It takes the arguments the module would take (padded tensor
in either ``batch_first`` layout, unbatched 2-D tensor or ``PackedSequence`` sorted or not, and
an optional ``hx``), computes every per-layer, per-direction, per-step state from the module's
own weights and returns ``output, h_n(, c_n)`` built from them, so the model downstream sees the
module's result. Two routes (see DESIGN.md, "Capturing states exactly"):

* **loop** (LSTM on the CPU, no autograd): :func:`probe_rnn.capture.loop_route.lstm_loop`
  replays the native recurrence and writes every ``h`` and ``c`` as it goes: one forward's cost,
  bit-for-bit the native kernel's output. A verified call checks every state with the per-step
  identities of :mod:`probe_rnn.capture.verify` (a fraction of a forward); the first call of a
  block also runs the module's own forward and compares its ``output``, ``h_n`` and ``c_n``
  with the loop's, and returns the module's own tensors.
* **kernel** (GRU/RNN always; an LSTM under autograd or off the CPU): the module's fused kernel
  runs once per layer, giving every layer's ``h``; the gates (and the LSTM cells) are recomputed
  from it in batched matmuls, and a verified call checks the per-step identities
  (:mod:`probe_rnn.capture.kernel_route`). The returned tensors are the kernel's own, so
  gradients flow exactly as without ``record``.

* **lazy cells** (``record(lazy_cells=True)``, what a capture storing no per-step cell runs):
  every module takes the kernel route, and an LSTM's cells are recomputed only when read
  (a function in :class:`RecurrentStates`, checked then on a verified call); a verified call
  is compared with the module's own call as always. The states are laid out in the packed
  layout only when read, and a padded call's top output is handed over as the padded
  ``output``: the capture costs what the module's own forward costs.

Both take the weights and cell equations from :mod:`probe_rnn.capture.cell_equations`.
Either way the states keep references to the call's input, weights and initial states, from
which the LSTM/GRU gates are recomputed only if a gate view is read
(:mod:`probe_rnn.capture.gates`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from probe_rnn.capture import kernel_route
from probe_rnn.capture.cell_equations import direction_weights, layer_weights, split_directions
from probe_rnn.capture.gates import GateSource
from probe_rnn.capture.loop_route import Workspace, lstm_loop
from probe_rnn.capture.states import PackedLayout, RecurrentStates
from probe_rnn.capture.verify import (
    check_lstm_loop,
    default_tolerance,
    diff,
    raise_on_mismatch,
    within,
)
from probe_rnn.catalogue import GATE_NAMES
from probe_rnn.errors import CaptureError
from probe_rnn.models.recurrent import module_kind


def _leaves(result: Any) -> list[Tensor]:
    """``output, h_n(, c_n)`` of a module's result (output as its packed data if packed)."""
    out, h = result
    out = out.data if isinstance(out, PackedSequence) else out
    return [out, *(h if isinstance(h, tuple) else (h,))]


@dataclass
class _Call:
    """One call's inputs, normalised to the packed layout."""

    x: Tensor  # packed data (n_tokens, in) or the padded input in the module's layout
    batch_sizes: Tensor | None  # None for a padded input
    layout: PackedLayout
    h0: Tensor  # (layers*dirs, batch, out), kernel (sorted) order
    c0: Tensor | None
    unsorted: Tensor | None
    unbatched: bool
    batch_first: bool

    @functools.cached_property
    def data(self) -> Tensor:
        """Packed-layout input ``(n_tokens, in)`` (a padded input laid out on first read)."""
        if self.batch_sizes is not None:
            return self.x
        x = self.x.transpose(0, 1) if self.batch_first else self.x
        return x.reshape(-1, x.shape[-1])


class RecurrentCapture:
    """Replacement ``forward`` of one recurrent module; collects one :class:`RecurrentStates`
    per call into ``calls``."""

    def __init__(self, name: str, module: nn.Module, verify: str, tolerance: float | None,
                 lazy_cells: bool = False):
        self.name = name
        #: Compute an LSTM's per-step cells only when read (:class:`RecurrentStates` gets a
        #: function): the module's fused kernel then gives every ``h``, which costs what the
        #: module's own forward costs; a checked call is still compared with the module's own
        #: call, and its per-step identities are checked when its cells are computed.
        self.lazy_cells = lazy_cells
        self.module = module
        self.kind = module_kind(module)
        self.verify = verify
        self.tolerance = tolerance
        self.calls: list[RecurrentStates] = []
        self.n_calls = 0
        #: Compare every call of the first forward with the fused call (each may be a site of
        #: its own), not only the first call; the recorder's ``clear`` ends the first forward.
        self.whole_first_forward = False
        self.first_forward_done = False
        self.workspace = Workspace()
        self.n_dirs = 2 if module.bidirectional else 1

    # -- inputs -------------------------------------------------------------------------
    def _normalise(self, input: Any, hx: Any) -> _Call:
        m = self.module
        out_size = m.proj_size if getattr(m, "proj_size", 0) > 0 else m.hidden_size
        n_states = m.num_layers * self.n_dirs
        if isinstance(input, PackedSequence):
            x, batch_sizes, sorted_idx, unsorted = input
            bs = [int(b) for b in batch_sizes.tolist()]
            unbatched = False
        else:
            if input.dim() not in (2, 3):
                raise CaptureError(
                    f"module {self.name!r} got a {input.dim()}-D input; expected 2-D or 3-D "
                    "(or a PackedSequence)"
                )
            unbatched = input.dim() == 2
            x = input.unsqueeze(0 if m.batch_first else 1) if unbatched else input
            time, batch = (x.shape[1], x.shape[0]) if m.batch_first else x.shape[:2]
            batch_sizes, sorted_idx, unsorted, bs = None, None, None, [batch] * time
        offsets = [0]
        for b in bs:
            offsets.append(offsets[-1] + b)
        batch = bs[0] if bs else 0
        lengths = (torch.tensor(bs, dtype=torch.long)[:, None] > torch.arange(batch)).sum(0)
        if unsorted is not None:
            lengths = lengths[unsorted.cpu()]
        layout = PackedLayout(bs, offsets, sorted_idx, lengths, x.device)
        h0, c0 = self._initial_states(hx, x, batch, n_states, out_size, unbatched, sorted_idx)
        return _Call(x, batch_sizes, layout, h0, c0, unsorted, unbatched, m.batch_first)

    def _initial_states(
        self, hx: Any, x: Tensor, batch: int, n: int, out: int, unbatched: bool,
        sorted_idx: Tensor | None,
    ) -> tuple[Tensor, Tensor | None]:
        m, lstm = self.module, self.kind == "lstm"
        if hx is None:
            h0 = x.new_zeros((n, batch, out))
            return h0, (x.new_zeros((n, batch, m.hidden_size)) if lstm else None)
        h, c = (hx if lstm else (hx, None))
        if unbatched:
            h = h.unsqueeze(1)
            c = c.unsqueeze(1) if c is not None else None
        expected = [(n, batch, out)] + ([(n, batch, m.hidden_size)] if lstm else [])
        for got, shape in zip((h, c), expected, strict=False):
            if tuple(got.shape) != shape:
                raise CaptureError(
                    f"module {self.name!r} got an initial state of shape {tuple(got.shape)}; "
                    f"expected {shape}"
                )
        if sorted_idx is not None:
            h = h.index_select(1, sorted_idx)
            c = c.index_select(1, sorted_idx) if c is not None else None
        return h, c

    # -- the call -----------------------------------------------------------------------
    def forward(self, input: Any, hx: Any = None) -> Any:
        """Stand-in for ``module.forward(input, hx)``: same result, states recorded."""
        m = self.module
        if m.training and m.dropout > 0 and m.num_layers > 1:
            raise CaptureError(
                f"module {self.name!r} is in training mode with dropout={m.dropout} between "
                "layers, whose random masks cannot be observed; call model.eval() before record"
            )
        call = self._normalise(input, hx)
        verify = self.verify == "every" or (self.verify == "first" and self._compared())
        needs_grad = torch.is_grad_enabled() and (
            call.x.requires_grad or any(p.requires_grad for p in m.parameters())
        )
        loop = (self.kind == "lstm" and not needs_grad and call.x.device.type == "cpu"
                and not self.lazy_cells)
        if loop:
            result = self._loop(call, verify, input, hx)
        else:
            result = self._checked(call, verify, input, hx)
        self.n_calls += 1  # after success: a call that failed its check does not count
        return result

    def _loop(self, call: _Call, verify: bool, input: Any, hx: Any) -> Any:
        weights = direction_weights(self.module)
        first = self._compared()
        with torch.no_grad():
            hidden, cell, top, h_n, c_n, pre = lstm_loop(
                call.data, call.layout, weights, call.h0, call.c0, self.workspace,
                keep_gates=verify,
            )
            if verify:
                report = check_lstm_loop(call.layout, call.data, hidden, cell, pre, weights,
                                         call.h0, call.c0, seed=self.n_calls)
                tol = default_tolerance(call.data.dtype)
                raise_on_mismatch(self.name, [(w, v, tol) for w, v in report], self.tolerance)
        h_n, c_n = self._unsort(h_n, call.unsorted), self._unsort(c_n, call.unsorted)
        result = self._package(call, top, h_n, c_n)
        fused = None
        if verify and first:  # the module's own fused call, compared with the loop's result
            fused, result = self._compare(
                result, lambda: type(self.module).forward(self.module, input, hx))
        self._store(call, hidden, cell, h_n, c_n, verified=verify, fused_check=fused)
        if call.batch_sizes is None:
            layout = call.layout
            self._padded_top(top.view(layout.time, layout.batch, -1), batch_first=False)
        return result

    def _compared(self) -> bool:
        """Whether this call is compared with the module's own fused call: the first call,
        or every call of the first forward when :attr:`whole_first_forward`."""
        if self.n_calls == 0:
            return True
        return self.whole_first_forward and not self.first_forward_done

    def _compare(self, mine: Any, call_module: Callable[[], Any]
                 ) -> tuple[dict[str, float], Any]:
        """Check our ``output, h_n(, c_n)`` against the module's own call; return each one's
        max |difference| (the kernel check the store's manifest records) and the module's
        result.

        A mismatch is checked once more against a second call of the module: the fused
        kernel's rounding can change from one call to the next when the BLAS threads do
        (another process on the cores), and the recurrence carries it over the steps (seen
        once at 6e-4 on a hidden-256 LSTM). A module whose forward is not the standard one
        fails both.
        """
        names = ("output", "h_n", "c_n")
        for _ in range(2):
            theirs = call_module()
            pairs = zip(names, _leaves(mine), _leaves(theirs), strict=False)
            tol = default_tolerance(_leaves(theirs)[0].dtype)
            report = [diff(what, a.detach(), b.detach(), tol) for what, a, b in pairs]
            if within(report, self.tolerance):
                break
        raise_on_mismatch(self.name, report, self.tolerance)
        return {what: float(value) for what, value, _ in report}, theirs

    def _checked(self, call: _Call, verify: bool, input: Any, hx: Any) -> Any:
        m, n = self.module, self.n_dirs
        layer_w = layer_weights(m)
        h0 = (call.h0, call.c0) if self.kind == "lstm" else call.h0
        res = kernel_route.run_fused(
            self.kind, call.x, call.batch_sizes, layer_w, h0, n_dirs=n, has_bias=m.bias,
            training=m.training, batch_first=m.batch_first,
        )
        cell = self._kernel_cells(res, call, split_directions(layer_w, n), verify)
        h_n = self._unsort(res.h_n, call.unsorted)
        c_n = self._unsort(res.c_n, call.unsorted)
        if call.batch_sizes is None:
            result = self._finish_padded(call, res.top, h_n, c_n)
        else:
            result = self._finish_packed(call, res.top, h_n, c_n)
        fused = None
        if verify and self._compared():  # chained layers against the module's own call
            with torch.no_grad():
                fused, _ = self._compare(result, lambda: type(m).forward(m, input, hx))
        self._store(call, lambda: res.hidden, cell, h_n.detach(),
                    None if c_n is None else c_n.detach(), verified=verify, fused_check=fused)
        if call.batch_sizes is None:  # a padded call: the kernel's top output is the padded one
            self._padded_top(res.top.detach(), m.batch_first)
        return result

    def _kernel_cells(self, res: kernel_route.FusedResult, call: _Call,
                      weights: list[list[list[Tensor]]], verify: bool) -> Any:
        """A kernel-route call's LSTM cells (None for a GRU/RNN), recomputed from the kernel's
        ``h`` and, on a verified call, checked by the per-step identities. With
        :attr:`lazy_cells` an LSTM's are a function computing (and checking) them on first
        read, and a GRU/RNN's identities are not recomputed: the states stored are then the
        kernel's own ``h``, compared with the module's own call all the same."""
        if self.kind != "lstm" and (self.lazy_cells or not verify):
            return None
        h0, c0 = call.h0.detach(), None if call.c0 is None else call.c0.detach()

        def cells() -> Any:
            cell, report = kernel_route.check_states(self.kind, res, call.layout, weights, h0,
                                                     c0)
            if verify:
                raise_on_mismatch(self.name, report, self.tolerance)
            return cell
        return cells if self.lazy_cells else cells()

    def _padded_top(self, top: Tensor, batch_first: bool) -> None:
        """Hand the stored states a padded call's top output ``(batch, time, dirs * out)``
        (``(time, batch, .)`` when time-major) as their padded top layer (no scatter)."""
        top = top if batch_first else top.transpose(0, 1)
        if top.dim() == 3:
            self.calls[-1].set_padded_top(top.unflatten(-1, (self.n_dirs, -1)))

    # -- results ------------------------------------------------------------------------
    @staticmethod
    def _unsort(h: Tensor | None, unsorted: Tensor | None) -> Tensor | None:
        return h if h is None or unsorted is None else h.index_select(1, unsorted)

    def _store(self, call: _Call, hidden: Any, cell: Any, h_n: Tensor, c_n: Tensor | None,
               verified: bool, fused_check: dict[str, float] | None = None) -> None:
        """Keep the call's states; ``hidden`` and ``cell`` may be functions computing them
        on first read (:class:`RecurrentStates`)."""
        m = self.module
        gates = None
        if self.kind in GATE_NAMES:  # references only: computed if a gate view is read
            gates = GateSource(self.name, self.kind, lambda: call.data, direction_weights(m),
                               call.h0, call.c0, self.tolerance, source=call.x)
        self.calls.append(RecurrentStates(
            layout=call.layout, hidden_packed=hidden, cell_packed=cell, h_n=h_n, c_n=c_n,
            kind=self.kind, hidden_size=m.hidden_size, proj_size=getattr(m, "proj_size", 0),
            verified=verified, gate_source=gates, fused_check=fused_check,
            shape=(m.num_layers, self.n_dirs),
        ))
        self.calls[-1].initial = (self._unsort(call.h0, call.unsorted),
                                  self._unsort(call.c0, call.unsorted))

    def _package(self, call: _Call, top: Tensor, h_n: Tensor, c_n: Tensor | None) -> Any:
        """Loop-route output ``(n_tokens, dirs*out)`` -> the module's own return format."""
        if call.batch_sizes is not None:
            return self._finish_packed(call, top, h_n, c_n)
        m, layout = self.module, call.layout
        out = top.view(layout.time, layout.batch, -1)
        out = out.transpose(0, 1).contiguous() if m.batch_first else out
        return self._finish_padded(call, out, h_n, c_n)

    def _finish_packed(self, call: _Call, top: Tensor, h_n: Tensor, c_n: Tensor | None) -> Any:
        layout = call.layout
        out = PackedSequence(top, call.batch_sizes, layout.sorted_indices, call.unsorted)
        return (out, (h_n, c_n)) if self.kind == "lstm" else (out, h_n)

    def _finish_padded(self, call: _Call, out: Tensor, h_n: Tensor, c_n: Tensor | None) -> Any:
        if call.unbatched:
            out = out.squeeze(0 if self.module.batch_first else 1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        return (out, (h_n, c_n)) if self.kind == "lstm" else (out, h_n)
