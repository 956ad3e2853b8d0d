"""What probing reads from a state store, as a :class:`typing.Protocol` (:class:`StateSource`).

:class:`~probe_rnn.capture.store.StateStore` is one; a test or a plugin may hand the runner any
object with these members (probing never imports capture's store to read it). A source that
also has a ``manifest`` (a mapping, or an object with ``to_dict()``) gets a journal identity
from it (:func:`~probe_rnn.probing.view_texts.store_identity`); without one its cells are not
reused across processes. A source may also say which text a view's steps are (``text_of(view)``
-> 1, 2 or None, as :meth:`~probe_rnn.capture.store.StateStore.text_of`: views of a site reading
a pair's second text or a target); without it every view reads the row's text
(:mod:`probe_rnn.probing.view_texts`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd


@runtime_checkable
class StateSource(Protocol):
    """The members of a state store that the probing runner and its cells call."""

    @property
    def views(self) -> list[str]:
        """The stored view names."""
        ...

    @property
    def meta(self) -> pd.DataFrame:
        """One row per sentence (``text``, ``label``, ``length``, ``tokens``, ...)."""
        ...

    def kind(self, name: str) -> str:
        """``"sentence"`` or ``"token"`` for a view (stored or derived ``@t``)."""
        ...

    def tokens(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A per-token view as ``(flat (n_tokens, dim), offsets (rows + 1,))``."""
        ...

    def sentence_masked(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A sentence view and which rows hold it: ``(values (rows, dim), mask (rows,))``."""
        ...
