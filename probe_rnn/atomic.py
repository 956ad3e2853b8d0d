"""Files that are either complete or absent: every output of a run is written through here.

:func:`replacing` hands out a temporary sibling path (``.NAME.part``); when the block ends
normally the temporary file replaces the target in one rename, and on any error (disk full,
Ctrl-C, a bug) it is deleted. So a failed write never leaves a half-written file that looks
complete, nor a stray temporary file taking space that a rerun needs. :func:`jsonable` turns
metadata into the JSON-safe values these files hold.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; it replaces ``path`` only if the block succeeds.

    Examples
    --------
    >>> with replacing(out / "results.csv") as tmp:   # doctest: +SKIP
    ...     table.to_csv(tmp, index=False)
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.part")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`replacing`)."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def jsonable(value: Any) -> Any:
    """Nested metadata as JSON-safe values (paths and numpy scalars become plain)."""
    return json.loads(json.dumps(value, default=json_default))


def json_default(value: Any) -> Any:
    """``json.dumps``'s ``default``: numpy scalars and arrays as numbers and lists, else str."""
    if getattr(value, "size", 1) != 1:  # an array of several values (or none): its lists
        return value.tolist()
    if hasattr(value, "item"):  # a numpy scalar, or an array of one value (as it always was)
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
