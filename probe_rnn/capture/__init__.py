"""Capture: exact per-layer, per-step recurrent states, named state views, on-disk stores.

``record`` (a context manager) recomputes and verifies every hidden and cell state of the
``nn.RNN``/``nn.GRU``/``nn.LSTM`` modules of a model while it runs; ``RecurrentStates`` holds one
call's states; ``views`` names the states a probe can read (``output@last``, ``h_n/L0/fwd``,
``hidden/L1/bwd@-1`` ...); ``capture`` streams them into an on-disk ``StateStore`` folder;
``diagnose`` measures what ``output`` and ``h_n`` hold for a model on its data.
"""

from __future__ import annotations

from probe_rnn.capture.diagnosis import diagnose, format_diagnosis
from probe_rnn.capture.record import VERIFY_MODES, Recorder, record, recurrent_module_names
from probe_rnn.capture.states import RecurrentStates
from probe_rnn.capture.store import StateStore
from probe_rnn.capture.views import (
    VIEW_CATALOGUE,
    ViewSpec,
    available_views,
    parse_view,
    sentence_view,
    sentence_view_masked,
    token_view,
)
from probe_rnn.capture.writer import capture

__all__ = [
    "record",
    "Recorder",
    "RecurrentStates",
    "VERIFY_MODES",
    "recurrent_module_names",
    "VIEW_CATALOGUE",
    "ViewSpec",
    "available_views",
    "parse_view",
    "sentence_view",
    "sentence_view_masked",
    "token_view",
    "capture",
    "StateStore",
    "diagnose",
    "format_diagnosis",
]
