"""How a foreign model wants to be called, found from the model itself.

Three questions decide the call: what does ``forward`` take beside the ids (the lengths, a
batch size, nothing), does it read ids ``(batch, time)`` or ``(time, batch)``, and must the rows
of a batch be sorted by length? :func:`detect_call` answers them without adapter code:

1. **the signature** gives the candidates, tried in this order: ``forward(ids)`` -> ids alone;
   ``forward(ids, lengths)`` (any names, no default) -> ids and lengths; a second parameter
   with a default -> ids alone first, then, when its name speaks of a batch size
   (``batch_size``, ``bsz``), ``batch_size=`` the number of rows (the ``init_hidden(batch_size)``
   pattern, whose ``h_0`` is otherwise sized by a stored ``self.batch_size``), else the
   lengths; ``*args`` -> lengths, then ids alone;
2. **one probing call** per candidate, on a batch of 3 rows by 5 steps (so batch and time cannot
   be confused) whose lengths ``(3, 5, 2)`` are *not* sorted: a candidate is right when the call
   succeeds, the recurrent module sees 3 sequences and the model returns 3 rows of logits. A
   call that fails because ``pack_padded_sequence`` wants sorted lengths (the forward packs
   without ``enforce_sorted=False``) is tried again with the rows sorted, and then every batch
   is sorted for the call and its results put back in row order.

``layout`` and ``lengths`` given by the user (``--layout``, ``--adapter``) are tried alone. When
no candidate works, the error names the model's forward signature and what each try raised.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from probe_rnn.errors import (
    ConfigError,
    Mention,
    ModelCallError,
    ParameterError,
    Part,
    ProbeRnnError,
    render,
)
from probe_rnn.models.adapters import LAYOUTS, IdsAdapter, IdsLengthsAdapter, forward_signature
from probe_rnn.models.call_errors import explain_call_error
from probe_rnn.models.feeding import Feeding
from probe_rnn.models.recurrent import recurrent_modules
from probe_rnn.validation import shown

_PROBE_LENGTHS = (3, 5, 2)  # batch 3, time 5, not sorted (a packing model may need them sorted)
_BATCH_SIZE_NAME = re.compile(r"batch|bsz", re.IGNORECASE)
_UNSORTED = "must be sorted in decreasing order"


@dataclass(frozen=True)
class CallShape:
    """How the model is called: ``model(ids, lengths)`` or ``model(ids)``, in ``layout``."""

    lengths: bool
    layout: str
    evidence: str = ""
    outputs: int = 0
    batch_arg: str | None = None
    sort: bool = False

    @property
    def adapter(self) -> str:
        """The built-in adapter's name."""
        return "ids-lengths" if self.lengths else "ids"

    @property
    def call(self) -> str:
        """``"model(ids, lengths)"``, ``"model(ids)"`` or ``"model(ids, batch_size=B)"``."""
        if self.batch_arg is not None:
            return f"model(ids, {self.batch_arg}=B)"
        return "model(ids, lengths)" if self.lengths else "model(ids)"


def takes_lengths(model: nn.Module) -> bool | None:
    """From ``forward``'s signature: False for one positional argument, True for two or more,
    None when it cannot tell (``*args``, no signature)."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if len(required) > 2:
        raise ModelCallError(
            f"{forward_signature(model)} needs {len(required)} arguments; probe-rnn passes ids "
            "and, optionally, lengths or a batch size: pass ", Mention("collate", "FILE.py:fn"),
            ", a function from a list of texts to all of the forward's arguments (see the "
            "README's 'Your own model')")
    return len(positional) >= 2


def call_options(model: nn.Module) -> list[tuple[bool, str | None]]:
    """The calls to try, in order, as ``(passes lengths, batch-size parameter)`` (see the
    module docstring)."""
    passes = takes_lengths(model)
    if passes is None:
        return [(True, None), (False, None)]
    if not passes:
        return [(False, None)]
    params = list(inspect.signature(model.forward).parameters.values())
    second = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][1]
    if second.default is second.empty:
        return [(True, None)]
    if _BATCH_SIZE_NAME.search(second.name):
        return [(False, None), (False, second.name)]
    return [(False, None), (True, None)]


def find_embedding(model: nn.Module, name: str | None = None) -> tuple[str, nn.Embedding] | None:
    """The token embedding: the submodule ``name``, else ``embedding``, else the only
    ``nn.Embedding``; None when there is none; an error when several are left to choose."""
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Embedding)]
    if name is not None:
        hit = [(n, m) for n, m in found if n == name]
        if not hit:
            names = ", ".join(n for n, _ in found) or "none"
            raise ConfigError(f"the model has no nn.Embedding named {name!r}; its embeddings: "
                              f"{names}")
        return hit[0]
    for n, m in found:
        if n == "embedding":
            return n, m
    if len(found) > 1:
        names = ", ".join(n for n, _ in found)
        raise ConfigError(f"the model has {len(found)} embeddings ({names}): name the token "
                          'embedding with "embedding": NAME in the factory\'s dict')
    return found[0] if found else None


def _given_options(model: nn.Module, lengths: bool) -> list[tuple[bool, str | None]]:
    """The candidates that pass (or not) the lengths as the user said (``--adapter``)."""
    try:
        found = [option for option in call_options(model) if option[0] == lengths]
    except ModelCallError:
        found = []
    return found or [(lengths, None)]


def _probe_batch(vocab_size: int, pad_id: int) -> dict[str, torch.Tensor]:
    width = max(_PROBE_LENGTHS)
    usable = [i for i in range(min(vocab_size, 64)) if i != pad_id] or [0]
    ids = torch.full((len(_PROBE_LENGTHS), width), pad_id, dtype=torch.long)
    for row, n in enumerate(_PROBE_LENGTHS):
        ids[row, :n] = torch.tensor([usable[(row * 7 + t) % len(usable)] for t in range(n)])
    return {"ids": ids, "lengths": torch.tensor(_PROBE_LENGTHS)}


def _sequences_seen(module: nn.RNNBase, args: tuple) -> int | None:
    x = args[0] if args else None
    if isinstance(x, PackedSequence):
        return int(x.batch_sizes[0])
    if isinstance(x, torch.Tensor):
        if x.dim() == 2:
            return 1
        return int(x.shape[0] if module.batch_first else x.shape[1])
    return None


def _try(model: nn.Module, shape: CallShape, batch: dict[str, torch.Tensor],
         rnn: nn.Module | None, feeding: Feeding,
         known: list[tuple[Part, ...]] | None = None) -> tuple[tuple[Part, ...] | None, int]:
    """(None, logits' width) when ``shape`` calls the model correctly, else (why not, 0);
    a cause :func:`explain_call_error` knows is also appended to ``known``."""
    feeding = feeding.but(batch_arg=shape.batch_arg, sort=shape.sort)
    adapter = (IdsLengthsAdapter if shape.lengths else IdsAdapter)(None, shape.layout, feeding)
    seen: list[int | None] = []
    handle = rnn.register_forward_hook(
        lambda m, a, _o: seen.append(_sequences_seen(m, a))) if rnn is not None else None
    try:
        with torch.no_grad():
            logits = adapter.forward(model, batch)
    except ProbeRnnError as exc:  # the adapter's ModelCallError: report what the model raised
        cause = exc.__cause__ or exc
        raw = f"{type(cause).__name__}: {' '.join(str(cause).split())[:300]}"
        explained = None if _UNSORTED in raw else explain_call_error(model, cause)
        if explained is None:
            return (raw,), 0  # an unsorted-packing failure stays raw: detect_call retries it
        if known is not None:
            known.append(explained)
        return explained, 0
    finally:
        if handle is not None:
            handle.remove()
    rows = len(batch["lengths"])
    if seen and seen[0] != rows:
        return (f"its {type(rnn).__name__} read {seen[0]} sequences, not {rows}",), 0
    return None, int(logits.shape[1])


def detect_call(model: nn.Module, vocab_size: int, pad_id: int, *, layout: str = "auto",
                lengths: bool | None = None, feeding: Feeding | None = None) -> CallShape:
    """Find how ``model`` is called (see the module docstring).

    Parameters
    ----------
    model : the foreign model, in eval mode.
    vocab_size, pad_id : ids of the probing call are drawn below ``vocab_size``, padded with
        ``pad_id``.
    layout : ``"auto"``, ``"batch"`` or ``"time"``.
    lengths : None to decide from the signature, else whether ``forward`` takes lengths.
    feeding : how ids become inputs (one-hot); its ``sort`` and ``batch_arg`` are decided here.
    """
    if layout not in ("auto", *LAYOUTS):
        raise ParameterError("layout", "auto, batch or time", shown(layout))
    layouts: Sequence[str] = LAYOUTS if layout == "auto" else (layout,)
    options = call_options(model) if lengths is None else _given_options(model, lengths)
    rnn = next(iter(recurrent_modules(model).values()), None)
    batch = _probe_batch(vocab_size, pad_id)
    tried: list[Part] = []
    known: list[tuple[Part, ...]] = []
    attempts = 0
    for passes, batch_arg in options:
        for lay in layouts:
            shape, attempts = CallShape(passes, lay, batch_arg=batch_arg), attempts + 1
            why, outputs = _try(model, shape, batch, rnn, feeding or Feeding(), known)
            if why is not None and _UNSORTED in render(why):
                shape = CallShape(passes, lay, batch_arg=batch_arg, sort=True)
                why, outputs = _try(model, shape, batch, rnn, feeding or Feeding(), known)
            what = (f"ids {'(3, 5)' if lay == 'batch' else '(5, 3)'} {lay}-major"
                    + (" + lengths (3,)" if passes else "")
                    + (f" + {batch_arg}=3" if batch_arg else "")
                    + (" sorted by length" if shape.sort else ""))
            if why is None:
                return CallShape(passes, lay, f"called with {what}", outputs, batch_arg,
                                 shape.sort)
            tried += ["; "] * bool(tried) + [f"with {what}: ", *why]
    if rnn is None:  # no flag or collate can help: say why first
        raise ModelCallError(
            f"cannot call {forward_signature(model)}, and {type(model).__name__} has no "
            "nn.LSTM, nn.GRU or nn.RNN, whose states probe-rnn captures (a recurrence written "
            "by hand, such as nn.Linear layers called once per step, is not one): build the "
            "model on one of those modules")
    if len(known) == attempts and len(set(known)) == 1:  # one known cause: say it once
        raise ModelCallError(f"cannot call {forward_signature(model)}: ", *known[0])
    raise ModelCallError(
        f"cannot call {forward_signature(model)}: tried ", *tried, "; pass ",
        Mention("collate", "FILE.py:fn"), ", a function from a list of texts to the forward's "
        "arguments (or ", Mention("layout"), " and ", Mention("adapter"), " when one of these "
        "calls is right but failed on the ids' layout; see the README's 'Your own model')")
