"""Fixtures of the report tests: hand-written run folders (see ``factory.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.report.factory import make_run


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    """A complete bidirectional 2-layer run folder with attribution (60 short rows)."""
    return make_run(tmp_path / "run")
