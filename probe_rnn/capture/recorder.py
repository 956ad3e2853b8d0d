"""``record(model)``: the whole capture API, one context manager (baukit ``nethook`` style).

.. code-block:: python

    with record(model) as rec:              # every recurrent module, or modules=["encoder.rnn"]
        model(ids, lengths)                 # the model's own forward, any signature
    st = rec["rnn"]                         # RecurrentStates of the last call
    st.hidden, st.cell, st.lengths, st.output, st.h_n, st.c_n

Names are those of ``model.named_modules()``. All names are validated before anything is
installed, and everything installed is removed in ``finally``, also when the forward raises.

* ``nn.RNN``/``nn.GRU``/``nn.LSTM``: their ``forward`` is replaced for the duration of the block
  by an exact recomputation that returns the module's result (see
  :mod:`probe_rnn.capture.exact_forward`). A *checked* call verifies every recomputed state: an LSTM
  on the CPU by per-step identities (gate pre-activations against the weights and inputs,
  ``c_t = f*c_{t-1} + i*g``, ``h_t = o*tanh(c_t)``; :mod:`probe_rnn.capture.verify`), other
  modules by recomputing every step from the fused kernel's own ``h`` (one kernel call per
  layer); the first call of each module in a block is moreover compared with the module's own
  call's ``output``, ``h_n`` and ``c_n``. ``verify="first"`` (the default, also the CLI's)
  checks only that first call (after :meth:`Recorder.check_first_forward`, every call until
  the first :meth:`Recorder.clear`: each call of the first forward may be a site): later
  calls are computed exactly the same way (bit-for-bit the native kernel's result for a
  packed LSTM) but are not checked. ``verify="every"`` checks every call.
  A failed check raises :class:`~probe_rnn.errors.CaptureMismatchError` naming the
  module, the check, the max |difference| and the tolerance.
* ``nn.LSTMCell``/``nn.GRUCell``/``nn.RNNCell`` looped by the model: each call is one step;
  ``rec[name]`` stacks every call of the block into ``(batch, time, 1, 1, hidden)`` states.
* Any other named module: ``rec[name]`` is what it returned (detached), ``rec.calls(name)`` all
  calls.

Eval mode is the contract: an RNN with dropout between layers in training mode raises
:class:`~probe_rnn.errors.CaptureError` (its dropout masks are not observable).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from probe_rnn.capture.exact_forward import RecurrentCapture
from probe_rnn.capture.states import PackedLayout, RecurrentStates
from probe_rnn.errors import CaptureError, Mention, ParameterError
from probe_rnn.models.recurrent import cell_kind, module_kind, recurrent_modules
from probe_rnn.validation import shown

VERIFY_MODES = ("first", "every")
_MARK = "_probe_rnn_recording"


def _detach(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.detach()
    if isinstance(value, tuple | list):
        return type(value)(_detach(v) for v in value)
    return value


class Recorder:
    """What ``record`` yields: recorded results by module name.

    ``rec[name]`` is the last call's result (:class:`RecurrentStates` for recurrent modules and
    cells, the returned value otherwise); ``rec.calls(name)`` lists every call's result (for a
    cell: every step's raw ``h`` or ``(h, c)``); ``rec.names`` the recorded names;
    ``rec.order`` the recorded recurrent modules' and cells' calls, one name a call, in
    execution order (what :func:`~probe_rnn.capture.recurrent_sites.forward_sites` orders the
    sites by).
    """

    def __init__(self, names: list[str]) -> None:
        self._names = names
        self._recurrent: dict[str, RecurrentCapture] = {}
        self._cells: dict[str, tuple[str, list[Any]]] = {}
        self._plain: dict[str, list[Any]] = {name: [] for name in names}
        #: The recorded recurrent modules and cells, one entry per call, in execution order.
        self.order: list[str] = []

    @property
    def names(self) -> list[str]:
        """Recorded module names, model order."""
        return list(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def clear(self) -> None:
        """Drop every result recorded so far (keeps recording; ``verify="first"`` stays done).

        Call it after consuming each batch of a long capture so memory does not grow. The
        calls before the first ``clear`` are the first forward, whose calls ``verify="first"``
        checks (each call of a module there may be a site of its own).
        """
        for cap in self._recurrent.values():
            cap.calls.clear()
            cap.first_forward_done = cap.n_calls > 0
        self.order.clear()
        for _kind, steps in self._cells.values():
            steps.clear()
        for store in self._plain.values():
            store.clear()

    def check_first_forward(self) -> None:
        """Compare every call of the first forward (until the first :meth:`clear`) with the
        module's own fused call, not only each module's first call: each call may be a site
        of its own (:mod:`probe_rnn.capture.recurrent_sites`)."""
        for cap in self._recurrent.values():
            cap.whole_first_forward = True

    def is_cell(self, name: str) -> bool:
        """Whether ``name`` is a cell looped by the model (``rec[name]`` stacks its steps)."""
        return name in self._cells

    def calls(self, name: str) -> list[Any]:
        """Every call's result for ``name``, in call order (empty if never called)."""
        self._check_name(name)
        if name in self._recurrent:
            return list(self._recurrent[name].calls)
        if name in self._cells:
            return list(self._cells[name][1])
        return list(self._plain[name])

    def __getitem__(self, name: str) -> Any:
        self._check_name(name)
        if name in self._cells:
            return self._stack_cell(name)
        calls = self.calls(name)
        if not calls:
            raise CaptureError(
                f"module {name!r} was not called inside the record block; run the model's "
                "forward inside `with record(...)`"
            )
        return calls[-1]

    def _check_name(self, name: str) -> None:
        if name not in self._names:
            raise CaptureError(f"module {name!r} was not recorded; recorded: {self._names}")

    def _stack_cell(self, name: str) -> RecurrentStates:
        kind, steps = self._cells[name]
        if not steps:
            raise CaptureError(f"cell {name!r} was not called inside the record block")
        hs = [s[0] if isinstance(s, tuple) else s for s in steps]
        if len({h.shape for h in hs}) != 1:
            raise CaptureError(
                f"cell {name!r} was called with different batch shapes inside one block; record "
                "one batch per `with record(...)` block"
            )
        h = torch.stack(hs, 0).reshape(len(hs), -1, hs[0].shape[-1])  # (time, batch, hidden)
        time, batch = h.shape[:2]
        layout = PackedLayout([batch] * time, [batch * t for t in range(time + 1)], None,
                              torch.full((batch,), time, dtype=torch.long), h.device)
        cell = h_n = c_n = None
        if kind == "lstm-cell":
            cs = torch.stack([s[1] for s in steps], 0).reshape(time, batch, -1)
            cell = [cs.reshape(time * batch, 1, -1)]
            c_n = cs[-1:]
        h_n = h[-1:]
        return RecurrentStates(
            layout=layout, hidden_packed=[h.reshape(time * batch, 1, -1)], cell_packed=cell,
            h_n=h_n, c_n=c_n, kind=kind, hidden_size=int(h.shape[-1]),
        )


def _validate(model: nn.Module, modules: str | Sequence[str] | None, verify: str) -> list[str]:
    if verify not in VERIFY_MODES:
        raise ParameterError("verify", f"one of {', '.join(VERIFY_MODES)}", shown(verify))
    if not isinstance(model, nn.Module):
        raise CaptureError(f"record needs a torch.nn.Module; got {type(model).__name__}")
    if isinstance(model, torch.jit.ScriptModule):
        raise CaptureError(_SCRIPTED.format(what="the model"))
    all_names = dict(model.named_modules())
    if modules is None:
        names = list(recurrent_modules(model, cells=True))
        scripted = next((n for n, m in all_names.items()
                         if isinstance(m, torch.jit.ScriptModule)), None)
        if not names and scripted is not None:
            raise CaptureError(_SCRIPTED.format(what=f"module {scripted!r}"))
        if not names:
            raise CaptureError(
                "the model holds no nn.RNN/GRU/LSTM or cell module; name the modules to "
                "record with ", Mention("modules", "[...]"),
                f"; valid names: {[n for n in all_names if n][:20]}")
    else:
        names = [modules] if isinstance(modules, str) else list(modules)
        unknown = [n for n in names if n not in all_names]
        if unknown:
            raise CaptureError(
                f"unknown module name(s) {unknown}; valid names: {[n for n in all_names if n]}"
            )
    for name in names:
        mod = all_names[name]
        if isinstance(mod, torch.jit.ScriptModule):
            raise CaptureError(_SCRIPTED.format(what=f"module {name!r}"))
        base = next((c for c in (nn.LSTM, nn.GRU, nn.RNN) if isinstance(mod, c)), None)
        if base is not None and type(mod).forward is not base.forward:
            raise CaptureError(
                f"module {name!r} ({type(mod).__name__}) overrides forward, so its states cannot "
                f"be recomputed as a {base.__name__}'s; record the {base.__name__} inside it"
            )
        if getattr(mod, _MARK, False):
            raise CaptureError(f"module {name!r} is already being recorded by another record()")
    return list(dict.fromkeys(names))


_SCRIPTED = ("{what} is a TorchScript module (torch.jit.script or trace), whose calls cannot "
             "be hooked or recomputed: record the eager nn.Module it was made from (build it "
             "in Python and load its state_dict)")


class _Record:
    """What :func:`record` returns: a context manager that may be entered once."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._args, self._kwargs = args, kwargs
        self._block: Any = None
        self._state = "new"

    def __enter__(self) -> Recorder:
        if self._state != "new":
            raise CaptureError(
                f"this record() object was already entered ({self._state}): each `with` "
                "block needs its own, e.g. `with record(model) as rec:` again")
        self._state = "in use"
        self._block = _recording(*self._args, **self._kwargs)
        return self._block.__enter__()

    def __exit__(self, *exc: Any) -> bool | None:
        self._state = "finished"
        return self._block.__exit__(*exc)


def record(
    model: nn.Module,
    modules: str | Sequence[str] | None = None,
    verify: str = "first",
    *,
    tolerance: float | None = None,
    lazy_cells: bool = False,
) -> _Record:
    """Record exact states of ``model``'s recurrent modules (and outputs of named modules).

    Parameters
    ----------
    model : nn.Module
    modules : str or list of str, optional
        Names from ``model.named_modules()``; default every recurrent module and cell.
    verify : {"first", "every"}
        Check the first call of each recurrent module in the block, or every call.
    tolerance : float, optional
        Tolerance of the checks per unit of magnitude of the compared values (default by dtype:
        5e-5 for float32, 1e-9 for float64, 2e-2 for float16/bfloat16).
    lazy_cells : bool
        Compute an LSTM's per-step cell states only when they are read (``st.cell``, a cell
        view, a gate's check): the module's fused kernel then gives every ``h`` at the cost
        of the module's own forward (a capture storing no per-step cell never pays for
        them). Same values either way. A checked call is compared with the module's own call
        as always; its per-step identities are checked when its cells are computed.

    Returns
    -------
    context manager
        Entered once (a second ``with`` on the same object is a CaptureError), it gives the
        :class:`Recorder`.
    """
    return _Record((model, modules, verify), {"tolerance": tolerance, "lazy_cells": lazy_cells})


def _cell_hook(store: list[Any], order: list[str], name: str) -> Any:
    """Forward hook of a looped cell: keeps each step's result, notes the call in ``order``."""
    def hook(_module: nn.Module, _inputs: Any, out: Any) -> None:
        store.append(_detach(out))
        order.append(name)
    return hook


def _in_order(forward: Any, order: list[str], name: str) -> Any:
    """``forward`` that first notes its call in ``order`` (the recorder's execution order)."""
    def call(*args: Any, **kwargs: Any) -> Any:
        order.append(name)
        return forward(*args, **kwargs)
    return call


@contextmanager
def _recording(model: nn.Module, modules: str | Sequence[str] | None, verify: str,
               tolerance: float | None = None, lazy_cells: bool = False) -> Iterator[Recorder]:
    names = _validate(model, modules, verify)
    rec = Recorder(names)
    all_modules = dict(model.named_modules())
    handles: list[Any] = []
    patched: list[tuple[nn.Module, bool, Any]] = []
    try:
        for name in names:
            mod = all_modules[name]
            setattr(mod, _MARK, True)
            if module_kind(mod) is not None:
                cap = RecurrentCapture(name, mod, verify, tolerance, lazy_cells)
                rec._recurrent[name] = cap
                had = "forward" in mod.__dict__
                patched.append((mod, had, mod.__dict__.get("forward")))
                mod.forward = _in_order(cap.forward, rec.order, name)
            elif (kind := cell_kind(mod)) is not None:
                store: list[Any] = []
                rec._cells[name] = (kind, store)
                handles.append(mod.register_forward_hook(_cell_hook(store, rec.order, name)))
            else:
                store = rec._plain[name]
                handles.append(mod.register_forward_hook(
                    lambda _m, _i, out, s=store: s.append(_detach(out))))
        yield rec
    finally:
        for handle in handles:
            handle.remove()
        for mod, had, old in patched:
            if had:
                mod.forward = old
            else:
                mod.__dict__.pop("forward", None)
        for name in names:
            all_modules[name].__dict__.pop(_MARK, None)
