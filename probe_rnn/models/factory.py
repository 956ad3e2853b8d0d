"""Foreign-model factories: ``--model package.module:function`` or ``--model file.py:function``.

A factory is a function taking no arguments that builds the architecture a state_dict fills.
It returns either an ``nn.Module`` or a dict::

    {"model": nn.Module, "tokenizer": Tokenizer | None, "labels": [...], "adapter": "ids",
     "embedding": "encoder.tok_emb"}

(every key but ``"model"`` optional; ``"embedding"`` names the token embedding when the model
has several). Importing the factory runs its module's code: that is the user's explicit choice,
unlike unpickling a checkpoint. A factory file's folder is put on ``sys.path`` first, so it
imports the modules beside it (``from mymodel import Classifier``); a ``package.module`` spec is
looked up from the current folder too, as ``python -m`` would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from probe_rnn.errors import CheckpointError, ConfigError, InputFileError, Mention
from probe_rnn.usercode import (
    UserImportError,
    did,
    exits_contained,
    import_object,
    names_file,
)

_ALLOWED_KEYS = {"model", "tokenizer", "labels", "adapter", "embedding"}


@dataclass
class FactoryResult:
    """What a factory built: the model and, when it said so, tokenizer, labels and adapter."""

    model: nn.Module
    tokenizer: Any = None
    labels: list[str] | None = None
    adapter: Any = None
    embedding: str | None = None
    spec: str = ""


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):  # sys.exit() or os._exit() in the user's code
        return did(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def absolute_spec(spec: str) -> str:
    """``spec`` with a file factory's path made absolute (for another process)."""
    module_name, _, attr = spec.rpartition(":")
    return f"{Path(module_name).resolve()}:{attr}" if names_file(module_name) else spec


def resolve_factory(spec: str, parameter: str = "factory") -> Callable[[], Any]:
    """Import the function named by ``"package.module:function"`` or ``"file.py:function"``
    (:func:`probe_rnn.usercode.import_object`; a file's folder goes first on ``sys.path``, a
    module is looked up from the current folder too). Errors name it as ``parameter`` (the
    ``collate`` function is imported the same way)."""
    module_name, _, attr = spec.rpartition(":") if isinstance(spec, str) else ("", "", "")
    if not module_name or not attr.isidentifier():
        raise ConfigError(
            f"{parameter} must look like package.module:function or path/file.py:function; "
            f"got {spec!r}"
        )
    shown = str(Path(module_name))
    try:
        func = import_object(spec, prefix="probe_rnn_factory", on_path=True)
    except FileNotFoundError:
        raise InputFileError(f"{parameter} file {shown!r} does not exist: check the path in ",
                             Mention(parameter)) from None
    except UserImportError as exc:
        if names_file(module_name):
            raise ConfigError(f"cannot import {parameter} file {shown!r} "
                              f"({_first_line(exc.cause)}): fix the file") from exc
        raise ConfigError(
            f"cannot import {parameter} module {module_name!r} ({_first_line(exc.cause)}): "
            "install "
            f"it or put it on PYTHONPATH, or pass path/file.py:{attr}"
        ) from exc
    except ImportError:
        raise ConfigError(f"cannot import {parameter} file {shown!r}: it is not a Python "
                          "module") from None
    except AttributeError:
        func = None
    if func is None:
        raise ConfigError(f"{parameter} module {module_name!r} has no attribute {attr!r}: name a "
                          f"function of it that returns the model, e.g. {module_name}:build")
    if not callable(func):
        raise ConfigError(f"{parameter} {spec!r} is a {type(func).__name__}, not a function")
    return func


def call_factory(spec: str | Callable[[], Any]) -> FactoryResult:
    """Resolve (if a string) and call a factory; validate what it returned."""
    name = spec if isinstance(spec, str) else getattr(spec, "__qualname__", repr(spec))
    func = resolve_factory(spec) if isinstance(spec, str) else spec
    try:
        with exits_contained():
            built = func()
    except (Exception, SystemExit) as exc:
        raise CheckpointError(f"factory {name} failed ({_first_line(exc)}): fix it so that it "
                              "returns the model") from exc
    if isinstance(built, nn.Module):
        return FactoryResult(model=built, spec=name)
    if isinstance(built, dict) and isinstance(built.get("model"), nn.Module):
        unknown = sorted(set(built) - _ALLOWED_KEYS)
        if unknown:
            raise ConfigError(
                f"factory {name} returned unknown keys {', '.join(unknown)}; allowed: "
                f"{', '.join(sorted(_ALLOWED_KEYS))}"
            )
        labels = built.get("labels")
        if labels is not None:
            labels = [str(label) for label in labels]
        return FactoryResult(
            model=built["model"],
            tokenizer=built.get("tokenizer"),
            labels=labels,
            adapter=built.get("adapter"),
            embedding=built.get("embedding"),
            spec=name,
        )
    raise ConfigError(
        f"factory {name} returned a {type(built).__name__}; it must return an nn.Module or a "
        f'dict {{"model": nn.Module, "tokenizer": ..., "labels": [...]}}'
    )
