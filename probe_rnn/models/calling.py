"""How a foreign model wants to be called, found from the model itself.

Three questions decide the call: what does ``forward`` take beside the ids (the lengths, a
batch size, nothing), does it read ids ``(batch, time)`` or ``(time, batch)``, and must the rows
of a batch be sorted by length? :func:`detect_call` answers them without adapter code:

1. **the signature** gives the candidates (:mod:`probe_rnn.models.call_options`): ids alone,
   ids and lengths, a batch size, an initial state (a language model's ``forward(input,
   hidden)``), two texts (a pair model's ``forward(a, b)``, an encoder-decoder's
   ``forward(src, trg)``);
2. **one probing call** per candidate, on a batch of 3 rows by 5 steps (so batch and time cannot
   be confused) whose lengths ``(3, 5, 2)`` are *not* sorted (a second text: 3 rows by 4 steps):
   a candidate is right when the call succeeds, the recurrent module sees 3 sequences and what
   the model returns reads as logits, a pair score, per-step logits or an encoder's states
   (:func:`~probe_rnn.models.outputs.read_output`; ``CallShape.kind``). A
   call that fails because ``pack_padded_sequence`` wants sorted lengths (the forward packs
   without ``enforce_sorted=False``) is tried again with the rows sorted, and then every batch
   is sorted for the call and its results put back in row order.

``layout`` and ``lengths`` given by the user (``--layout``, ``--adapter``) are tried alone. When
no candidate works, the error names the model's forward signature and what each try raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

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
from probe_rnn.models.call_options import Candidate, candidates
from probe_rnn.models.feeding import Feeding
from probe_rnn.models.recurrent import recurrent_modules
from probe_rnn.validation import shown

_PROBE_LENGTHS = (3, 5, 2)  # batch 3, time 5, not sorted (a packing model may need them sorted)
_PROBE_LENGTHS_2 = (4, 2, 3)  # the second text of a two-text call: another width
_UNSORTED = "must be sorted in decreasing order"


@dataclass(frozen=True)
class CallShape:
    """How the model is called: ``model(ids, lengths)`` or ``model(ids)``, in ``layout``, with
    one or two texts, an initial state, keywords; ``kind`` is what it returns
    (:data:`~probe_rnn.models.outputs.OUTPUT_KINDS`), ``outputs`` the width of its logits (0
    when it returns none)."""

    lengths: bool
    layout: str
    evidence: str = ""
    outputs: int = 0
    batch_arg: str | None = None
    sort: bool = False
    texts: int = 1
    initial_state: str | None = None
    teacher_forcing: str | None = None
    kind: str = "logits"

    @property
    def adapter(self) -> str:
        """The built-in adapter's name."""
        return "ids-lengths" if self.lengths else "ids"

    @property
    def call(self) -> str:
        """``"model(ids, lengths)"``, ``"model(ids)"``, ``"model(ids, batch_size=B)"``,
        ``"model(a, b)"``, ``"model(ids, model.init_hidden(B))"`` ..."""
        one = "ids, lengths" if self.lengths else "ids"
        if self.texts == 2:
            args = "a, a_lengths, b, b_lengths" if self.lengths else "a, b"
        else:
            args = one
        if self.initial_state is not None:
            args += (", model.init_hidden(B)" if self.initial_state == "init_hidden"
                     else ", zeros")
        if self.batch_arg is not None:
            args += f", {self.batch_arg}=B"
        if self.teacher_forcing is not None:
            args += f", {self.teacher_forcing}=1.0"
        return f"model({args})"

    def feeding(self, feeding: Feeding) -> Feeding:
        """``feeding`` with what this call decided (sorting, keywords, texts, state)."""
        return feeding.but(batch_arg=self.batch_arg, sort=self.sort, texts=self.texts,
                           initial_state=self.initial_state,
                           teacher_forcing=self.teacher_forcing)


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
    encoders = [(n, m) for n, m in found if n.split(".")[0] in ("encoder", "enc")]
    if len(found) > 1 and len(encoders) == 1:  # an encoder-decoder: the source's embedding
        return encoders[0]
    if len(found) > 1:
        names = ", ".join(n for n, _ in found)
        raise ConfigError(f"the model has {len(found)} embeddings ({names}): name the token "
                          'embedding with "embedding": NAME in the factory\'s dict')
    return found[0] if found else None


def _given_options(model: nn.Module, lengths: bool, texts: int | None) -> list[Candidate]:
    """The candidates that pass (or not) the lengths as the user said (``--adapter``)."""
    try:
        found = [c for c in candidates(model, texts) if c.lengths == lengths]
    except ModelCallError:
        found = []
    return found or [Candidate(texts or 1, lengths)]


def _probe_ids(vocab_size: int, pad_id: int, lengths: tuple[int, ...], salt: int
               ) -> torch.Tensor:
    usable = [i for i in range(min(vocab_size, 64)) if i != pad_id] or [0]
    ids = torch.full((len(lengths), max(lengths)), pad_id, dtype=torch.long)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.tensor([usable[(row * 7 + t + salt) % len(usable)]
                                     for t in range(n)])
    return ids


def _probe_batch(vocab_size: int, pad_id: int) -> dict[str, torch.Tensor]:
    """3 rows of 5 steps, lengths not sorted; a second text of 4 steps for two-text calls."""
    return {"ids": _probe_ids(vocab_size, pad_id, _PROBE_LENGTHS, 0),
            "lengths": torch.tensor(_PROBE_LENGTHS),
            "ids_2": _probe_ids(vocab_size, pad_id, _PROBE_LENGTHS_2, 3),
            "lengths_2": torch.tensor(_PROBE_LENGTHS_2)}


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
         known: list[tuple[Part, ...]] | None = None) -> tuple[tuple[Part, ...] | None, str, int]:
    """(None, kind, logits' width) when ``shape`` calls the model correctly, else (why not,
    "", 0); a cause :func:`explain_call_error` knows is also appended to ``known``."""
    adapter = (IdsLengthsAdapter if shape.lengths else IdsAdapter)(None, shape.layout,
                                                                   shape.feeding(feeding))
    seen: list[int | None] = []
    handle = rnn.register_forward_hook(
        lambda m, a, _o: seen.append(_sequences_seen(m, a))) if rnn is not None else None
    try:
        with torch.no_grad():
            out = adapter.run(model, batch)
    except ProbeRnnError as exc:  # the adapter's ModelCallError: report what the model raised
        cause = exc.__cause__ or exc
        raw = f"{type(cause).__name__}: {' '.join(str(cause).split())[:300]}"
        explained = None if _UNSORTED in raw else explain_call_error(model, cause)
        if explained is None:
            return (raw,), "", 0  # an unsorted-packing failure stays raw: detect_call retries
        if known is not None:
            known.append(explained)
        return explained, "", 0
    finally:
        if handle is not None:
            handle.remove()
    rows = len(batch["lengths"])
    if seen and seen[0] != rows:
        return (f"its {type(rnn).__name__} read {seen[0]} sequences, not {rows}",), "", 0
    width = 0 if out.logits is None else int(out.logits.shape[1])
    return None, out.kind, width


def _what(shape: CallShape) -> str:
    """The call tried, in words: ``ids (3, 5) batch-major + lengths (3,)``."""
    lay = shape.layout
    what = f"ids {'(3, 5)' if lay == 'batch' else '(5, 3)'} {lay}-major"
    if shape.texts == 2:
        what = f"two texts' {what} and {'(3, 4)' if lay == 'batch' else '(4, 3)'}"
    return (what + (" + lengths (3,)" if shape.lengths else "")
            + (f" + {shape.batch_arg}=3" if shape.batch_arg else "")
            + (" + model.init_hidden(3)" if shape.initial_state == "init_hidden" else "")
            + (" + zeros as the initial state" if shape.initial_state == "zeros" else "")
            + (f" + {shape.teacher_forcing}=1.0" if shape.teacher_forcing else "")
            + (" sorted by length" if shape.sort else ""))


def detect_call(model: nn.Module, vocab_size: int, pad_id: int, *, layout: str = "auto",
                lengths: bool | None = None, feeding: Feeding | None = None,
                texts: int | None = None) -> CallShape:
    """Find how ``model`` is called (see the module docstring).

    Parameters
    ----------
    model : the foreign model, in eval mode.
    vocab_size, pad_id : ids of the probing call are drawn below ``vocab_size``, padded with
        ``pad_id``.
    layout : ``"auto"``, ``"batch"`` or ``"time"``.
    lengths : None to decide from the signature, else whether ``forward`` takes lengths.
    feeding : how ids become inputs (one-hot); its ``sort`` and ``batch_arg`` are decided here.
    texts : 1 or 2 texts per row (a pair model, an encoder-decoder fed its target); None tries
        one-text calls, then two-text calls.
    """
    if layout not in ("auto", *LAYOUTS):
        raise ParameterError("layout", "auto, batch or time", shown(layout))
    layouts: Sequence[str] = LAYOUTS if layout == "auto" else (layout,)
    options = (candidates(model, texts) if lengths is None
               else _given_options(model, lengths, texts))
    rnn = next(iter(recurrent_modules(model).values()), None)
    batch = _probe_batch(vocab_size, pad_id)
    tried: list[Part] = []
    known: list[tuple[Part, ...]] = []
    attempts = 0
    for option in options:
        for lay in layouts:
            shape = CallShape(option.lengths, lay, batch_arg=option.batch_arg,
                              texts=option.texts, initial_state=option.initial_state,
                              teacher_forcing=option.teacher_forcing)
            attempts += 1
            why, kind, outputs = _try(model, shape, batch, rnn, feeding or Feeding(), known)
            if why is not None and _UNSORTED in render(why):
                shape = replace(shape, sort=True)
                why, kind, outputs = _try(model, shape, batch, rnn, feeding or Feeding(), known)
            if why is None:
                return replace(shape, evidence=f"called with {_what(shape)}", outputs=outputs,
                               kind=kind)
            tried += ["; "] * bool(tried) + [f"with {_what(shape)}: ", *why]
    if rnn is None:  # no flag or collate can help: say why first
        raise ModelCallError(
            f"cannot call {forward_signature(model)}, and {type(model).__name__} has no "
            "nn.LSTM, nn.GRU or nn.RNN, whose states probe-rnn captures (a recurrence written "
            "by hand, such as nn.Linear layers called once per step, is not one): build the "
            "model on one of those modules")
    if len(known) == attempts and len(set(known)) == 1:  # one known cause: say it once
        raise ModelCallError(f"cannot call {forward_signature(model)}: ", *known[0])
    pair = ("; a model that reads two texts per row (a pair model, an encoder-decoder) "
            "reads two text columns: pass ", Mention("text", "a,b")) \
        if texts != 2 and candidates(model, 2) else ()
    raise ModelCallError(
        f"cannot call {forward_signature(model)}: tried ", *tried, *pair, "; pass ",
        Mention("collate", "FILE.py:fn"), ", a function from a list of texts to the forward's "
        "arguments (or ", Mention("layout"), " and ", Mention("adapter"), " when one of these "
        "calls is right but failed on the ids' layout; see the README's 'Your own model')")
