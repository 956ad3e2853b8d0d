"""The run journal: every finished cell on disk the moment it finishes, so a run resumes.

One JSON file per cell, ``<folder>/<key>.json``, where the key is
:func:`probe_rnn.probing.cells.cell_key` (the hash of everything that decides the cell's
numbers: a changed setting, row, probe parameter or store never finds a stale cell). A file is
written to a temporary file and renamed (:mod:`probe_rnn.atomic`), so a run killed at any
moment leaves either the whole record or none. ``done`` and ``skipped`` cells are kept;
``failed`` cells are not (a rerun tries them again). A file that does not parse (truncated by
a full disk, edited by hand) is ignored and recomputed, and counted in
:attr:`Journal.unreadable`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from probe_rnn.atomic import write_text
from probe_rnn.run_folder import json_default

__all__ = ["Journal"]

_KEPT = ("done", "skipped")


class Journal:
    """Finished cells of a run, by key.

    Parameters
    ----------
    folder : path
        Created on the first write.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.unreadable = 0

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The finished record of ``key``, or None (missing or unreadable)."""
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.unreadable += 1
            return None
        if not isinstance(record, dict) or record.get("key") != key or \
                record.get("status") not in _KEPT:
            self.unreadable += 1
            return None
        return record

    def put(self, record: dict[str, Any]) -> None:
        """Write a finished cell's record atomically (failed cells are not kept)."""
        if record.get("status") not in _KEPT:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text(self._path(record["key"]), json.dumps(record, default=json_default))

