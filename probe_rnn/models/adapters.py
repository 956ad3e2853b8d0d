"""Adapters: how texts become a model's inputs and how the model is called.

An adapter is what lets probe-rnn drive *any* model that contains recurrent modules. It is a
class registered with :func:`probe_rnn.plugins.register_adapter`, constructed with the bundle's
tokenizer (``AdapterClass(tokenizer)``, the tokenizer may be None for adapters that bring their
own), and it provides three methods:

``encode(texts) -> dict[str, Tensor]``
    The model's inputs for a batch of texts; always contains ``"lengths"`` ``(batch,)``.
``forward(model, batch) -> Tensor``
    Logits ``(batch, n_labels)``.
``tokens(text) -> list[str]``
    The token strings the model sees; as many as the row's length.

Built-ins:

``probe-rnn``
    Our :class:`~probe_rnn.models.classifier.RNNClassifier`: ``model(ids, lengths)``.
``ids-lengths``
    A foreign model whose forward is ``model(ids, lengths)`` (ids right-padded with pad id 0).
``ids``
    A foreign model whose forward is ``model(ids)``; it sees the padding, ``lengths`` is only
    used by probe-rnn to know which steps are real.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from probe_rnn.errors import ConfigError, DataError
from probe_rnn.plugins import register_adapter, registry

if TYPE_CHECKING:
    from probe_rnn.data import Tokenizer

__all__ = [
    "Adapter",
    "TokenizerAdapter",
    "ProbeRnnAdapter",
    "IdsLengthsAdapter",
    "IdsAdapter",
    "make_adapter",
    "iter_batches",
]


@runtime_checkable
class Adapter(Protocol):
    """What probe-rnn needs to feed a model: encode texts, call the model, name the tokens."""

    def encode(self, texts: list[str]) -> dict[str, Tensor]:
        """Model inputs for ``texts``; must contain ``"lengths"`` ``(batch,)``."""
        ...

    def forward(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        """Logits ``(batch, n_labels)``."""
        ...

    def tokens(self, text: str) -> list[str]:
        """Token strings of ``text``, one per step the model reads."""
        ...


def _model_device(model: nn.Module) -> torch.device:
    for param in model.parameters():
        return param.device
    return torch.device("cpu")


class TokenizerAdapter:
    """Base for adapters that encode with a probe-rnn :class:`~probe_rnn.data.Tokenizer`.

    Parameters
    ----------
    tokenizer : Tokenizer or None
        The bundle's tokenizer; encoding without one raises ConfigError.
    """

    name = "tokenizer"

    def __init__(self, tokenizer: Tokenizer | None) -> None:
        self.tokenizer = tokenizer

    def _require_tokenizer(self) -> Tokenizer:
        if self.tokenizer is None:
            raise ConfigError(
                f"adapter {self.name!r} needs a tokenizer but the model has none: return "
                f'{{"model": ..., "tokenizer": Tokenizer(...)}} from the factory'
            )
        return self.tokenizer

    def encode(self, texts: list[str]) -> dict[str, Tensor]:
        """``{"ids": LongTensor (batch, time), "lengths": LongTensor (batch,)}``."""
        if len(texts) == 0:
            raise DataError("cannot encode an empty list of texts: pass at least one text")
        ids, lengths = self._require_tokenizer().encode_batch(list(texts))
        return {"ids": ids, "lengths": lengths}

    def tokens(self, text: str) -> list[str]:
        """The tokenizer's tokens of ``text`` (unknown tokens keep their own spelling)."""
        return self._require_tokenizer().tokenize(text)

    def forward(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        """Call ``model(ids, lengths)``; subclasses change the call."""
        device = _model_device(model)
        return model(batch["ids"].to(device), batch["lengths"].to(device))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tokenizer={self.tokenizer!r})"


@register_adapter("probe-rnn")
class ProbeRnnAdapter(TokenizerAdapter):
    """Built-in adapter of :class:`~probe_rnn.models.classifier.RNNClassifier`."""

    name = "probe-rnn"


@register_adapter("ids-lengths")
class IdsLengthsAdapter(TokenizerAdapter):
    """Foreign model called as ``model(ids, lengths)``; ids right-padded with 0."""

    name = "ids-lengths"


@register_adapter("ids")
class IdsAdapter(TokenizerAdapter):
    """Foreign model called as ``model(ids)``; it reads the padding of short rows."""

    name = "ids"

    def forward(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        """Call ``model(ids)``."""
        return model(batch["ids"].to(_model_device(model)))


def make_adapter(spec: Any, tokenizer: Tokenizer | None) -> Adapter:
    """Turn an adapter name, class or instance into an adapter instance.

    Parameters
    ----------
    spec : str, type or Adapter
        A registered name (``"probe-rnn"``, ``"ids-lengths"``, ``"ids"`` or a plugin's), a class
        constructed as ``cls(tokenizer)``, or an instance returned unchanged.
    tokenizer : Tokenizer or None
        Passed to the constructor.
    """
    if isinstance(spec, str):
        spec = registry.get("adapter", spec)
    if isinstance(spec, type):
        spec = spec(tokenizer)
    missing = [m for m in ("encode", "forward", "tokens") if not callable(getattr(spec, m, None))]
    if missing:
        raise ConfigError(
            f"adapter {spec!r} lacks method(s) {', '.join(missing)}: an adapter needs encode, "
            f"forward and tokens"
        )
    return spec


def iter_batches(
    texts: Sequence[str], adapter: Adapter, batch_size: int = 256
) -> Iterator[dict[str, Tensor]]:
    """Encode ``texts`` in consecutive batches of ``batch_size``, preserving row order.

    Yields
    ------
    batch : dict[str, Tensor]
        ``adapter.encode(texts[i:i + batch_size])`` for ``i = 0, batch_size, ...``; each batch
        is padded to its own longest row.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be an integer >= 1; received {batch_size!r}")
    texts = list(texts)
    for start in range(0, len(texts), batch_size):
        yield adapter.encode(texts[start : start + batch_size])
