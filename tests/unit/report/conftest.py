"""Fixtures of the report tests: hand-written run folders (see ``factory.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from factory import make_run  # noqa: E402


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    """A complete bidirectional 2-layer run folder with attribution (60 short rows)."""
    return make_run(tmp_path / "run")
