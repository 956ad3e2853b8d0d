"""Two texts in one forward: which embedding call reads which text, and the forward fed explicit
embeddings of both (a pair model, an encoder-decoder fed its target).

Captum's ``LayerIntegratedGradients`` on an embedding called twice in one forward (a siamese
model's one shared encoder) hands both calls the first call's output (captum issue #794). Here
the model is run with a forward hook on each token embedding that replaces the output of every
call by the slice of an explicit, batch-major embedding of the text that call reads
(:class:`TextsFed`):

* one embedding reads both texts (a shared encoder): its calls read text 1, then text 2;
* two embeddings (an encoder's and a decoder's): the first one called reads text 1, the other
  text 2;
* a call may read a whole text or a run of its steps (a decoder embedding one token per step
  reads steps 0, 1, ... of text 2 in turn): each call takes the next ``s`` steps of its text.

Every call's ids are checked against the ids of the steps it is given, so a model that embeds
anything else (its own guesses, ids it built itself) is refused with a one-line error instead
of being attributed wrongly. Ids are ``(batch, time)`` here whatever the model reads; ``layout``
says how a call's ids lie.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from probe_rnn.errors import AttributionError

#: ``f(ids, lengths, ids_2, lengths_2) -> (batch, n)``: the explained values of a two-text model.
TextsForward = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]


@dataclass
class TextsParts:
    """What attribution of a two-text model needs: its forward, the token embedding(s) and
    which texts each reads (``readers[i]``: the texts, 0 or 1, that ``embeddings[i]`` reads,
    in order), the padding id, the ids' layout."""

    model: nn.Module
    forward: TextsForward
    embeddings: list[tuple[str, nn.Embedding]]
    readers: list[tuple[int, ...]]
    pad_id: int
    device: torch.device
    layout: str = "batch"

    def embed(self, ids: Tensor, text: int) -> Tensor:
        """``(batch, time, emb)``: text ``text``'s ids (batch-major) embedded by the module
        that reads it, detached."""
        index = next(i for i, texts in enumerate(self.readers) if text in texts)
        with torch.no_grad():
            return self.embeddings[index][1](ids).detach()


def embedding_calls(model: nn.Module, run: Callable[[], Any], extra: nn.Module | None = None
                    ) -> list[tuple[str, nn.Embedding]]:
    """The token embeddings ``run()`` calls (``model``'s, and ``extra``: an adapter's one-hot
    embedding), in the order of their first call."""
    named = [(name or type(model).__name__, m) for name, m in model.named_modules()
             if isinstance(m, nn.Embedding)]
    if extra is not None:
        named.append(("input", extra))
    order: list[tuple[str, nn.Embedding]] = []

    def note(name: str, module: nn.Embedding) -> None:
        if all(m is not module for _, m in order):
            order.append((name, module))

    run_hooked(run, [(m, lambda mod, _a, _o, n=n: note(n, mod)) for n, m in named])
    return order


def run_hooked(run: Callable[[], Any], hooks: list[tuple[nn.Module, Callable[..., Any]]]
               ) -> None:
    """``run()`` without gradients, each ``(module, hook)`` a forward hook meanwhile (removed
    also when ``run`` raises)."""
    handles = [module.register_forward_hook(hook) for module, hook in hooks]
    try:
        with torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()


def find_text_parts(model: nn.Module, forward: TextsForward, ids: Tensor, lengths: Tensor,
                    ids_2: Tensor, lengths_2: Tensor, *, layout: str = "batch",
                    pad_id: int | None = None, extra: nn.Module | None = None) -> TextsParts:
    """Run ``forward`` once on the batch and find which embedding reads which text (see the
    module docstring); AttributionError when none, or more than two, are called."""
    called = embedding_calls(model, lambda: forward(ids, lengths, ids_2, lengths_2), extra)
    if not called or len(called) > 2:
        found = ", ".join(n for n, _ in called) or "none"
        raise AttributionError(
            "attribution of a model reading two texts needs one token embedding (nn.Embedding) "
            f"that reads both texts, or one per text; its forward called {found}")
    readers = [(0, 1)] if len(called) == 1 else [(0,), (1,)]
    first = called[0][1]
    if pad_id is None:
        pad_id = first.padding_idx if first.padding_idx is not None else 0
    return TextsParts(model, forward, called, readers, int(pad_id), first.weight.device, layout)


class _Streams:
    """Per embedding, the text it reads now and the next step of it; hands each call its
    slice of the fed embeddings (see the module docstring)."""

    def __init__(self, parts: TextsParts, fed: tuple[Tensor, Tensor], ids: tuple[Tensor, Tensor]
                 ) -> None:
        self.parts, self.fed, self.ids = parts, fed, ids
        self.where = {id(m): [0, 0] for _, m in parts.embeddings}  # reader index, next step
        self.calls = {id(m): 0 for _, m in parts.embeddings}
        self.names = {id(m): (name, texts) for (name, m), texts in
                      zip(parts.embeddings, parts.readers, strict=True)}

    def hook(self, module: nn.Module, inputs: tuple, output: Tensor) -> Tensor:
        name, texts = self.names[id(module)]
        self.calls[id(module)] += 1
        rows = self.fed[0].shape[0]
        read, back = _call_ids(inputs[0], rows, self.parts.layout)
        where = self.where[id(module)]
        while where[0] < len(texts):
            text = texts[where[0]]
            ids = self.ids[text]
            stop = where[1] + read.shape[1]
            if stop <= ids.shape[1] and torch.equal(read, ids[:, where[1]:stop]):
                piece = back(self.fed[text][:, where[1]:stop])
                where[1] = stop
                if piece.shape != output.shape:
                    break
                return piece.to(output.dtype)
            if where[1] == 0:
                break
            where[0], where[1] = where[0] + 1, 0
        raise AttributionError(
            f"call {self.calls[id(module)]} of the embedding {name} read ids of shape "
            f"{tuple(inputs[0].shape)} that are not the next steps of "
            f"{' or '.join(f'text {t + 1}' for t in texts)}: attribution of a model reading two "
            "texts needs every embedding call to read its text's own tokens in order (a decoder "
            "fed its own guesses, or ids made inside forward, cannot be attributed)")


def _call_ids(ids: Tensor, rows: int, layout: str) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """A call's ids as ``(rows, steps)`` and how to lay a ``(rows, steps, emb)`` slice out as
    that call's output."""
    if ids.dim() == 1 and ids.shape[0] == rows:
        return ids[:, None], lambda piece: piece[:, 0]
    if ids.dim() == 2:
        if ids.shape[1] == rows and (layout == "time" or ids.shape[0] != rows):
            return ids.t(), lambda piece: piece.transpose(0, 1)
        if ids.shape[0] == rows:
            return ids, lambda piece: piece
    raise AttributionError(
        f"an embedding call read ids of shape {tuple(ids.shape)}, with no dimension of the "
        f"batch's {rows} rows: attribution of a model reading two texts needs ids (batch, "
        "time), (time, batch) or (batch,)")


class TextsFed(nn.Module):
    """``fn(ids, lengths, ids_2, lengths_2)`` with every embedding call's output replaced by
    its slice of ``emb`` (text 1) or ``emb_2`` (text 2), both ``(batch, time, emb)``."""

    def __init__(self, parts: TextsParts, fn: TextsForward | None = None) -> None:
        super().__init__()
        self.model = parts.model
        object.__setattr__(self, "parts", parts)
        object.__setattr__(self, "fn", fn or parts.forward)

    def forward(self, emb: Tensor, emb_2: Tensor, ids: Tensor, lengths: Tensor, ids_2: Tensor,
                lengths_2: Tensor) -> Tensor:
        streams = _Streams(self.parts, (emb, emb_2), (ids, ids_2))
        handles = [m.register_forward_hook(streams.hook) for _, m in self.parts.embeddings]
        try:
            return self.fn(ids, lengths, ids_2, lengths_2)
        finally:
            for handle in handles:
                handle.remove()
