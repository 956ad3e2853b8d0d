"""Capture: exact per-layer, per-step recurrent states, named state views, on-disk stores.

``record`` (a context manager) recomputes and verifies every hidden and cell state of the
``nn.RNN``/``nn.GRU``/``nn.LSTM`` modules of a model while it runs; ``RecurrentStates`` holds one
call's states; ``views`` names the states a probe can read (``output@last``, ``h_n/L0/fwd``,
``hidden/L1/bwd@-1`` ...); ``capture`` streams them into an on-disk ``StateStore`` folder;
``diagnose`` measures what ``output`` and ``h_n`` hold for a model on its data.

The package itself is callable as :func:`~probe_rnn.capture.run_capture.capture`, so
``from probe_rnn import capture`` gives one object whatever was imported before:
``capture(bundle, df, out_dir)`` runs a capture and ``capture.StateStore`` is the store class.
``record`` the function lives in the submodule ``recorder`` (no name here is also a submodule).

Names are imported lazily: reading a store (``StateStore``, what probing workers do) does not
import torch, which keeps each parallel probing process small.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from typing import Any

_EXPORTS = {
    "record": "recorder", "Recorder": "recorder", "VERIFY_MODES": "recorder",
    "recurrent_module_names": "recorder", "RecurrentStates": "states",
    "VIEW_CATALOGUE": "views", "ViewSpec": "views", "available_views": "views",
    "parse_view": "views", "sentence_view": "views", "sentence_view_masked": "views",
    "token_view": "views", "capture": "run_capture", "StateStore": "store",
    "diagnose": "batches", "format_diagnosis": "diagnosis",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'probe_rnn.capture' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"probe_rnn.capture.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _CallableCapture(types.ModuleType):
    """This package's class: calling it calls :func:`~probe_rnn.capture.run_capture.capture`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.capture(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self.capture)


sys.modules[__name__].__class__ = _CallableCapture
