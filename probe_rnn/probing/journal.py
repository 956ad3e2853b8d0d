"""The run journal: every finished cell on disk the moment it finishes, so a run resumes.

One JSON file per cell, ``<folder>/<key>.json``, where the key is
:func:`probe_rnn.probing.cells.cell_key` (the hash of everything that decides the cell's
numbers: a changed setting, row, probe parameter or store never finds a stale cell). A file is
written to a temporary file and renamed (:mod:`probe_rnn.atomic`), so a run killed at any
moment leaves either the whole record or none. ``done`` and ``skipped`` cells are kept;
``failed`` cells are not (a rerun tries them again). A file that does not parse (truncated by
a full disk, edited by hand) is ignored and recomputed, and counted in
:attr:`Journal.unreadable`. ``code.json`` remembers the digest of each plugin file (or package)
whose cells the journal holds, so a rerun can say which plugin changed (its cells' keys, which
hold the digest, no longer match).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from probe_rnn.atomic import json_default, write_text

_KEPT = ("done", "skipped")
CODE_FILE = "code.json"


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

    def has(self, key: str) -> bool:
        """True when a file for ``key`` is there (read or not)."""
        return self._path(key).is_file()

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


    def code(self) -> dict[str, str]:
        """``{plugin: digest}`` of the plugin code the kept cells were computed with."""
        try:
            known = json.loads((self.folder / CODE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in known.items()} if isinstance(known, dict) else {}

    def remember_code(self, code: dict[str, str]) -> None:
        """Record the digests of the plugin code this run's cells were computed with."""
        merged = self.code() | code
        if merged and merged != self.code():
            self.folder.mkdir(parents=True, exist_ok=True)
            write_text(self.folder / CODE_FILE, json.dumps(merged, sort_keys=True))
