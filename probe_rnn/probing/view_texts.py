"""Which text a view's states read, and the sentence table a task sees for it.

A model with several recurrent sites (an encoder on a pair's text a and on its text b; an
encoder on the source and a decoder on the target) has views whose steps are the tokens of a
second text (:meth:`~probe_rnn.capture.store.StateStore.text_of` says 2), or a stepped site's
own calls (None). A task about the text (length, first/last token, word content, token-back,
position ...) probed on such a view reads that text: the table it gets has ``length`` and
``tokens`` of text 2 (the store's ``length_2`` and ``tokens_2``). Label and prediction tasks are
the row's, whatever the view. Where the text's tokens are not known (no ``tokens_2`` in the
store's table; a stepped site, whose steps are no text's), the (view, task) cell is skipped
with the reason (:func:`text_skip`), never probed with text 1's targets on text 2's states.

:func:`context` is what a cell's tasks read (cached per process, per store, rows and text).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from probe_rnn.errors import ProbeRnnError
from probe_rnn.hashing import json_sha256, rows_sha256
from probe_rnn.probing.splits import group_ids
from probe_rnn.probing.state_source import StateSource
from probe_rnn.probing.tasks import LabelTask, Task, flat_tokens

#: What the second text is, in messages.
SECOND_TEXT = "text 2 (a pair's second text, an encoder-decoder's target)"


def view_text(store: Any, view: str) -> int | None:
    """1 (the row's text), 2 (its second text) or None (a stepped site's own steps) for a
    view; 1 for a source that does not say (:class:`~probe_rnn.probing.state_source.
    StateSource` without ``text_of``, or a view it does not hold: reading it fails in its
    cell)."""
    text_of = getattr(store, "text_of", None)
    if text_of is None:
        return 1
    try:
        return text_of(view)
    except ProbeRnnError:  # a view the store lacks: reading it says so, in its cell
        return 1


def text_meta(meta: pd.DataFrame, text: int | None) -> pd.DataFrame:
    """The sentence table a task sees for a view of ``text``: as stored for text 1; for text
    2, ``length`` and ``tokens`` are text 2's (``length_2``, ``tokens_2``) where the table has
    them; for a stepped site's view, as stored (only the row's label tasks run on it)."""
    if text != 2:
        return meta
    out = meta.copy()
    for column in ("length", "tokens"):
        if f"{column}_2" in meta.columns:
            out[column] = meta[f"{column}_2"]
    return out


def about_text(task: Task) -> bool:
    """Whether a task's targets come from the text (its length or tokens): every task but
    the row's label and prediction."""
    return not isinstance(task, LabelTask)


def text_skip(task: Task, view: str, view_kind: str, text: int | None,
              columns: Any) -> str | None:
    """Why ``task`` is not probed on ``view`` (None when it is): the view's steps are not
    text 1's and the targets of that text cannot be known."""
    if text is None and (view_kind == "token" or about_text(task)):
        return (f"view {view!r} is a stepped site's states (one step per call of its module, "
                f"no text's tokens): task {task.name!r} reads the text's tokens")
    if text == 2 and "tokens_2" not in columns and (view_kind == "token" or about_text(task)):
        return (f"view {view!r} reads {SECOND_TEXT}, whose tokens the store's table lacks "
                f"(no tokens_2 column): task {task.name!r} needs them")
    return None


def store_identity(store: StateSource) -> str:
    """Hash of a store's manifest (content, checksums, creation time); else its object id."""
    manifest = getattr(store, "manifest", None)
    manifest = manifest.to_dict() if hasattr(manifest, "to_dict") else manifest
    if isinstance(manifest, dict):
        return json_sha256(manifest)
    return f"unsaved:{id(store)}"


_CONTEXTS: dict[tuple[str, str, int | None], dict[str, Any]] = {}


def _context(store: StateSource, rows: np.ndarray, text: int | None) -> dict[str, Any]:
    meta = text_meta(store.meta, text).iloc[rows].reset_index(drop=True)
    toks, offs = flat_tokens(meta)
    return {"meta": meta, "tokens": toks, "offsets": offs,
            "groups": group_ids(meta["text"].to_numpy())}


def context(store: StateSource, rows: np.ndarray, text: int | None = 1) -> dict[str, Any]:
    """Meta rows, flat tokens, offsets and sentence ids of ``rows``, with ``length`` and
    ``tokens`` of the text a view reads (:func:`~probe_rnn.probing.view_texts.text_meta`;
    cached per process)."""
    ident = store_identity(store)
    if ident.startswith("unsaved:"):
        return _context(store, rows, text)
    key = (ident, rows_sha256(rows), text)
    if key not in _CONTEXTS:
        if len(_CONTEXTS) >= 4:  # a worker serves one run: a few stores at most
            _CONTEXTS.pop(next(iter(_CONTEXTS)))
        _CONTEXTS[key] = _context(store, rows, text)
    return _CONTEXTS[key]
