"""The arguments a built-in adapter passes to ``forward``, as its :class:`Feeding` says.

``forward_arguments`` turns an encoded batch into ``(args, kwargs)``:

* the ids in the model's layout (``(batch, time)`` or ``(time, batch)``), as one-hot vectors
  when the model has no embedding; then the lengths when the forward takes them;
* for a model reading two texts (a pair model, an encoder-decoder fed its target), the same for
  the second text: ``model(a, b)`` or ``model(a, a_lengths, b, b_lengths)``;
* an initial state when the forward takes one (a language model's ``forward(input,
  hidden)``): ``model.init_hidden(batch)`` when the model has that method, else zeros shaped as
  its first recurrent module's ``h_0`` (and ``(h_0, c_0)`` for an LSTM);
* keywords: the batch size (``batch_size=B``) and a teacher-forcing ratio of 1 (an
  encoder-decoder whose forward draws between the target and its own guesses is fed the
  target at every step, so the same rows give the same states).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from probe_rnn.models.recurrent import first_recurrent

#: The name of the method of a model that builds its initial state (``init_hidden(bsz)``).
INIT_METHOD = "init_hidden"


def _device(model: nn.Module) -> torch.device:
    for param in model.parameters():
        return param.device
    return torch.device("cpu")


def _text(adapter: Any, ids: Tensor, lengths: Tensor,
          device: torch.device) -> tuple[Tensor, ...]:
    """One text's ids (moved, in the layout, one-hot if so fed) and, if passed, its lengths."""
    moved = (ids.t() if adapter.layout == "time" else ids).to(device)
    if adapter.input_embedding is not None:
        valid = torch.arange(ids.shape[1])[None, :] < lengths[:, None]
        valid = (valid.t() if adapter.layout == "time" else valid).to(device)
        moved = adapter.input_embedding.to(device)(moved) * valid[..., None]
    return (moved, lengths.to(device)) if adapter.passes_lengths else (moved,)


def initial_state(model: nn.Module, how: str, rows: int) -> Any:
    """The initial state ``how`` says: ``"init_hidden"`` calls the model's method with the
    number of rows; ``"zeros"`` builds zeros for its first recurrent module."""
    if how == INIT_METHOD:
        return getattr(model, INIT_METHOD)(rows)
    found = first_recurrent(model)
    if found is None:
        raise ValueError("the model has no recurrent module to size an initial state for")
    rnn = found[1]
    layers = rnn.num_layers * (2 if rnn.bidirectional else 1)
    out = getattr(rnn, "proj_size", 0) or rnn.hidden_size
    param = next(rnn.parameters())
    h = torch.zeros(layers, rows, out, dtype=param.dtype, device=param.device)
    if isinstance(rnn, nn.LSTM):
        return h, torch.zeros(layers, rows, rnn.hidden_size, dtype=param.dtype,
                              device=param.device)
    return h


def forward_arguments(adapter: Any, model: nn.Module, batch: dict[str, Tensor]
                      ) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``(args, kwargs)`` of the call (see the module docstring)."""
    feed, device = adapter.feeding, _device(model)
    rows = int(batch["lengths"].shape[0])
    args = _text(adapter, batch["ids"], batch["lengths"], device)
    if feed.texts == 2:
        args += _text(adapter, batch["ids_2"], batch["lengths_2"], device)
    if feed.initial_state is not None:
        args += (initial_state(model, feed.initial_state, rows),)
    kwargs: dict[str, Any] = {}
    if feed.batch_arg:
        kwargs[feed.batch_arg] = rows
    if feed.teacher_forcing:
        kwargs[feed.teacher_forcing] = 1.0
    return args, kwargs


def describe_arguments(adapter: Any, batch: dict[str, Tensor]) -> str:
    """The call's arguments in words, for an error: ``ids (3, 5) (batch-major) and lengths
    (3,)``."""
    feed = adapter.feeding
    what = "ids" if feed.one_hot is None else "one-hot inputs"
    ids = batch["ids"]
    shape = tuple(ids.t().shape) if adapter.layout == "time" else tuple(ids.shape)
    words = f"{what} {shape} ({adapter.layout}-major)"
    if adapter.passes_lengths:
        words += f" and lengths {tuple(batch['lengths'].shape)}"
    if feed.texts == 2 and "ids_2" in batch:
        second = batch["ids_2"]
        shape = tuple(second.t().shape) if adapter.layout == "time" else tuple(second.shape)
        words += f", then the second text's {what} {shape}"
        if adapter.passes_lengths:
            words += " and lengths"
    if feed.initial_state is not None:
        words += (" and model.init_hidden(B)" if feed.initial_state == INIT_METHOD
                  else " and an initial state of zeros")
    if feed.batch_arg:
        words += f" and {feed.batch_arg}={int(ids.shape[0])}"
    if feed.teacher_forcing:
        words += f" and {feed.teacher_forcing}=1.0"
    return words
