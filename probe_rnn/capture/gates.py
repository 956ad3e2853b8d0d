"""Gate activations of recorded ``nn.LSTM``/``nn.GRU`` calls, recomputed lazily and checked.

The fused kernels never expose their gates. The :class:`RecurrentStates` of a recorded LSTM or
GRU call holds a :class:`GateSource`: *references* (no copies, no arithmetic) to what the gates
are a function of, i.e. the layer-0 input in the packed layout, every layer's and direction's
weights, and the initial states. Nothing is computed until a gate view
(``gate/L{l}/{dir}/{name}``, ``gate/L{l}/{dir}/{name}@t``) of one layer and direction is asked
for, so a capture that asks for none pays nothing. Then, for that layer and direction:

* the layer's input is the module's input (layer 0) or layer ``l-1``'s captured ``h`` of both
  directions concatenated ``[fwd, bwd]``; ``h_{t-1}`` is the captured ``h`` of the step the
  direction comes from (``h0`` at its first step; for ``bwd`` the *next* step's state);
* the pre-activations of every step come from two batched matmuls
  (:func:`probe_rnn.capture.cell_equations.gate_preactivations`, as in the kernel route's check);
* activations, in PyTorch's gate order: LSTM ``i, f, g, o`` with ``i, f, o = sigmoid`` and
  ``g = tanh``; GRU ``r, z, n`` with ``r, z = sigmoid`` and
  ``n = tanh(W_in x + b_in + r * (W_hn h_{t-1} + b_hn))``;
* the check (elementwise, a fraction of the matmuls): the gates must reproduce the captured
  states, ``c_t = f*c_{t-1} + i*g`` and ``h_t = o*tanh(c_t)`` for an LSTM, ``h_t = (1-z)*n +
  z*h_{t-1}`` for a GRU, else :class:`~probe_rnn.errors.CaptureMismatchError`.

An LSTM with ``proj_size`` is supported: ``h_{t-1}`` is then the projected ``h`` (what the
module feeds back), and the check projects ``o*tanh(c_t)`` with ``W_hr``. The weights, input
and initial states must not change in place between the call and the first gate read (e.g. an
optimizer step): their version counters are compared and a change raises
:class:`~probe_rnn.errors.CaptureError` rather than giving gates of other weights. Gates are
computed without autograd. ``nn.RNN`` has no gates; model-driven cell loops (``nn.LSTMCell``,
``nn.GRUCell``) have no gate views, since the recorder does not keep each step's input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from probe_rnn.capture import cell_equations
from probe_rnn.capture.verify import default_tolerance, diff, raise_on_mismatch
from probe_rnn.catalogue import DIRECTIONS
from probe_rnn.errors import CaptureError

if TYPE_CHECKING:
    from collections.abc import Callable

    from probe_rnn.capture.states import RecurrentStates

def _version(t: Tensor | None) -> int | None:
    if t is None:
        return None
    try:
        return int(t._version)
    except RuntimeError:  # inference-mode tensors have no version counter (and are immutable)
        return None


class GateSource:
    """What the gates of one LSTM/GRU call are recomputed from (references only).

    Parameters
    ----------
    name : str
        Module name (for error messages).
    kind : {"lstm", "gru"}
    data : Tensor or callable
        ``(n_tokens, input)`` layer-0 input, packed layout, or a function giving it from
        ``source`` (the call's own input, whose in-place changes are then watched).
    weights : list
        ``[layer][direction] -> [w_ih, w_hh, (b_ih, b_hh), (w_hr)]`` as in ``_flat_weights``.
    h0, c0 : Tensor, Tensor or None
        ``(layers * directions, batch, .)`` initial states, kernel (sorted) row order.
    tolerance : float, optional
        Absolute tolerance of the check (default by dtype, as for ``record``).
    """

    def __init__(self, name: str, kind: str, data: Tensor | Callable[[], Tensor],
                 weights: list[list[list[Tensor]]], h0: Tensor, c0: Tensor | None,
                 tolerance: float | None = None, *, source: Tensor | None = None) -> None:
        self.name, self.kind, self.tolerance = name, kind, tolerance
        self._data, self.weights, self.h0, self.c0 = data, weights, h0, c0
        self._source = data if source is None else source
        self._versions = self._current_versions()

    @property
    def data(self) -> Tensor:
        """``(n_tokens, input)`` layer-0 input, packed layout (laid out on first read when it
        was given as a function of the call's own input ``source``)."""
        if not isinstance(self._data, Tensor):
            self._data = self._data()
        return self._data

    def _tensors(self) -> list[Tensor | None]:
        return [self._source, self.h0, self.c0, *(w for dirs in self.weights for ws in dirs
                                                   for w in ws)]

    def _current_versions(self) -> list[int | None]:
        return [_version(t) for t in self._tensors()]

    def compute(self, states: RecurrentStates, layer: int, direction: int) -> Tensor:
        """``(n_tokens, gates, hidden_size)`` activations of one layer/direction, packed
        layout, checked against the captured ``h`` (and ``c``)."""
        if self._current_versions() != self._versions:
            raise CaptureError(
                f"the gates of module {self.name!r} cannot be recomputed: its weights, input or "
                "initial state changed in place after the call; read gate views before "
                "changing the model (e.g. before optimizer.step())"
            )
        layout, n_dirs = states.layout, states.num_directions
        n, k, lstm = layout.n_tokens, layer * n_dirs + direction, self.kind == "lstm"
        weights = self.weights[layer][direction]
        with torch.no_grad():
            x = self.data if layer == 0 else states.hidden_layers[layer - 1].reshape(n, -1)
            h = states.hidden_layers[layer][:, direction]
            h_prev = cell_equations.previous_states(self.h0[k].detach(), h, layout, direction)
            gi, gh = cell_equations.gate_preactivations(x.detach(), h_prev,
                                                    [w.detach() for w in weights])
            tag = f"L{layer}/{DIRECTIONS[direction]}"
            tol = default_tolerance(h.dtype)
            if lstm:
                gates = gi.add_(gh).view(n, 4, -1)
                gates[:, :2].sigmoid_()
                gates[:, 2].tanh_()
                gates[:, 3].sigmoid_()
                i, f, g, o = gates.unbind(1)
                c = states.cell_layers[layer][:, direction]
                c_prev = cell_equations.previous_states(self.c0[k].detach(), c, layout, direction)
                w_hr = cell_equations.cell_weights(weights).w_hr
                h_hat = cell_equations.lstm_hidden(o, c, None if w_hr is None else w_hr.detach())
                c_hat = cell_equations.lstm_cell(i, f, g, c_prev)
                report = [diff(f"gates (c) {tag}", c_hat, c, tol),
                          diff(f"gates (h) {tag}", h_hat, h, tol)]
            else:
                gates, hh = gi.view(n, 3, -1), gh.view(n, 3, -1)
                gates[:, :2].add_(hh[:, :2]).sigmoid_()
                gates[:, 2].addcmul_(gates[:, 0], hh[:, 2]).tanh_()
                h_hat = cell_equations.gru_hidden(gates[:, 1], gates[:, 2], h_prev)
                report = [diff(f"gates (h) {tag}", h_hat, h, tol)]
        raise_on_mismatch(self.name, report, self.tolerance)
        return gates


class RepackedGates:
    """Gates of states re-laid out from ``parent``'s (same steps, fewer or reordered rows):
    gathered from the parent's gates, computed on first access (see ``store_writer.real_tokens``).
    """

    def __init__(self, parent: RecurrentStates) -> None:
        self.parent = parent

    def compute(self, states: RecurrentStates, layer: int, direction: int) -> Tensor:
        """Rows of the parent's ``(n_tokens, gates, hidden)`` at ``states``' packed rows."""
        src, dst = self.parent.layout, states.layout
        inverse = torch.full((src.batch * src.time,), -1, dtype=torch.long)
        inverse[src.index("dest").cpu()] = torch.arange(src.n_tokens)
        dest = dst.index("dest").cpu()  # row * dst.time + step
        rows = inverse[(dest // max(dst.time, 1)) * src.time + dest % max(dst.time, 1)]
        if bool((rows < 0).any()):
            raise CaptureError("re-laid out states hold steps their source states do not have")
        packed = self.parent.gate_packed(layer, direction)
        return packed.index_select(0, rows.to(packed.device))
