"""``load_model``: turn a checkpoint file (ours, a foreign state_dict, a trusted pickle) into a
:class:`~probe_rnn.models.bundle.ModelBundle`.

Which case applies is decided from the file's content, not its name:

* a probe-rnn checkpoint -> our :class:`RNNClassifier` (or, with a factory, the factory's model);
* a state_dict (bare, or under ``"state_dict"``/``"model_state_dict"``/``"model"``) -> needs
  ``factory``; without one the error says to pass ``--model package.module:factory``;
* a pickled ``nn.Module`` -> only with ``trust_checkpoint=True`` (unpickling runs code).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import nn

from probe_rnn.data import Tokenizer
from probe_rnn.errors import CheckpointError, ConfigError
from probe_rnn.models.adapters import make_adapter
from probe_rnn.models.bundle import ModelBundle
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
from probe_rnn.models.factory import FactoryResult, call_factory

__all__ = ["load_model"]


def load_model(
    path: str | Path,
    *,
    factory: str | Callable[[], Any] | None = None,
    adapter: Any = None,
    trust_checkpoint: bool = False,
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
        Default: ``"probe-rnn"`` for our classifier, else the factory's ``"adapter"``, else
        ``"ids"`` when the model's forward takes one required argument, else ``"ids-lengths"``.
    trust_checkpoint : bool
        Allow a full unpickle, which runs code named in the file. Off by default.

    Returns
    -------
    ModelBundle
        In eval mode on the CPU; ``checksum`` is the sha256 of the file.
    """
    path = Path(path)
    obj = read_checkpoint(path, trust_checkpoint)
    built = call_factory(factory) if factory is not None else None
    if isinstance(obj, nn.Module):
        parts = _from_module(obj, built)
    elif isinstance(obj, Mapping) and "format" in obj and not is_state_dict(obj):
        check_format(path, obj)
        parts = _from_checkpoint(path, obj, built)
    elif _find_state_dict(obj) is not None:
        parts = _from_state_dict(path, _find_state_dict(obj), built)
    else:
        raise CheckpointError(
            f"checkpoint {str(path)!r} holds a {type(obj).__name__}, neither a probe-rnn "
            f"checkpoint nor a state_dict: save the model with probe_rnn.save_checkpoint or "
            f"torch.save(model.state_dict(), path)"
        )
    model = parts["model"].to("cpu").eval()
    chosen = adapter or _default_adapter(model, built)
    return ModelBundle(
        model=model,
        tokenizer=parts["tokenizer"],
        labels=parts["labels"],
        config=parts["config"],
        meta=parts["meta"],
        adapter=make_adapter(chosen, parts["tokenizer"]),
        source=str(path),
        checksum=file_sha256(path),
        format=parts["format"],
    )


def _find_state_dict(obj: Any) -> Mapping[str, Any] | None:
    if is_state_dict(obj):
        return obj
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state_dict", "model"):
            if is_state_dict(obj.get(key)):
                return obj[key]
    return None


def _tokenizer(raw: Any, where: str) -> Tokenizer | None:
    if raw is None or hasattr(raw, "encode_batch"):
        return raw
    try:
        return Tokenizer.from_dict(raw)
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
            f"checkpoint {where} holds a foreign model's weights without an architecture: pass "
            f"--model package.module:factory that builds it"
        )
    try:
        config = ModelConfig.from_dict(dict(obj["config"]))
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {where} has a malformed config ({exc})") from exc
    if tokenizer is None or len(labels) != config.n_labels:
        raise CheckpointError(
            f"checkpoint {where} is inconsistent (tokenizer missing or {len(labels)} labels for "
            f"{config.n_labels} outputs): re-save it"
        )
    model = RNNClassifier(config)
    load_into(model, obj["state_dict"], where)
    return {"model": model, "config": config, "meta": meta, "tokenizer": tokenizer,
            "labels": labels, "format": version}


def _from_state_dict(
    path: Path, state_dict: Mapping[str, Any], built: FactoryResult | None
) -> dict[str, Any]:
    if built is None:
        example = next(iter(state_dict))
        raise CheckpointError(
            f"checkpoint {str(path)!r} is a bare state_dict ({len(state_dict)} tensors, e.g. "
            f"{example!r}), not a probe-rnn checkpoint: pass --model package.module:factory "
            f"that builds its architecture"
        )
    load_into(built.model, state_dict, repr(str(path)))
    return {
        "model": built.model, "config": None, "meta": {},
        "tokenizer": _tokenizer(built.tokenizer, built.spec),
        "labels": built.labels or _guess_labels(built.model),
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
        "labels": [str(x) for x in labels] if labels else _guess_labels(module),
        "format": f"pickled module {type(module).__name__} (trusted)",
    }


def _guess_labels(model: nn.Module) -> list[str]:
    """Class indices ``"0".."n-1"`` from the last ``nn.Linear``'s outputs (or [])."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return [str(i) for i in range(linears[-1].out_features)] if linears else []


def _default_adapter(model: nn.Module, built: FactoryResult | None) -> Any:
    if built is not None and built.adapter is not None:
        return built.adapter
    if isinstance(model, RNNClassifier):
        return "probe-rnn"
    try:
        params = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return "ids-lengths"
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in params if p.default is p.empty and p.kind in positional]
    return "ids" if len(required) == 1 else "ids-lengths"
