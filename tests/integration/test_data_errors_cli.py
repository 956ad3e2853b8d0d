"""Every bad table of issue 2 through the CLI: one line naming the problem, exit 2, no file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.cli_support import assert_one_line_error, run_cli


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


CASES = {
    "missing column text": ("label,sentence\na,x\nb,y\n", "text"),
    "missing column label": ("text,kind\nx,a\ny,b\n", "label"),
    "empty table": ("text,label\n", "no rows"),
    "empty text cells": ("text,label\nAnna,f\n,m\n   ,m\nJohn,m\n", "empty"),
    "single class": ("text,label\nAnna,f\nMary,f\nEve,f\n", "class"),
    "NaN labels": ("text,label\nAnna,f\nJohn,\nMary,m\n", "label"),
    "non-UTF-8": ("text,label\nJos\xe9,m\nAnna,f\n".encode("latin-1"), "UTF-8"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_table_is_one_line_and_writes_nothing(tmp_path: Path, case: str) -> None:
    content, needle = CASES[case]
    table = write(tmp_path / "bad.csv", content)
    out = tmp_path / "m.pt"
    proc = run_cli("train", "--data", str(table), "--epochs", "1", "--hidden", "8",
                   "--out", str(out))
    assert_one_line_error(proc, needle)
    assert not out.exists()


def test_missing_table_file_is_one_line(tmp_path: Path) -> None:
    proc = run_cli("train", "--data", str(tmp_path / "absent.csv"), "--out",
                   str(tmp_path / "m.pt"))
    assert_one_line_error(proc, "absent.csv")
