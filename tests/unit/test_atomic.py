"""Files that are complete or absent (``probe_rnn.atomic``): a finished block replaces the target
in one rename, a failed one leaves the old file and no temporary file; metadata becomes
JSON-safe values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from probe_rnn.atomic import jsonable, replacing, write_text


def test_a_finished_block_replaces_the_target(tmp_path: Path) -> None:
    target = tmp_path / "results.csv"
    target.write_text("old")
    with replacing(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_text("new")
        assert target.read_text() == "old"  # untouched until the block ends
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_a_failed_block_keeps_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    target.write_text("complete")
    with pytest.raises(RuntimeError, match="disk full"):
        with replacing(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]
    with pytest.raises(KeyboardInterrupt):
        with replacing(tmp_path / "fresh.txt") as tmp:
            tmp.write_text("x")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]  # nothing new


def test_write_text_is_utf8(tmp_path: Path) -> None:
    write_text(tmp_path / "note.txt", "naïve — ok")
    assert (tmp_path / "note.txt").read_bytes() == "naïve — ok".encode()


def test_jsonable_turns_numpy_scalars_and_paths_into_plain_values() -> None:
    meta = {"n": np.int64(3), "x": np.float32(0.5), "where": Path("a/b"),
            "nested": [{"ok": np.bool_(True), "one": np.array([7])}]}
    got = jsonable(meta)
    assert got == {"n": 3, "x": 0.5, "where": "a/b", "nested": [{"ok": True, "one": 7}]}
    assert type(got["n"]) is int and json.loads(json.dumps(got)) == got


def test_jsonable_turns_numpy_arrays_into_lists() -> None:
    """Arrays of several values become nested lists; scalars and one-value arrays numbers."""
    got = jsonable({"v": np.arange(3), "m": np.eye(2), "s": np.float32(0.5), "z": np.array(7),
                    "e": np.zeros(0)})
    assert got == {"v": [0, 1, 2], "m": [[1.0, 0.0], [0.0, 1.0]], "s": 0.5, "z": 7, "e": []}
