"""``load_model``: turn a checkpoint file (ours, a foreign state_dict, a trusted pickle) into a
:class:`~probe_rnn.models.bundle.ModelBundle`.

Which case applies is decided from the file's content, not its name:

* a probe-rnn checkpoint -> our :class:`RNNClassifier` (or, with a factory, the factory's model);
* a state_dict (bare, or under ``"state_dict"``/``"model_state_dict"``/``"model"``) -> needs
  ``factory``; without one the error says to pass ``--model package.module:factory``;
* a pickled ``nn.Module`` -> only with ``trust_checkpoint=True`` (unpickling runs code).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import nn

from probe_rnn.data.vocab import VOCAB_TOKENIZERS, read_vocab, tokenizer_from_dict
from probe_rnn.errors import CheckpointError, ConfigError, Mention, listed
from probe_rnn.models.adapters import (
    LAYOUTS,
    IdsAdapter,
    IdsLengthsAdapter,
    forward_signature,
    make_adapter,
)
from probe_rnn.models.bundle import ModelBundle
from probe_rnn.models.calling import detect_call, find_embedding
from probe_rnn.models.checkpoint import (
    FORMAT,
    check_format,
    file_sha256,
    is_state_dict,
    load_into,
    read_checkpoint,
)
from probe_rnn.models.classifier import RNNClassifier
from probe_rnn.models.config import ModelConfig
from probe_rnn.models.factory import FactoryResult, absolute_spec, call_factory
from probe_rnn.models.feeding import Feeding
from probe_rnn.models.recurrent import recurrent_modules
from probe_rnn.models.sanity import check_declared_sizes, check_finite
from probe_rnn.plugins import registry
from probe_rnn.validation import (
    Boolean,
    Instance,
    Interval,
    Items,
    Options,
    PathLike,
    check_param,
    validate_params,
)

_TOKEN = [None, Instance(str, "a token (str)", example="<s>")]
_FUNCTION = [None, Instance((str, Callable), "an import path 'package.module:function' (or "
                            "'file.py:function') or a function", example="models:build")]
#: What each argument of :func:`load_model` accepts (:mod:`probe_rnn.validation`).
PARAMETER_CONSTRAINTS: dict[str, Any] = {
    "path": PathLike(), "factory": _FUNCTION, "trust_checkpoint": Boolean(),
    "vocab": [None, PathLike()], "tokenizer": [None, Options(VOCAB_TOKENIZERS)],
    "pad_id": [None, Interval(int, 0, None)], "unk": _TOKEN,
    "layout": Options(("auto", *LAYOUTS)),
    "labels": [None, Items(None, "class names", example="positive", min_items=1)],
    "pad_to": [None, Interval(int, 1, None)], "bos": _TOKEN, "eos": _TOKEN,
    "collate": _FUNCTION, "texts": [None, Options((1, 2))],
}


def load_model(
    path: str | Path, *, factory: str | Callable[[], Any] | None = None, adapter: Any = None,
    trust_checkpoint: bool = False, vocab: str | Path | None = None,
    tokenizer: str | None = None, pad_id: int | None = None, unk: str | None = None,
    layout: str = "auto", labels: list[str] | None = None, pad_to: int | None = None,
    bos: str | None = None, eos: str | None = None, collate: Any = None, texts: int | None = None,
) -> ModelBundle:
    """Load a model for probing.

    Parameters
    ----------
    path : str or Path
        A probe-rnn checkpoint; or, with ``factory``, a state_dict or a probe-rnn checkpoint
        of a foreign model; or, with ``trust_checkpoint``, a pickled ``nn.Module``.
    factory : str or callable, optional
        ``"package.module:function"`` or ``"file.py:function"`` building the architecture (see
        :mod:`probe_rnn.models.factory`). Its tokenizer/labels win over the file's. With a
        trusted pickled module, only the factory's tokenizer/labels/adapter are used.
    adapter : str, type or Adapter, optional
        Default: ``"probe-rnn"`` for our classifier, else the factory's ``"adapter"``, else what
        :func:`~probe_rnn.models.calling.detect_call` finds (``"ids-lengths"`` or ``"ids"``).
    trust_checkpoint : bool
        Allow a full unpickle, which runs code named in the file. Off by default.
    vocab, tokenizer, pad_id, unk : optional
        The model's own vocabulary file and how it was used (:func:`probe_rnn.data.read_vocab`);
        ``vocab`` wins over a factory's or a checkpoint's tokenizer; ``tokenizer`` default ``word``.
    layout : ``"auto"`` (detected), ``"batch"`` or ``"time"``
        Whether a foreign model reads ids ``(batch, time)`` or ``(time, batch)``.
    labels : list of str, optional
        Class names in output order (win over the file's and factory's; default ``"0".."n-1"``).
    pad_to, bos, eos : optional
        Pad rows to ``pad_to`` steps; ``bos``/``eos`` around each text (:func:`feeding_for`).
    collate : str or callable, optional
        ``"file.py:fn"`` or a function ``texts -> forward's arguments`` (replaces the adapter).
    texts : 2 for a pair model or an encoder-decoder fed its target (``--text a,b``), else None.

    Returns
    -------
    ModelBundle
        In eval mode on the CPU; ``checksum`` is the sha256 of the file.
    """
    validate_params(PARAMETER_CONSTRAINTS, locals())
    _check_vocab_parameters(vocab, tokenizer, pad_id, unk)
    path = Path(path)
    obj = read_checkpoint(path, trust_checkpoint)
    built = call_factory(factory) if factory is not None else None
    parts = _parts_from(path, obj, built)
    model = parts["model"].to("cpu").eval()
    found = find_embedding(model, built.embedding if built else None)
    tok = _tokenizer_for(parts["tokenizer"], found, vocab, tokenizer, pad_id, unk)
    feeding = feeding_for(model, tok, found, pad_to, bos, eos)
    chosen, call, outputs, kind = _choose_adapter(model, built, adapter, layout, tok, found,
                                                  feeding, collate, texts)
    names = _label_names(labels, parts["labels"], outputs)
    origin = _origin(path, factory, adapter, trust_checkpoint, vocab, tokenizer, pad_id, unk,
                     layout, labels, pad_to=pad_to, bos=bos, eos=eos, collate=collate, texts=texts)
    return ModelBundle(
        model=model, tokenizer=tok, labels=names, config=parts["config"], meta=parts["meta"],
        adapter=chosen, source=str(path), checksum=file_sha256(path), format=parts["format"],
        embedding=found[0] if found else None, call=call, origin=origin, output_kind=kind)


def _check_vocab_parameters(vocab: Any, tokenizer: Any, pad_id: Any, unk: Any) -> None:
    """Refuse ``tokenizer``/``pad_id``/``unk`` without the ``vocab`` file they describe."""
    if vocab is None and (tokenizer, pad_id, unk) != (None, None, None):
        given = [o for o, v in (("tokenizer", tokenizer), ("pad_id", pad_id), ("unk", unk))
                 if v is not None]
        raise ConfigError(*listed(given), " describe(s) a vocabulary file: pass ",
                          Mention("vocab"), " (the file) too")


def _tokenizer_for(tok: Any, found: Any, vocab: Any, tokenizer: str | None, pad_id: int | None,
                   unk: str | None) -> Any:
    """The file's (or factory's) tokenizer, or the ``vocab`` file's; its ids checked against
    the embedding ``found`` (name, module) when it has a ``pad_id``."""
    if vocab is not None:
        padding = found[1].padding_idx if found else None
        tok = read_vocab(vocab, tokenizer or "word", pad_id, unk, padding)
    if found is not None and tok is not None and hasattr(tok, "pad_id"):
        _check_ids(tok, found)
    return tok


def _parts_from(path: Path, obj: Any, built: FactoryResult | None) -> dict[str, Any]:
    """Model, tokenizer, labels, config, meta and format held by ``obj`` (read from ``path``);
    the model's weights are checked to be finite."""
    if isinstance(obj, nn.Module):
        parts = _from_module(obj, built)
    elif isinstance(obj, Mapping) and "format" in obj and not is_state_dict(obj):
        check_format(path, obj)
        parts = _from_checkpoint(path, obj, built)
    elif _find_state_dict(obj) is not None:
        parts = _from_state_dict(path, _find_state_dict(obj), built)
    else:
        parts = None
    if parts is not None:
        check_finite(parts["model"], repr(str(path)))
        return parts
    raise CheckpointError(
        f"checkpoint {str(path)!r} holds a {type(obj).__name__}, neither a probe-rnn "
        f"checkpoint nor a state_dict: save the model with probe_rnn.save_checkpoint or "
        f"torch.save(model.state_dict(), path)"
    )


def _origin(path: Path, factory: Any, adapter: Any, trust: bool, vocab: Any, tokenizer: Any,
            pad_id: Any, unk: Any, layout: str, labels: Any, **feeding: Any
            ) -> dict[str, Any] | None:
    """How another process loads the same model (absolute paths), or None when the factory or
    the adapter is a Python object rather than a name."""
    if any(not isinstance(v, str | None) for v in (factory, adapter, feeding.get("collate"))):
        return None
    if feeding.get("collate") is not None:
        feeding["collate"] = absolute_spec(feeding["collate"])
    if isinstance(factory, str):
        factory = absolute_spec(factory)
    return {"path": str(path.resolve()), "options": {
        "factory": factory, "adapter": adapter, "trust_checkpoint": trust,
        "vocab": None if vocab is None else str(Path(vocab).resolve()), "tokenizer": tokenizer,
        "pad_id": pad_id, "unk": unk, "layout": layout, "labels": labels, **feeding}}


def _label_names(given: list[str] | None, known: list[str], outputs: int | None) -> list[str]:
    """``labels``, else the file's/factory's labels, else class indices of the outputs."""
    if given is not None:
        if outputs and len(given) != outputs:
            raise ConfigError(Mention("labels"), f" names {len(given)} classes but the model "
                              f"has {outputs} outputs: name one class per output, in order")
        return [str(x) for x in given]
    if known and outputs and len(known) != outputs:
        raise CheckpointError(f"the model has {outputs} outputs but {len(known)} labels "
                              f"({', '.join(known[:4])}): pass ", Mention("labels"),
                              " with one name per output")
    if known:
        return known
    return [str(i) for i in range(outputs or 0)]


def _check_ids(tok: Any, found: tuple[str, nn.Embedding]) -> None:
    """The tokenizer's ids must be rows of the embedding (a wrong vocabulary fails here)."""
    name, emb = found
    what = f"the model's embedding {name!r}"
    if hasattr(tok, "check_embedding"):
        tok.check_embedding(emb.num_embeddings, what)
    elif len(tok) > emb.num_embeddings:
        raise CheckpointError(f"the tokenizer has {len(tok)} tokens but {what} has only "
                              f"{emb.num_embeddings} rows: give the vocabulary the model was "
                              "trained with (", Mention("vocab", "FILE"), ")")


def _choose_adapter(model: nn.Module, built: FactoryResult | None, adapter: Any, layout: str,
                    tok: Any, found: tuple[str, nn.Embedding] | None, feeding: Feeding,
                    collate: Any = None, texts: int | None = None
                    ) -> tuple[Any, str, int | None, str]:
    """The adapter instance, how the call was decided (for the model card), the number of
    logits the probing call returned (None when no probing call was made) and what the model
    returns (:data:`~probe_rnn.models.outputs.OUTPUT_KINDS`; a plugin adapter's and a collate's
    forward is taken to return class logits until its first batch says otherwise)."""
    if collate is not None:
        return (*_collate_adapter(collate, model, tok, adapter, layout, feeding), None)
    spec = adapter or (built.adapter if built is not None else None)
    fed = feeding.describe()
    if spec is None and isinstance(model, RNNClassifier):
        if layout not in ("auto", "batch"):
            raise ConfigError(Mention("layout", "time"), " does not apply to a probe-rnn model: "
                              "it reads (batch, time); leave ", Mention("layout"), " out")
        return (make_adapter("probe-rnn", tok, None, feeding),
                "probe-rnn model: model(ids, lengths)" + (f"; {fed}" if fed else ""),
                model.config.n_labels, "logits")
    cls = registry.get("adapter", spec) if isinstance(spec, str) else spec
    builtin = cls is None or cls in (IdsAdapter, IdsLengthsAdapter)  # a subclass is the user's
    if not builtin:
        return make_adapter(spec, tok, None if layout == "auto" else layout, feeding), (
            f"adapter {getattr(cls, '__name__', type(cls).__name__)} (given)"), None, "logits"
    passes = None if cls is None else cls.passes_lengths
    vocab_size = found[1].num_embeddings if found else (len(tok) if tok is not None else 2)
    pad = getattr(tok, "pad_id", None)
    if pad is None:
        pad = found[1].padding_idx if found and found[1].padding_idx is not None else 0
    shape = detect_call(model, vocab_size, pad, layout=layout, lengths=passes, feeding=feeding,
                        texts=texts)
    how = "given" if layout != "auto" and passes is not None else "detected"
    feeding = shape.feeding(feeding)
    fed = feeding.describe()
    return make_adapter(shape.adapter, tok, shape.layout, feeding), (
        f"{forward_signature(model)} as {shape.call}, ids {shape.layout}-major ({how}: "
        f"{shape.evidence})" + (f"; {fed}" if fed else "")), shape.outputs or None, shape.kind


def _collate_adapter(collate: Any, model: nn.Module, tok: Any, adapter: Any, layout: str,
                     feeding: Feeding) -> tuple[Any, str, None]:
    """The adapter of ``collate=`` (which says how the model is called, alone)."""
    from probe_rnn.models.collate import CollateAdapter, load_collate

    clash = [name for name, value in (("adapter", adapter), ("pad_to", feeding.pad_to),
                                      ("bos", feeding.bos), ("eos", feeding.eos))
             if value is not None] + (["layout"] if layout != "auto" else [])
    if clash:
        raise ConfigError(Mention("collate"), " builds the model's batches itself: leave ",
                          *listed(clash), " out")
    fn, spec = ((load_collate(collate), collate) if isinstance(collate, str)
                else (collate, getattr(collate, "__qualname__", repr(collate))))
    if not callable(fn):
        raise ConfigError(Mention("collate"), f" must be a function texts -> batch; got {fn!r}")
    return CollateAdapter(fn, spec, model, tok), (
        f"{forward_signature(model)} as model(*collate(texts)) with collate {spec}; each "
        "row's steps from the PackedSequence its recurrent module receives, else the batch's "
        "lengths or mask, else every step (checked on the first batch)"), None


def feeding_for(model: nn.Module, tok: Any, found: tuple[str, nn.Embedding] | None,
                pad_to: int | None, bos: str | None, eos: str | None) -> Feeding:
    """BOS/EOS ids from the vocabulary, fixed padding, and one-hot inputs when the first
    recurrent module reads vectors as wide as the vocabulary and the model has no embedding."""
    check_param("pad_to", pad_to, PARAMETER_CONSTRAINTS["pad_to"])
    ids: dict[str, int | None] = {}
    for option, token in (("bos", bos), ("eos", eos)):
        ids[option] = None
        if token is None:
            continue
        index = getattr(tok, "index", None)
        if not isinstance(index, Mapping) or token not in index:
            where = ("has no token map" if not isinstance(index, Mapping)
                     else f"has no token {token!r}")
            raise ConfigError(Mention(option, str(token)), " must be a token of the model's "
                              f"vocabulary, which {where}: pass ", Mention("vocab", "FILE"),
                              " holding it, or the token as the file spells it")
        ids[option] = int(index[token])
    if pad_to is not None and pad_to <= (bos is not None) + (eos is not None):
        raise ConfigError(Mention("pad_to", str(pad_to)), " leaves no step for the text beside ",
                          Mention("bos"), "/", Mention("eos"), ": give the length the model was "
                          "trained with")
    one_hot = None
    rnn = next(iter(recurrent_modules(model).values()), None)
    if found is None and tok is not None and rnn is not None and rnn.input_size == len(tok):
        one_hot = len(tok)
    return Feeding(pad_to=pad_to, bos=bos, eos=eos, bos_id=ids["bos"], eos_id=ids["eos"],
                   one_hot=one_hot)


def _find_state_dict(obj: Any) -> Mapping[str, Any] | None:
    if is_state_dict(obj):
        return obj
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state_dict", "model"):
            if is_state_dict(obj.get(key)):
                return obj[key]
    return None


def _tokenizer(raw: Any, where: str) -> Any:
    if raw is None or hasattr(raw, "encode_batch"):
        return raw
    try:
        return tokenizer_from_dict(raw)
    except Exception as exc:
        raise CheckpointError(
            f"the tokenizer in {where} is malformed ({type(exc).__name__}: {exc}); re-save it"
        ) from exc


def _from_checkpoint(
    path: Path, obj: Mapping[str, Any], built: FactoryResult | None
) -> dict[str, Any]:
    where = repr(str(path))
    tokenizer = _tokenizer(obj["tokenizer"], where)
    labels = [str(label) for label in obj["labels"]]
    meta = dict(obj["meta"] or {})
    version = f"{FORMAT} v{obj['format_version']}"
    if built is not None:
        load_into(built.model, obj["state_dict"], where)
        return {
            "model": built.model, "config": None, "meta": meta,
            "tokenizer": _tokenizer(built.tokenizer, built.spec) or tokenizer,
            "labels": built.labels or labels, "format": f"{version} + factory {built.spec}",
        }
    if obj["config"] is None:
        raise CheckpointError(
            f"checkpoint {where} holds a foreign model's weights without an architecture: pass ",
            Mention("factory", "package.module:function"), " that builds it")
    try:
        config = ModelConfig.from_dict(dict(obj["config"]))
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {where} has a malformed config ({exc})") from exc
    if tokenizer is None or len(labels) != config.n_labels:
        raise CheckpointError(
            f"checkpoint {where} is inconsistent (tokenizer missing or {len(labels)} labels for "
            f"{config.n_labels} outputs): re-save it"
        )
    check_declared_sizes(config, obj["state_dict"], where)  # before any allocation
    model = RNNClassifier(config)
    load_into(model, obj["state_dict"], where, native=True)
    return {"model": model, "config": config, "meta": meta, "tokenizer": tokenizer,
            "labels": labels, "format": version}


def _from_state_dict(
    path: Path, state_dict: Mapping[str, Any], built: FactoryResult | None
) -> dict[str, Any]:
    if built is None:
        example = next(iter(state_dict))
        raise CheckpointError(
            f"checkpoint {str(path)!r} is a bare state_dict ({len(state_dict)} tensors, e.g. "
            f"{example!r}), not a probe-rnn checkpoint: pass ",
            Mention("factory", "package.module:function"), " that builds its architecture")
    load_into(built.model, state_dict, repr(str(path)))
    return {
        "model": built.model, "config": None, "meta": {},
        "tokenizer": _tokenizer(built.tokenizer, built.spec),
        "labels": built.labels or [],
        "format": f"state_dict + factory {built.spec}",
    }


def _from_module(module: nn.Module, built: FactoryResult | None) -> dict[str, Any]:
    tokenizer = built.tokenizer if built else getattr(module, "tokenizer", None)
    labels = (built.labels if built else None) or getattr(module, "labels", None)
    return {
        "model": module,
        "config": module.config if isinstance(module, RNNClassifier) else None,
        "meta": {},
        "tokenizer": _tokenizer(tokenizer, "the pickled module"),
        "labels": [str(x) for x in labels] if labels else [],
        "format": f"pickled module {type(module).__name__} (trusted)",
    }
