"""``--collate FILE.py:fn``: the author's own batching, as their DataLoader built the batches.

The contract (the README's "Your own model" states it too):

``fn(texts: list[str]) -> batch``
    ``batch`` is what the model's ``forward`` was given in training, in the order of ``texts``
    (one row per text, not re-sorted): a tuple or list is passed as ``model(*batch)``, a dict
    as ``model(**batch)``, anything else as ``model(batch)``.

What probe-rnn learns from the batch, without more code:

* **each row's steps**: from the ``PackedSequence`` the model's first recurrent module
  receives (exact); else from a lengths tensor (1-D integers, one per row) or a mask (2-D
  booleans, one row per text) among the batch's items; else every step of the module's input
  (a model that reads its padding);
* **the ids**: the item that reaches the model's ``nn.Embedding`` (either layout). Attribution
  rebuilds a batch from ids and lengths, so it needs every item of the batch to be the ids, the
  lengths, a mask, a value that is not per row, or one equal on every row (an initial state of
  zeros, a tuple ``(h_0, c_0)`` too), which is resized to the new rows.

A forward that packs without ``enforce_sorted=False`` gets its rows sorted by
``pack_padded_sequence`` itself (:func:`~probe_rnn.models.feeding.sorted_packing`). Token strings
(shown in the report and read by token tasks) are the ``--vocab`` entries of the ids the
embedding read; without ids or a vocabulary, the text's tokens (``--vocab``'s tokenizer, else
whitespace words) cut or filled with ``<pad>`` to the row's steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from probe_rnn.errors import ConfigError, Mention, ModelCallError, ProbeRnnError
from probe_rnn.models.adapters import first_text, forward_signature, last_module
from probe_rnn.models.feeding import sorted_packing
from probe_rnn.models.outputs import ModelOutput, read_output
from probe_rnn.models.recurrent import recurrent_modules


class _Reached(Exception):
    """Raised by the hook on the recurrent module: the steps are known, the call can stop."""


def load_collate(spec: str) -> Callable[[list[str]], Any]:
    """Import ``"file.py:fn"`` or ``"package.module:fn"`` (as ``--model`` is imported)."""
    from probe_rnn.models.factory import resolve_factory

    try:
        return resolve_factory(spec, parameter="collate")
    except ProbeRnnError as exc:
        raise ConfigError(*exc.parts) from exc


def _call_args(batch: Any) -> tuple[tuple, dict[str, Any]]:
    if isinstance(batch, Mapping):
        return (), dict(batch)
    if isinstance(batch, tuple | list):
        return tuple(batch), {}
    return (batch,), {}


def _items(args: tuple, kwargs: dict[str, Any]) -> list[tuple[int | str, Any]]:
    return [*enumerate(args), *kwargs.items()]


class CollateAdapter:
    """Adapter calling ``model`` on what the user's collate function returns.

    Parameters
    ----------
    collate : callable ``texts -> batch`` (see the module docstring).
    spec : how it was named (``file.py:fn``), for messages.
    model : the model (its first recurrent module and embedding are looked at).
    tokenizer : optional; its ``tokenize`` gives the token strings.
    """

    name = "collate"

    def __init__(self, collate: Callable[[list[str]], Any], spec: str, model: nn.Module,
                 tokenizer: Any = None) -> None:
        self.collate, self.spec, self.model, self.tokenizer = collate, spec, model, tokenizer
        self.layout = "batch"  # of the ids as the embedding reads them (attribution needs it)
        self.roles: dict[int | str, str] = {}
        self._template: tuple[tuple, dict[str, Any]] | None = None
        self._template_rows = 0
        self._steps: dict[str, Any] = {}  # text -> its ids as read (or its number of steps)
        self._names: dict[int, str] | None = None
        self.texts = 1  # texts per row: 2 when it is given pairs (a, b)

    def encode(self, texts: list[str]) -> dict[str, Any]:
        """The collate's batch, each row's steps and (when found) its ids ``(batch, time)``."""
        pairs = bool(texts) and all(isinstance(t, tuple | list) for t in texts)
        self.texts = 2 if pairs else 1
        texts = [tuple(map(str, t)) if pairs else str(t) for t in texts]
        try:
            args, kwargs = _call_args(self.collate(list(texts)))
        except Exception as exc:
            raise ConfigError(f"collate {self.spec} failed on {len(texts)} texts "
                              f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]}): fix "
                              "the function") from exc
        lengths, ids = self._reach(args, kwargs, len(texts))
        if self._template is None:
            self._template, self._template_rows = (args, kwargs), len(texts)
        batch: dict[str, Any] = {"call": (args, kwargs), "lengths": lengths}
        for row, (text, n) in enumerate(zip(map(first_text, texts), lengths.tolist(),
                                            strict=True)):
            self._steps[text] = n if ids is None else ids[row, :n].numpy().copy()
        if ids is not None:
            batch["ids"] = ids
        return batch

    def forward(self, model: nn.Module, batch: dict[str, Any]) -> Tensor:
        """Class logits of ``model`` on the batch (rebuilt from ``ids``/``lengths`` when it has
        no ``call``, as attribution gives it); a model without them is a ModelCallError."""
        from probe_rnn.models.adapters import no_prediction

        out = self.run(model, batch)
        if out.logits is None:
            raise no_prediction(model, out.kind)
        return out.logits

    def run(self, model: nn.Module, batch: dict[str, Any]) -> ModelOutput:
        """What ``model`` returns on the batch, read
        (:func:`~probe_rnn.models.outputs.read_output`)."""
        args, kwargs = batch["call"] if "call" in batch else self._rebuild(batch)
        rows = int(batch["lengths"].shape[0])
        steps = int(batch["lengths"].max()) if rows else 0
        try:
            with sorted_packing(model), last_module(model) as last:
                return read_output(model(*args, **kwargs), rows, steps, texts=self.texts,
                                   time_major=self.layout == "time", last=last)
        except ProbeRnnError:
            raise
        except Exception as exc:
            raise ModelCallError(
                f"calling {forward_signature(model)} on what collate {self.spec} returned "
                f"({self._shapes(args, kwargs)}) failed: {type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:300]}; make the collate return the forward's "
                "arguments as the training loop passed them") from exc

    def tokens(self, text: str) -> list[str]:
        """Token strings of ``text``, one per step the model reads (see the module doc)."""
        text = first_text(text)
        steps = self._steps.get(text)
        index = getattr(self.tokenizer, "index", None)
        if not isinstance(steps, int) and steps is not None and isinstance(index, Mapping):
            if self._names is None:
                self._names = {int(i): t for t, i in index.items()}
            return [self._names.get(int(i), f"<id {int(i)}>") for i in steps]
        words = (self.tokenizer.tokenize(text) if self.tokenizer is not None
                 else str(text).split())
        if steps is None:
            return list(words)
        n = steps if isinstance(steps, int) else len(steps)
        return (list(words) + ["<pad>"] * n)[:n]

    def _reach(self, args: tuple, kwargs: dict[str, Any], rows: int
               ) -> tuple[Tensor, Tensor | None]:
        """Run the model up to its first recurrent module: each row's steps and the ids."""
        rnn = next(iter(recurrent_modules(self.model).values()), None)
        if rnn is None:
            raise ConfigError(Mention("collate"), " needs a model with an nn.LSTM, nn.GRU or "
                              "nn.RNN")
        seen: dict[str, Any] = {}
        emb = next((m for m in self.model.modules() if isinstance(m, nn.Embedding)), None)

        def stop(module: nn.Module, inputs: tuple) -> None:
            seen["input"] = inputs[0]
            raise _Reached

        handles = [rnn.register_forward_pre_hook(stop)]
        if emb is not None:
            handles.append(emb.register_forward_pre_hook(
                lambda _m, inputs: seen.setdefault("ids", inputs[0])))
        try:
            with torch.no_grad(), sorted_packing(self.model):
                self.model(*args, **kwargs)
        except _Reached:
            pass
        except Exception as exc:
            raise ModelCallError(
                f"calling {forward_signature(self.model)} on what collate {self.spec} returned "
                f"({self._shapes(args, kwargs)}) failed: {type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:300]}") from exc
        finally:
            for handle in handles:
                handle.remove()
        if "input" not in seen:
            raise ModelCallError(f"{forward_signature(self.model)} returned without calling "
                                 f"its {type(rnn).__name__} on collate {self.spec}'s batch")
        x = seen["input"]
        sequences = (int(x.batch_sizes[0]) if isinstance(x, PackedSequence) else
                     int(x.shape[0] if getattr(rnn, "batch_first", False) or x.dim() < 3
                         else x.shape[1]))
        if sequences != rows:
            raise ConfigError(f"collate {self.spec} made a batch of {sequences} sequences from "
                              f"{rows} texts: return one row per text, in order")
        self.roles = _roles(args, kwargs, rows, seen.get("ids"))
        return self._lengths(seen["input"], rnn, args, kwargs, rows), self._ids(args, kwargs,
                                                                                rows)

    def _lengths(self, x: Any, rnn: nn.Module, args: tuple, kwargs: dict[str, Any],
                 rows: int) -> Tensor:
        if isinstance(x, PackedSequence):
            sizes = x.batch_sizes.cpu()
            steps = (sizes[None, :] > torch.arange(int(sizes[0]))[:, None]).sum(1)
            order = x.unsorted_indices
            lengths = steps if order is None else steps[order.cpu()]
        else:
            found = [(key, role) for key, role in self.roles.items()
                     if role in ("lengths", "mask")]
            if found:
                key, role = found[0]
                value = dict(_items(args, kwargs))[key]
                value = value if role == "lengths" else self._row_major(value, rows).sum(1)
                lengths = value.detach().cpu().long()
            else:
                time = x.shape[1] if getattr(rnn, "batch_first", False) else x.shape[0]
                lengths = torch.full((rows,), int(time), dtype=torch.long)
        return lengths

    def _ids(self, args: tuple, kwargs: dict[str, Any], rows: int) -> Tensor | None:
        key = next((k for k, role in self.roles.items() if role == "ids"), None)
        if key is None:
            return None
        value = dict(_items(args, kwargs))[key]
        self.layout = "batch" if value.shape[0] == rows else "time"
        return self._row_major(value, rows).detach().cpu().long()

    def _row_major(self, value: Tensor, rows: int) -> Tensor:
        return value if value.shape[0] == rows else value.t()

    def _rebuild(self, batch: dict[str, Any]) -> tuple[tuple, dict[str, Any]]:
        """The forward's arguments for other rows, from ``ids`` and ``lengths``."""
        if self._template is None:
            raise ConfigError(f"collate {self.spec}: encode a batch before calling the model")
        ids, lengths = batch["ids"], batch["lengths"]
        args, kwargs = list(self._template[0]), dict(self._template[1])
        for key, value in _items(*self._template):
            role = self.roles.get(key, "other")
            if role == "ids":
                new = ids if self.layout == "batch" else ids.t()
            elif role == "lengths":
                new = lengths.to(value.dtype).to(value.device)
            elif role == "mask":
                mask = torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]
                new = mask if value.shape[0] == self._template_rows else mask.t()
            elif _tensors(value):
                new = self._same_for_every_row(key, value, int(ids.shape[0]))
            else:
                continue
            if isinstance(key, int):
                args[key] = new
            else:
                kwargs[key] = new
        return tuple(args), kwargs

    def _same_for_every_row(self, key: int | str, value: Any, rows: int) -> Any:
        """An item equal on every row (an initial state of zeros, ``init_hidden(batch)``),
        resized to ``rows`` along its row dimension; anything else cannot be rebuilt."""
        if isinstance(value, tuple | list):
            return type(value)(self._same_for_every_row(key, v, rows) for v in value)
        if value.dim() == 0:
            return value
        dim = next((d for d in range(value.dim()) if value.shape[d] == self._template_rows
                    and bool((value == value.narrow(d, 0, 1)).all())), None)
        if dim is None:
            raise ConfigError(
                f"collate {self.spec} returns item {key!r} ({tuple(value.shape)}) that is "
                "neither the ids, the lengths, a mask nor the same for every row (such as "
                "an initial state of zeros): attribution cannot rebuild it for other rows; "
                "attribute with an adapter plugin (see probes/README.md)")
        shape = list(value.shape)
        shape[dim] = rows
        return value.narrow(dim, 0, 1).expand(*shape).contiguous()

    @staticmethod
    def _shapes(args: tuple, kwargs: dict[str, Any]) -> str:
        return ", ".join(f"{k}: {tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__}"
                         for k, v in _items(args, kwargs)) or "nothing"

    def __repr__(self) -> str:
        return f"CollateAdapter({self.spec!r})"


def _roles(args: tuple, kwargs: dict[str, Any], rows: int, ids: Any) -> dict[int | str, str]:
    """What each item of the batch is: ``ids`` (what the embedding read), ``lengths``,
    ``mask`` or ``other``."""
    roles: dict[int | str, str] = {}
    for key, value in _items(args, kwargs):
        role = "other"
        if isinstance(value, Tensor):
            integer = not value.is_floating_point() and value.dtype != torch.bool
            if isinstance(ids, Tensor) and _same_storage(value, ids) and value.dim() == 2:
                role = "ids"
            elif integer and value.dim() == 1 and value.shape[0] == rows:
                role = "lengths"
            elif value.dtype == torch.bool and value.dim() == 2 and rows in value.shape:
                role = "mask"
        roles[key] = role
    return roles


def _tensors(value: Any) -> bool:
    """A tensor with dimensions, or a tuple/list of them (an LSTM's ``(h_0, c_0)``)."""
    if isinstance(value, tuple | list):
        return bool(value) and all(_tensors(v) for v in value)
    return isinstance(value, Tensor) and value.dim() > 0


def _same_storage(a: Tensor, b: Tensor) -> bool:
    try:
        return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return a is b
