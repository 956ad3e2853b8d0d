"""Adapters: how texts become a model's inputs and how the model is called.

An adapter is what lets probe-rnn drive *any* model that contains recurrent modules. It is a
class registered with :func:`probe_rnn.plugins.register_adapter`, constructed with the bundle's
tokenizer (``AdapterClass(tokenizer)``, the tokenizer may be None for adapters that bring their
own), and it provides three methods:

``encode(texts) -> dict[str, Tensor]``
    The model's inputs for a batch of texts, batch-major; always contains ``"lengths"``
    ``(batch,)``.
``forward(model, batch) -> Tensor``
    Logits ``(batch, n_labels)``.
``tokens(text) -> list[str]``
    The token strings the model sees; as many as the row's length.

Built-ins (``layout`` says whether the model reads ``(batch, time)`` or ``(time, batch)`` ids;
:mod:`probe_rnn.models.calling` detects both from the model itself):

``probe-rnn``
    Our :class:`~probe_rnn.models.classifier.RNNClassifier`: ``model(ids, lengths)``.
``ids-lengths``
    A foreign model whose forward is ``model(ids, lengths)`` (ids right-padded with the pad id).
``ids``
    A foreign model whose forward is ``model(ids)``; it sees the padding, ``lengths`` is only
    used by probe-rnn to know which steps are real.

What a foreign model returns is read as logits: a tuple gives its first element; a single
output ``z`` per row (``(batch,)`` or ``(batch, 1)``, a binary model trained with
``BCEWithLogitsLoss``) becomes the two logits ``(-z/2, z/2)``, whose softmax is
``(1 - sigmoid(z), sigmoid(z))``. A model whose last module is ``nn.Sigmoid`` (``BCELoss``)
or ``nn.Softmax`` returns probabilities: they are turned back into logits first. A call
that fails is a one-line error naming the model's
``forward`` signature and the shapes it was given.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from probe_rnn.errors import (
    ConfigError,
    DataError,
    Mention,
    ModelCallError,
    ParameterError,
    ProbeRnnError,
)
from probe_rnn.models.feeding import Feeding, one_hot_embedding, sorted_packing
from probe_rnn.models.outputs import ModelOutput, classifier_logits, read_output
from probe_rnn.plugins import register_adapter, registry
from probe_rnn.validation import Interval, check_param, shown

if TYPE_CHECKING:
    from probe_rnn.data import Tokenizer

LAYOUTS = ("batch", "time")


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


def forward_signature(model: nn.Module) -> str:
    """``"Classifier.forward(text, text_lengths)"``: how errors name the user's model."""
    try:
        sig = str(inspect.signature(model.forward))
    except (TypeError, ValueError):
        sig = "(...)"
    return f"{type(model).__name__}.forward{sig}"


@contextlib.contextmanager
def last_module(model: nn.Module) -> Iterator[list[nn.Module]]:
    """Within it, the list holds the last leaf module that ran in ``model`` (an ``nn.Sigmoid``
    or ``nn.Softmax`` there means the model returns probabilities)."""
    seen: list[nn.Module] = []

    def note(module: nn.Module, _inputs: Any, _output: Any) -> None:
        seen[:] = [module]

    handles = [m.register_forward_hook(note) for m in model.modules()
               if not any(True for _ in m.children())]
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()


def as_logits(out: Any, batch: int, last: Sequence[nn.Module] = ()) -> Tensor:
    """The model's return value as classifier logits ``(batch, n_labels)`` (see the module
    docstring). ``last``: from :func:`last_module`; a model ending in ``nn.Sigmoid`` (one output
    per row, trained with ``BCELoss``) has its probabilities ``p`` read as the logit
    ``log(p/(1-p))``, one ending in ``nn.Softmax`` as the logits ``log p``. Other kinds of
    return (scores, per-step logits, states) are read by
    :func:`probe_rnn.models.outputs.read_output`."""
    if isinstance(out, tuple | list) and out and isinstance(out[0], Tensor):
        out = out[0]
    if not isinstance(out, Tensor):
        raise TypeError(f"it returned a {type(out).__name__}, not a tensor of logits")
    return classifier_logits(out, batch, last)


class TokenizerAdapter:
    """Base for adapters that encode with a probe-rnn tokenizer and call ``model(ids, ...)``.

    Parameters
    ----------
    tokenizer : Tokenizer, VocabTokenizer or None
        The bundle's tokenizer; encoding without one raises ConfigError.
    layout : "batch" or "time"
        Whether the model reads ids ``(batch, time)`` or ``(time, batch)``.
    feeding : Feeding, optional
        BOS/EOS, fixed-length padding, one-hot inputs, sorted rows, a batch-size argument, an
        initial state, a second text (:mod:`probe_rnn.models.feeding`); default none of them.
    """

    name = "tokenizer"
    passes_lengths = True

    def __init__(self, tokenizer: Tokenizer | None, layout: str = "batch",
                 feeding: Feeding | None = None) -> None:
        if layout not in LAYOUTS:
            raise ParameterError("layout", f"one of {', '.join(LAYOUTS)}", shown(layout))
        self.tokenizer = tokenizer
        self.layout = layout
        self.feeding = feeding or Feeding()
        #: one-hot inputs come from this embedding (attribution hooks it as the model's own)
        self.input_embedding = (None if self.feeding.one_hot is None
                                else one_hot_embedding(self.feeding.one_hot))

    def _require_tokenizer(self) -> Tokenizer:
        if self.tokenizer is None:
            raise ConfigError(
                f"adapter {self.name!r} needs a tokenizer but the model has none: pass ",
                Mention("vocab", "FILE"), " (the vocabulary the model was trained with, with ",
                Mention("tokenizer"), '), or return {"model": ..., "tokenizer": ...} from the ',
                Mention("factory"))
        return self.tokenizer

    def encode(self, texts: list[Any]) -> dict[str, Tensor]:
        """``{"ids": LongTensor (batch, time), "lengths": LongTensor (batch,)}``; for a model
        reading two texts (``feeding.texts == 2``), ``texts`` are pairs ``(a, b)`` and the batch
        also holds ``ids_2`` and ``lengths_2`` of the second texts."""
        if len(texts) == 0:
            raise DataError("cannot encode an empty list of texts: pass at least one text")
        if self.feeding.texts == 2:
            firsts, seconds = split_pairs(texts)
            batch = self._encode_texts(firsts)
            second = self._encode_texts(seconds)
            return {**batch, "ids_2": second["ids"], "lengths_2": second["lengths"]}
        if any(isinstance(t, tuple | list) for t in texts):
            raise DataError("the table has two text columns but the model reads one text: "
                            "name one column with ", Mention("text"), ", or load a model that "
                            "reads two with ", Mention("texts", "2"))
        return self._encode_texts([str(t) for t in texts])

    def _encode_texts(self, texts: list[str]) -> dict[str, Tensor]:
        tokenizer = self._require_tokenizer()
        ids, lengths = tokenizer.encode_batch(list(texts))
        ids, lengths = self.feeding.frame(ids, lengths, getattr(tokenizer, "pad_id", 0))
        return {"ids": ids, "lengths": lengths}

    def tokens(self, text: Any) -> list[str]:
        """The tokenizer's tokens of ``text`` (unknown tokens keep their own spelling), with
        the BOS/EOS the model reads; of the first text of a pair."""
        return self.feeding.frame_tokens(self._require_tokenizer().tokenize(first_text(text)))

    def forward(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        """Class logits ``(batch, n_labels)`` of ``model`` on the batch; a model that returns
        no class logits (an encoder, a pair score, per-step logits) is a
        :class:`~probe_rnn.errors.ModelCallError` saying what it returns instead."""
        out = self.run(model, batch)
        if out.logits is None:
            raise no_prediction(model, out.kind)
        return out.logits

    def run(self, model: nn.Module, batch: dict[str, Tensor]) -> ModelOutput:
        """Call ``model`` on the batch as the feeding says (ids in the model's layout, the
        lengths, the second text, an initial state, a batch size) and read what it returns
        (:func:`~probe_rnn.models.outputs.read_output`)."""
        from probe_rnn.models.arguments import describe_arguments, forward_arguments

        args, kwargs = forward_arguments(self, model, batch)
        rows, steps = int(batch["lengths"].shape[0]), int(batch["ids"].shape[1])
        try:
            with (sorted_packing(model) if self.feeding.sort else contextlib.nullcontext(),
                  last_module(model) as last):
                out = model(*args, **kwargs)
                return read_output(out, rows, steps, texts=self.feeding.texts,
                                   time_major=self.layout == "time", last=last)
        except ProbeRnnError:
            raise
        except Exception as exc:
            raise _call_failed(model, describe_arguments(self, batch), exc) from exc

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(tokenizer={self.tokenizer!r}, layout={self.layout!r}, "
                f"feeding={self.feeding!r})")


def first_text(text: Any) -> str:
    """The text of a row: itself, or the first text of a pair ``(a, b)``."""
    return str(text[0]) if isinstance(text, tuple | list) else str(text)


def split_pairs(texts: Sequence[Any]) -> tuple[list[str], list[str]]:
    """``[(a, b), ...]`` -> ``([a, ...], [b, ...])``; a row that is not a pair is an error."""
    bad = next((i for i, t in enumerate(texts)
                if not (isinstance(t, tuple | list) and len(t) == 2)), None)
    if bad is not None:
        raise DataError(f"row {bad}: the model reads two texts but the row has one: name both "
                        "columns with ", Mention("text", "a,b"))
    return [str(a) for a, _ in texts], [str(b) for _, b in texts]


def no_prediction(model: nn.Module, kind: str) -> ModelCallError:
    """The error of asking a model without class logits for a prediction."""
    from probe_rnn.models.outputs import OUTPUT_WORDS

    return ModelCallError(
        f"{type(model).__name__} is {OUTPUT_WORDS.get(kind, kind)}: it makes no class "
        "prediction, so nothing that needs one (the prediction task, its accuracy, attribution "
        "of a class logit) can be computed; capture and probing of its states need none")


def _call_failed(model: nn.Module, shapes: str, exc: Exception) -> ModelCallError:
    """The one-line error of a failed call: explained where the cause is known
    (:mod:`probe_rnn.models.call_errors`), with the layout/adapter/vocab hint only where
    those can fix it."""
    from probe_rnn.models.call_errors import explain_call_error, hint_helps

    head = f"calling {forward_signature(model)} with {shapes} failed: "
    explained = explain_call_error(model, exc)
    if explained is not None:
        return ModelCallError(head, *explained)
    text = " ".join(str(exc).split()) or type(exc).__name__
    head += f"{type(exc).__name__}: {text[:300]}"
    if not hint_helps(exc):
        return ModelCallError(head)
    return ModelCallError(
        f"{head}; check ", Mention("layout"), " (batch or time), ", Mention("adapter"),
        " (ids-lengths or ids) and ", Mention("vocab"), " (see the README's 'Your own model')")


@register_adapter("probe-rnn")
class ProbeRnnAdapter(TokenizerAdapter):
    """Built-in adapter of :class:`~probe_rnn.models.classifier.RNNClassifier`."""

    name = "probe-rnn"


@register_adapter("ids-lengths")
class IdsLengthsAdapter(TokenizerAdapter):
    """Foreign model called as ``model(ids, lengths)``; ids right-padded with the pad id."""

    name = "ids-lengths"


@register_adapter("ids")
class IdsAdapter(TokenizerAdapter):
    """Foreign model called as ``model(ids)``; it reads the padding of short rows."""

    name = "ids"
    passes_lengths = False


def make_adapter(spec: Any, tokenizer: Tokenizer | None, layout: str | None = None,
                 feeding: Feeding | None = None) -> Adapter:
    """Turn an adapter name, class or instance into an adapter instance.

    Parameters
    ----------
    spec : str, type or Adapter
        A registered name (``"probe-rnn"``, ``"ids-lengths"``, ``"ids"`` or a plugin's), a class
        constructed as ``cls(tokenizer)``, or an instance returned unchanged.
    tokenizer : Tokenizer or None
        Passed to the constructor.
    layout : "batch", "time" or None
        For the built-in adapters: the ids' layout (default batch). A plugin adapter encodes and
        calls its model itself, so a layout for it is an error.
    feeding : Feeding, optional
        For the built-in adapters: BOS/EOS, fixed padding, one-hot, sorting, batch argument.
    """
    if isinstance(spec, str):
        spec = registry.get("adapter", spec)
    if isinstance(spec, type):
        if issubclass(spec, TokenizerAdapter):
            spec = spec(tokenizer, layout or "batch", feeding)
        elif layout not in (None, "batch"):
            raise ConfigError(Mention("layout", str(layout)), " applies to the built-in "
                              f"adapters; adapter {spec.__name__} calls its model itself: leave ",
                              Mention("layout"), " out")
        elif feeding is not None and (feeding.pad_to or feeding.bos or feeding.eos):
            raise ConfigError(Mention("pad_to"), ", ", Mention("bos"), " and ", Mention("eos"),
                              " apply to the built-in adapters; adapter "
                              f"{spec.__name__} encodes texts itself: leave them out")
        else:
            spec = spec(tokenizer)
    missing = [m for m in ("encode", "forward", "tokens") if not callable(getattr(spec, m, None))]
    if missing:
        raise ConfigError(
            f"adapter {spec!r} lacks method(s) {', '.join(missing)}: an adapter needs encode, "
            f"forward and tokens"
        )
    return spec


def model_output(adapter: Any, model: nn.Module, batch: dict[str, Any]) -> ModelOutput:
    """What ``model`` returns on ``batch`` through ``adapter``, read
    (:class:`~probe_rnn.models.outputs.ModelOutput`): the built-in and collate adapters'
    ``run``; a plugin adapter's ``forward`` returns class logits."""
    run = getattr(adapter, "run", None)
    wrapped = "forward" in getattr(adapter, "__dict__", {})  # an instance's own forward
    if callable(run) and not wrapped and _run_is_current(type(adapter)):
        return run(model, batch)
    return ModelOutput("logits", adapter.forward(model, batch))


def _run_is_current(cls: type) -> bool:
    """Whether ``run`` is defined at or below the class that defines ``forward``: a plugin
    subclass that overrides only ``forward`` (a built-in adapter's subclass) is called through
    its own ``forward``."""
    owner = {name: next((c for c in cls.__mro__ if name in c.__dict__), None)
             for name in ("run", "forward")}
    return owner["run"] is not None and owner["forward"] is not None and issubclass(
        owner["run"], owner["forward"])


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
    check_param("batch_size", batch_size, Interval(int, 1, None))
    texts = list(texts)
    for start in range(0, len(texts), batch_size):
        yield adapter.encode(texts[start : start + batch_size])
