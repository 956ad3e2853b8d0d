"""Capture: exact per-layer, per-step recurrent states, named state views, on-disk stores.

``record`` (a context manager) recomputes and verifies every hidden and cell state of the
``nn.RNN``/``nn.GRU``/``nn.LSTM`` modules of a model while it runs; ``RecurrentStates`` holds one
call's states; ``views`` names the states a probe can read (``output@last``, ``h_n/L0/fwd``,
``hidden/L1/bwd@-1`` ...); ``capture_states`` streams them into an on-disk ``StateStore``
folder; ``diagnose`` measures what ``output`` and ``h_n`` hold for a model on its data.

The exact forward that replaces a recurrent module's own is in :mod:`.exact_forward`; the cell
equations every route shares in :mod:`.cell_equations`.

Names are imported lazily: reading a store (``StateStore``, what probing workers do) does not
import torch, which keeps each parallel probing process small.
"""

from __future__ import annotations

from probe_rnn.lazy_exports import lazy_exports

_EXPORTS = {
    "record": "recorder", "Recorder": "recorder", "VERIFY_MODES": "recorder",
    "RecurrentStates": "states",
    "available_views": "views", "sentence_view": "views", "sentence_view_masked": "views",
    "token_view": "views", "capture_states": "run_capture", "StateStore": "store",
    "diagnose": "batches", "format_diagnosis": "diagnosis", "sites": "batches",
    "Site": "recurrent_sites",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
