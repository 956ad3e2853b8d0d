"""Hashing, one place: the checksum of a table's texts and labels, and of a file's bytes.

A store's and a run's data checksum (:func:`data_checksum`) and every file checksum (a
checkpoint's, a state array's, a plugin's code: :func:`file_sha256`) are sha256 hex digests
computed here, so two places never hash the same thing two ways.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["data_checksum", "file_sha256"]

#: Bytes read at a time when hashing a file.
_CHUNK = 8 << 20


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
