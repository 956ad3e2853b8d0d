"""How the built-in adapters feed a model as its author's input pipeline did.

:class:`Feeding` holds what a tutorial's ``Field``/``DataLoader`` did to each batch beyond
"ids right-padded to the longest row":

* ``bos_id``/``eos_id``: a token put before/after every text (``--bos``/``--eos``);
* ``pad_to``: every row padded to a fixed number of steps (torchtext's ``fix_length``; a longer
  text is cut so that it and its BOS/EOS fit, as torchtext cuts it);
* ``one_hot``: ids given to the model as one-hot float vectors ``(…, one_hot)`` because its
  first recurrent module is fed without an ``nn.Embedding`` (padding steps are all-zero
  vectors); :func:`one_hot_embedding` makes them, as an embedding attribution can hook;
* ``sort``: the model packs with ``pack_padded_sequence(..., enforce_sorted=True)`` (the
  default), which its author fed with batches sorted by length (torchtext's
  ``sort_within_batch=True``). During the call :func:`sorted_packing` has
  ``pack_padded_sequence`` sort the rows itself (``enforce_sorted=False``): the recurrent module
  then runs on exactly the sorted batch the author's loader built, and PyTorch puts its results
  back in row order, so logits, states and attributions keep the table's rows;
* ``batch_arg``: the name of a ``forward`` parameter that receives the batch size (the
  ``init_hidden(batch_size)`` pattern);
* ``texts``: how many texts ``forward`` reads: 2 for a pair model or an encoder-decoder fed its
  target (``model(a, b)``; the table's two text columns, ``--text a,b``);
* ``initial_state``: ``forward`` takes an initial state after the ids (a language model's
  ``forward(input, hidden)``): ``"init_hidden"`` (the model's method) or ``"zeros"``;
* ``teacher_forcing``: the name of a ``forward`` parameter (``teacher_forcing_ratio``) given 1.0
  (:mod:`probe_rnn.models.arguments` builds the call).

Lengths count every step the model reads as a token, BOS and EOS included, padding excluded.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.utils.rnn
from torch import Tensor, nn

from probe_rnn.errors import DataError, Mention

_ORIGINAL_PACK = torch.nn.utils.rnn.pack_padded_sequence


@dataclass(frozen=True)
class Feeding:
    """What a batch goes through between the tokenizer and the model (see the module doc)."""

    pad_to: int | None = None
    bos: str | None = None
    eos: str | None = None
    bos_id: int | None = None
    eos_id: int | None = None
    one_hot: int | None = None
    sort: bool = False
    batch_arg: str | None = None
    texts: int = 1
    initial_state: str | None = None
    teacher_forcing: str | None = None

    def but(self, **changes: object) -> Feeding:
        """A copy with ``changes``."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def frame(self, ids: Tensor, lengths: Tensor, pad_id: int | None) -> tuple[Tensor, Tensor]:
        """``ids (batch, time)`` and ``lengths (batch,)`` with BOS/EOS added and padded to
        ``pad_to`` (or the longest row); ``pad_id`` None (no padding token known) is an error
        only when a row needs padding."""
        if self.bos_id is None and self.eos_id is None and self.pad_to is None:
            return ids, lengths
        rows = []
        room = None if self.pad_to is None else self.pad_to - self._extra()
        for row, n in zip(ids, lengths.tolist(), strict=True):
            body = row[: n if room is None else min(n, room)].tolist()
            rows.append(([self.bos_id] if self.bos_id is not None else []) + body
                        + ([self.eos_id] if self.eos_id is not None else []))
        width = self.pad_to or max(len(r) for r in rows)
        if pad_id is None and any(len(r) < width for r in rows):
            raise DataError("rows need padding to the same length, but the vocabulary has no "
                            "padding token and the model has no nn.Embedding padding_idx to take "
                            "it from: pass ", Mention("pad_id", "N"),
                            ", the id the model was padded with")
        out = torch.full((len(rows), width), 0 if pad_id is None else pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        return out, torch.tensor([len(r) for r in rows], dtype=torch.long)

    def frame_tokens(self, tokens: list[str]) -> list[str]:
        """The token strings the model reads: ``tokens`` cut and framed as :meth:`frame`."""
        if self.pad_to is not None:
            tokens = tokens[: self.pad_to - self._extra()]
        return ([self.bos] if self.bos_id is not None else []) + list(tokens) + (
            [self.eos] if self.eos_id is not None else [])

    def describe(self) -> str:
        """What :meth:`frame`, :meth:`inputs` and the call do, for the model card."""
        parts = []
        if self.bos_id is not None:
            parts.append(f"BOS {self.bos!r} (id {self.bos_id})")
        if self.eos_id is not None:
            parts.append(f"EOS {self.eos!r} (id {self.eos_id})")
        if self.pad_to is not None:
            parts.append(f"padded to {self.pad_to} steps")
        if self.one_hot is not None:
            parts.append(f"one-hot inputs of size {self.one_hot} (no nn.Embedding)")
        if self.sort:
            parts.append("rows sorted by length when packed (the forward packs with "
                         "enforce_sorted=True), results in row order")
        if self.batch_arg is not None:
            parts.append(f"{self.batch_arg}= gets the batch size")
        if self.texts == 2:
            parts.append("two texts per row (the table's two text columns)")
        if self.initial_state is not None:
            parts.append("an initial state from model.init_hidden(B)"
                         if self.initial_state == "init_hidden"
                         else "an initial state of zeros")
        if self.teacher_forcing is not None:
            parts.append(f"{self.teacher_forcing}=1.0 (fed the target at every step)")
        return "; ".join(parts)

    def _extra(self) -> int:
        return int(self.bos_id is not None) + int(self.eos_id is not None)


_LOCK = threading.Lock()
_PATCHED: list[tuple[dict[str, Any], str]] = []  # (namespace, name) now bound to _sorting_pack
_DEPTH = [0]  # sorted_packing blocks open, in every thread


def _sorting_pack(*args: Any, **kwargs: Any) -> Any:
    """``pack_padded_sequence`` with ``enforce_sorted=False`` whatever the caller passed."""
    kwargs["enforce_sorted"] = False
    return _ORIGINAL_PACK(*args, **kwargs)


@contextmanager
def sorted_packing(model: nn.Module) -> Iterator[None]:
    """Within the block, ``pack_padded_sequence`` called by ``model``'s forward sorts the rows
    itself (``enforce_sorted=False``) instead of refusing unsorted lengths.

    Replaced are the function of ``torch.nn.utils.rnn`` (reached as ``nn.utils.rnn.…``) and
    the names bound to it in the modules of the model's class and its bases (``from
    torch.nn.utils.rnn import pack_padded_sequence``); all are restored when the last open block
    (of any thread) closes. Forcing ``enforce_sorted=False`` never changes what a call that was
    valid returns, so another thread packing meanwhile gets the same results.
    """
    namespaces: list[dict[str, Any]] = [vars(torch.nn.utils.rnn)]
    for cls in type(model).__mro__:
        module = inspect.getmodule(cls)
        if module is not None:
            namespaces.append(vars(module))
    with _LOCK:
        for ns in namespaces:
            for name, value in list(ns.items()):
                if value is _ORIGINAL_PACK:
                    ns[name] = _sorting_pack
                    _PATCHED.append((ns, name))
        _DEPTH[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH[0] -= 1
            if _DEPTH[0] == 0:
                for ns, name in _PATCHED:
                    ns[name] = _ORIGINAL_PACK
                _PATCHED.clear()


def one_hot_embedding(size: int) -> nn.Embedding:
    """A frozen ``nn.Embedding`` whose row ``i`` is the one-hot vector of ``i`` (``size`` wide)."""
    embedding = nn.Embedding(size, size)
    with torch.no_grad():
        embedding.weight.copy_(torch.eye(size))
    embedding.weight.requires_grad_(False)
    return embedding
