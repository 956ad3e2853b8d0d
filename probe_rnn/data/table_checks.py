"""Checks of a table's raw text that pandas and json would let pass silently: a csv header
naming a column twice (pandas renames the second ``text.1``) and a JSON object naming a key
twice (``json`` keeps the last)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from probe_rnn.errors import DataError


class DuplicateKey(ValueError):
    """A JSON object names a key twice (the message names it and the fix)."""


def check_header(path: Path, content: str, sep: str) -> None:
    """Refuse a header naming a column twice (pandas would silently rename the second)."""
    try:
        header = next(csv.reader(io.StringIO(content), delimiter=sep), [])
    except csv.Error:
        return  # the parser names the problem
    seen = [name for i, name in enumerate(header) if name in header[:i]]
    if seen:
        raise DataError(f"{path.name}: the header names column {seen[0]!r} more than once; "
                        "rename or remove the extra column so each name is used once")


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s ``object_pairs_hook``: a dict, refusing a key named twice."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(f"a record names key {key!r} twice (JSON keeps only the last); "
                               "keep one")
        out[key] = value
    return out
