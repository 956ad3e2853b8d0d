"""Safe checkpoints: writing them, and reading any file without running its code.

The file is a dict::

    {"format": "probe-rnn-checkpoint", "format_version": 1, "config": {...} | None,
     "tokenizer": {...} | None, "labels": [...], "meta": {...}, "state_dict": {...}}

:func:`probe_rnn.models.loading.load_model` also accepts a bare state_dict (with a ``factory``
that builds the architecture) and, only with ``trust_checkpoint=True``, a pickled ``nn.Module``:
unpickling runs whatever code the file names, so :func:`read_checkpoint` refuses it by
default. A file written with the standard library's ``pickle.dump`` (not ``torch.save``) is
recognised by parsing its opcodes with :func:`pickletools.genops`, which runs nothing: it is
refused naming the class it pickles, reported as truncated when it is, and read with
``pickle.load`` only when trusted. Every failure is one line that says which case it met and
what to do.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from probe_rnn.errors import CheckpointError, InputFileError, Mention, UntrustedCheckpointError
from probe_rnn.hashing import file_sha256
from probe_rnn.models.bundle import ModelBundle
from probe_rnn.models.pickles import PickleScan, load_pickle, scan_pickle

FORMAT = "probe-rnn-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("format_version", "config", "tokenizer", "labels", "meta", "state_dict")


def _plain(value: Any, where: str) -> Any:
    """Convert meta values to types ``weights_only`` can load (numpy scalars, Paths...)."""
    if value is None:
        return None
    for kind in (bool, int, float, str):  # also casts subclasses (np.float64, TorchVersion)
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, where) for v in value]
    if callable(getattr(value, "item", None)) and tuple(getattr(value, "shape", (1,))) == ():
        return _plain(value.item(), where)  # numpy scalar or 0-dim tensor
    raise CheckpointError(
        f"checkpoint field {where} holds a {type(value).__name__}; only str, int, float, bool, "
        f"None, lists and dicts can be stored"
    )


def _parts(bundle: ModelBundle | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(bundle, ModelBundle):
        return {
            "model": bundle.model,
            "config": bundle.config,
            "tokenizer": bundle.tokenizer,
            "labels": bundle.labels,
            "meta": bundle.meta,
        }
    if isinstance(bundle, Mapping) and isinstance(bundle.get("model"), nn.Module):
        return dict(bundle)
    raise CheckpointError(
        f"save_checkpoint needs a ModelBundle or a dict with 'model'; got "
        f"{type(bundle).__name__}"
    )


def save_checkpoint(path: str | Path, bundle: ModelBundle | Mapping[str, Any]) -> str:
    """Write a checkpoint atomically and return its sha256.

    Parameters
    ----------
    path : str or Path
        Destination; parent folders are created. The file appears complete or not at all
        (written to a temporary file in the same folder, then renamed).
    bundle : ModelBundle or dict
        A bundle, or parts ``{"model", "config", "tokenizer", "labels", "meta"}``.
    """
    parts = _parts(bundle)
    config = parts.get("config")
    tokenizer = parts.get("tokenizer")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": config.to_dict() if config is not None else None,
        "tokenizer": tokenizer.to_dict() if tokenizer is not None else None,
        "labels": [str(label) for label in parts.get("labels") or []],
        "meta": _plain(dict(parts.get("meta") or {}), "meta"),
        "state_dict": {k: v.detach().cpu() for k, v in parts["model"].state_dict().items()},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return file_sha256(path)


_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def _untrusted(path: Path, message: str) -> UntrustedCheckpointError:
    found = _GLOBAL.search(message)
    what = f"a pickled object ({found.group(1)})" if found else "a pickled object"
    return UntrustedCheckpointError(
        f"checkpoint {str(path)!r} holds {what}, not plain weights; unpickling it runs arbitrary "
        "code from the file, so it was refused: pass ", Mention("trust_checkpoint", "True"),
        " to load it anyway if you trust the file, or re-save its state_dict and use ",
        Mention("factory", "package.module:function"))


def _unreadable(path: Path, exc: BaseException) -> CheckpointError:
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PK"):
        detail = "a zip archive that is truncated or is not a PyTorch file"
    elif head.startswith(b"\x80"):
        detail = "a pickle that is truncated or not a PyTorch checkpoint"
    else:
        detail = f"not a PyTorch file (it starts with {head!r})"
    reason = " ".join(str(exc).split())[:120] or type(exc).__name__
    return CheckpointError(
        f"cannot read checkpoint {str(path)!r}: {detail} ({reason}); re-save or re-train it"
    )


def _untrusted_plain(path: Path, scan: PickleScan) -> UntrustedCheckpointError:
    return UntrustedCheckpointError(
        f"checkpoint {str(path)!r} is a plain Python pickle (pickle.dump, protocol "
        f"{scan.protocol}) of {scan.found}, not a PyTorch checkpoint; unpickling it runs code "
        "from the file, so it was refused: pass ", Mention("trust_checkpoint", "True"),
        " to load it if you trust the file, or save model.state_dict() with torch.save and use ",
        Mention("factory", "package.module:function"))


def _truncated(path: Path, scan: PickleScan) -> CheckpointError:
    what = f" of {scan.found}" if scan.found else ""
    return CheckpointError(
        f"cannot read checkpoint {str(path)!r}: a pickle (protocol {scan.protocol}){what} that "
        f"is truncated: its {scan.end} bytes end before the pickle does; re-save or re-train it"
    )


def _trusted_load(path: Path, plain: bool = False) -> Any:
    try:
        if plain:
            return load_pickle(path, data_only=False)
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except RuntimeError as exc:
            if "magic number" not in str(exc).lower():
                raise
            return load_pickle(path, data_only=False)  # a pickle, but not torch.save's
    except (ModuleNotFoundError, AttributeError, ImportError) as exc:
        raise CheckpointError(
            f"checkpoint {str(path)!r} pickles code that cannot be imported "
            f"({type(exc).__name__}: {exc}); put the module that defines it on PYTHONPATH"
        ) from exc
    except (EOFError, RuntimeError, pickle.UnpicklingError) as exc:
        raise _unreadable(path, exc) from exc


def _read_plain(path: Path, scan: PickleScan, trust_checkpoint: bool) -> Any:
    """A ``pickle.dump`` file: truncated, plain data (no global: loaded, no code can run), or
    code (refused unless trusted)."""
    if scan.kind == "truncated":
        raise _truncated(path, scan)
    if scan.found is None:
        try:
            return load_pickle(path, data_only=True)
        except Exception as exc:  # refuses every global: runs no code; any failure = unreadable
            raise _unreadable(path, exc) from exc
    if not trust_checkpoint:
        raise _untrusted_plain(path, scan)
    return _trusted_load(path, plain=True)


def read_checkpoint(path: str | Path, trust_checkpoint: bool = False) -> Any:
    """Load the raw object in a checkpoint file, safely unless ``trust_checkpoint``.

    Raises
    ------
    InputFileError
        The file does not exist or is a folder.
    CheckpointError
        Empty, truncated or not a PyTorch file.
    UntrustedCheckpointError
        A pickled object that only a full (code-running) unpickle can load, inside a
        ``torch.save`` file or written by plain ``pickle.dump``.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"checkpoint {str(path)!r} does not exist: check the path")
    if not path.is_file():
        raise InputFileError(f"checkpoint {str(path)!r} is a folder, not a file: pass the .pt file")
    if path.stat().st_size == 0:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is empty (0 bytes): it was not written completely; "
            f"re-save or re-train it"
        )
    scan = scan_pickle(path)
    if scan is not None:
        return _read_plain(path, scan, trust_checkpoint)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        message = str(exc)
        if _GLOBAL.search(message) is None:  # "Unsupported global", "unsupported GLOBAL"
            raise _unreadable(path, exc) from exc
        if not trust_checkpoint:
            raise _untrusted(path, message) from exc
    except Exception as exc:  # the weights-only unpickler runs no code; any failure = unreadable
        raise _unreadable(path, exc) from exc
    return _trusted_load(path)


def is_state_dict(obj: Any) -> bool:
    """True for a non-empty mapping of str -> Tensor (what ``module.state_dict()`` returns)."""
    return (
        isinstance(obj, Mapping)
        and len(obj) > 0
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def check_format(path: Path, obj: Mapping[str, Any]) -> None:
    """Raise CheckpointError unless ``obj`` is a probe-rnn checkpoint this version reads."""
    if obj.get("format") != FORMAT:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has format {obj.get('format')!r}, expected {FORMAT!r}: "
            f"it was written by another tool"
        )
    version = obj.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has an invalid format_version {version!r}: the file is "
            f"damaged; re-save it"
        )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has format_version {version}, newer than this probe-rnn "
            f"reads ({FORMAT_VERSION}): upgrade probe-rnn"
        )
    missing = [key for key in REQUIRED_KEYS if key not in obj]
    if missing:
        raise CheckpointError(
            f"checkpoint {str(path)!r} lacks {', '.join(missing)}: the file is damaged; re-save it"
        )
    if not isinstance(obj["state_dict"], Mapping) or not isinstance(obj["labels"], list):
        raise CheckpointError(
            f"checkpoint {str(path)!r} has a malformed state_dict or labels: re-save it"
        )


def load_into(model: nn.Module, state_dict: Mapping[str, Any], what: str,
              native: bool = False) -> None:
    """``model.load_state_dict(state_dict, strict=True)`` with one-line mismatch reports.

    ``native``: the model was built from the checkpoint's own config (no factory), so a
    mismatch means the file was edited or damaged, not that a factory differs.
    """
    def fix(kind: str) -> tuple[str | Mention, ...]:
        if native:
            return ("the file's weights and its own config disagree (edited or damaged): "
                    "re-train or re-save it",)
        return "check that the ", Mention("factory"), f" builds the same {kind}"

    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        raise CheckpointError(
            f"the weights in {what} do not fit the model: missing keys {_few(missing)}; "
            f"unexpected keys {_few(unexpected)}; ", *fix("architecture"))
    shapes = [
        f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}"
        for k, v in state_dict.items()
        if isinstance(v, torch.Tensor) and tuple(v.shape) != tuple(own[k].shape)
    ]
    if shapes:
        raise CheckpointError(
            f"the weights in {what} do not fit the model: shape (file vs model) {_few(shapes)}; ",
            *fix("sizes"))
    try:
        model.load_state_dict(state_dict, strict=True)
    except (RuntimeError, TypeError) as exc:
        raise CheckpointError(
            f"the weights in {what} do not fit the model ({' '.join(str(exc).split())[:200]})"
        ) from exc


def _few(items: list[str], n: int = 4) -> str:
    if not items:
        return "none"
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more
