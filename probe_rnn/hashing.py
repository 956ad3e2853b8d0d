"""Hashing, one place: every digest probe-rnn computes is made here.

- :func:`data_checksum`: a table's texts and labels (a store's and a run's data checksum);
- :func:`file_sha256`: a file's bytes (a checkpoint, a state array, a plugin's code);
- :func:`bytes_sha256`, :func:`text_sha256`: bytes, a string's UTF-8 bytes;
- :func:`json_sha256`: a JSON-able value written with sorted keys (journal keys, fingerprints);
- :func:`rows_sha256`: row indices as int64 (which rows a cell reads);
- :func:`seed_from_text`: a 64-bit integer from a string (a seed salt);
- :func:`short_id`: a short sha1 id of a string (names of modules imported from a file);
- :func:`sha256`: an incremental sha256 for what is hashed piece by piece.

Journal keys and run fingerprints are compared across versions, so each function keeps
the exact bytes and digest its callers always used.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: Bytes read at a time when hashing a file.
_CHUNK = 8 << 20


def sha256(data: bytes = b"") -> Any:
    """A :func:`hashlib.sha256` object started with ``data``, to ``update`` piece by piece."""
    return hashlib.sha256(data)


def text_sha256_base64(text: str) -> str:
    """sha256 of ``text`` (UTF-8) in base64, as a Content-Security-Policy hash source reads."""
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def bytes_sha256(data: bytes) -> str:
    """sha256 (hex) of ``data``."""
    return hashlib.sha256(data).hexdigest()


def text_sha256(text: str) -> str:
    """sha256 (hex) of ``text`` encoded as UTF-8."""
    return bytes_sha256(text.encode("utf-8"))


def json_sha256(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """sha256 (hex) of ``json.dumps(value, sort_keys=True, default=default)``.

    ``default`` turns what JSON cannot write into something it can (``repr`` or ``str``);
    without it such a value raises :class:`TypeError`, as :func:`json.dumps` does.
    """
    return text_sha256(json.dumps(value, sort_keys=True, default=default))


def rows_sha256(rows: Any) -> str:
    """sha256 (hex) of row indices (any integer array-like, as contiguous int64 bytes)."""
    import numpy as np

    return bytes_sha256(np.ascontiguousarray(rows, dtype=np.int64).tobytes())


def seed_from_text(text: str) -> int:
    """The first 8 bytes of ``text``'s sha256 as a little-endian unsigned integer."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def short_id(text: str, length: int = 10) -> str:
    """The first ``length`` hex digits of ``text``'s sha1 (a name, not a checksum)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def data_checksum(texts: Sequence[str], labels: Sequence[Any]) -> str:
    """sha256 over the texts and labels, in row order (what a store's data checksum is)."""
    digest = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        digest.update(str(text).encode("utf-8") + b"\x1f" + str(label).encode("utf-8") + b"\x1e")
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """sha256 (hex) of a file's bytes, read in 8 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
