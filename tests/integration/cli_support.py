"""Helpers of the CLI integration tests: run `python -m probe_rnn` as a user would, and check
the error contract (one line on stderr starting `error:`, exit code 2, no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess; one intra-op thread (behaviour is tested, not speed) and a
    fixed terminal width, so rich lays tables out the same on every machine."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120", "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)  # plain text whatever the CI sets
    return subprocess.run(
        [sys.executable, "-m", "probe_rnn", *args],
        capture_output=True, text=True, cwd=cwd, timeout=600, env=env,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit code 2, exactly one non-blank stderr line `error: ...` holding every needle."""
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
