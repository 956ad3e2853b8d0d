"""Shared helpers of the attribution package: model parts, forward functions, masks, guards.

Attribution works on any model with a token embedding (``nn.Embedding``: the one named, else
``embedding``, else the only one) feeding a recurrent module (``nn.LSTM``/``nn.GRU``/``nn.RNN``,
found as ``rnn`` or as the only recurrent child) and a forward ``f(ids (batch, time), lengths
(batch,)) -> logits (batch, n_labels)``: ids are batch-major here whatever the model reads (the
adapter transposes them for a time-major model, and ``layout`` tells which way the embedding's
output lies, so interpolation always runs along the batch). Everything here
runs under :func:`no_cudnn` (cuDNN's RNN backward refuses eval mode) with the model in ``eval()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from probe_rnn.errors import AttributionError
from probe_rnn.models.recurrent import module_kind, recurrent_modules

Forward = Callable[[Tensor, Tensor], Tensor]


@dataclass
class ModelParts:
    """The pieces attribution needs: the forward, the embedding and the recurrent module."""

    model: nn.Module
    forward: Forward
    embedding: nn.Embedding
    rnn: nn.RNNBase
    pad_id: int
    device: torch.device
    layout: str = "batch"

    def pad_ids(self, ids: Tensor) -> Tensor:
        """The PAD baseline of ``ids`` for this model (:func:`baseline_ids` with its pad id)."""
        return baseline_ids(ids, self.pad_id)


def find_parts(model: nn.Module, forward: Forward | None = None, *,
               embedding: str | None = None, layout: str = "batch",
               pad_id: int | None = None,
               embedding_module: nn.Embedding | None = None) -> ModelParts:
    """Locate embedding and recurrent module of ``model`` and build its forward.

    Parameters
    ----------
    model : the classifier; ``model(ids, lengths)`` must return logits unless ``forward`` is given.
    forward : optional ``f(ids, lengths) -> logits`` (e.g. an adapter's forward bound to model).
    embedding : name of the token embedding submodule (default: ``embedding`` or the only one).
    layout : ``"batch"`` or ``"time"``: how the model lays out its ids (and embeddings).
    pad_id : the padding id (default: the embedding's ``padding_idx``, else 0).
    embedding_module : the embedding to use instead of the model's (an adapter's one-hot
        embedding, for a model fed without one).
    """
    from probe_rnn.models.calling import find_embedding

    found = ("input", embedding_module) if embedding_module is not None else \
        find_embedding(model, embedding)
    if found is None:
        raise AttributionError(
            "attribution needs the model's token embedding (an nn.Embedding submodule); this "
            "model has none"
        )
    embedding_module = found[1]
    rnn = getattr(model, "rnn", None)
    if module_kind(rnn) is None:
        found = list(recurrent_modules(model).values())
        if len(found) != 1:
            raise AttributionError(
                f"attribution needs exactly one nn.LSTM/GRU/RNN (attribute `rnn`); "
                f"found {len(found)}"
            )
        rnn = found[0]
    if pad_id is None:
        pad_id = embedding_module.padding_idx if embedding_module.padding_idx is not None else 0
    device = embedding_module.weight.device
    return ModelParts(model, forward or model, embedding_module, rnn, int(pad_id), device, layout)


@contextlib.contextmanager
def attribution_mode(model: nn.Module) -> Iterator[None]:
    """Run with cuDNN disabled and the model in eval mode (it is never switched to train)."""
    model.eval()
    with torch.backends.cudnn.flags(enabled=False):
        yield


def valid_mask(lengths: Tensor, time: int) -> Tensor:
    """Boolean mask (batch, time): True where the position is a real token (t < length)."""
    return torch.arange(time, device=lengths.device)[None, :] < lengths[:, None]


def gather_target(logits: Tensor, target: Tensor) -> Tensor:
    """The target logit per row: (batch, n_labels), (batch,) -> (batch,)."""
    return logits.gather(1, target.view(-1, 1)).squeeze(1)


def baseline_ids(ids: Tensor, pad_id: int) -> Tensor:
    """The PAD baseline: same shape, every position PAD (lengths stay those of ids)."""
    return torch.full_like(ids, pad_id)


def endpoint_logits(parts: ModelParts, ids: Tensor, lengths: Tensor, target: Tensor
                    ) -> tuple[Tensor, Tensor]:
    """Target values of the input and of its PAD baseline (no grad): the gap attributions
    split. The baseline is the PAD tokens' embedding fed to the model while ``ids`` stay the
    input's, exactly the end of the path token attributions integrate along: a target read from
    the ids themselves (a language model's next tokens) stays the input's."""
    with torch.no_grad():
        f_x = gather_target(parts.forward(ids, lengths), target)
        base = parts.embedding(parts.pad_ids(ids)).detach()
        f_b = gather_target(EmbeddingFed(parts)(base, ids, lengths), target)
    return f_x, f_b


class EmbeddingFed(nn.Module):
    """``fn(ids, *args)`` with the embedding's output replaced by an explicit batch-major
    ``(batch, time, emb)`` input (transposed to ``(time, batch, emb)`` for a time-major model)."""

    def __init__(self, parts: ModelParts, fn: Callable[..., Tensor] | None = None) -> None:
        super().__init__()
        self.model = parts.model  # a child, so DeepLift finds the model's nonlinear modules
        object.__setattr__(self, "parts", parts)
        object.__setattr__(self, "fn", fn or parts.forward)

    def forward(self, emb: Tensor, ids: Tensor, *args: Tensor) -> Tensor:
        fed = emb.transpose(0, 1) if self.parts.layout == "time" else emb
        handle = self.parts.embedding.register_forward_hook(lambda _m, _a, _o: fed)
        try:
            return self.fn(ids, *args)
        finally:
            handle.remove()


def relative_error(error: Tensor, scale: Tensor, floor: float = 1e-6) -> Tensor:
    """|error| / max(|scale|, floor), elementwise."""
    return error.abs() / scale.abs().clamp_min(floor)


def check_inputs(ids: Tensor, lengths: Tensor) -> None:
    """Raise AttributionError unless ids (batch, time) long and lengths (batch,) fit together."""
    if ids.dim() != 2 or ids.dtype != torch.long:
        raise AttributionError(f"ids must be a (batch, time) long tensor; got {tuple(ids.shape)}")
    if lengths.shape != ids.shape[:1]:
        raise AttributionError(
            f"lengths must have shape ({ids.shape[0]},) to match ids; got {tuple(lengths.shape)}"
        )
    if len(lengths) and (int(lengths.min()) < 1 or int(lengths.max()) > ids.shape[1]):
        raise AttributionError(
            f"lengths must lie in 1..{ids.shape[1]} (the padded width); "
            f"got {int(lengths.min())}..{int(lengths.max())}"
        )


def checked_inputs(parts: ModelParts, ids: Tensor, lengths: Tensor, *more: Tensor
                   ) -> tuple[Tensor, ...]:
    """``ids``, ``lengths`` and ``more`` on the model's device, once :func:`check_inputs` has
    found that ids and lengths fit together."""
    check_inputs(ids, lengths)
    return tuple(t.to(parts.device) for t in (ids, lengths, *more))


def chunks(n: int, size: int) -> Iterator[slice]:
    """Slices covering range(n) in pieces of at most ``size``."""
    size = max(1, int(size))
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))
