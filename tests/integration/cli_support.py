"""Helpers of the CLI integration tests: run `python -m probe_rnn` as a user would (or the CLI's
`main` in process), check the error contract (one line on stderr starting `error:`, exit code 2,
no traceback), and read the README's model files."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest


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


README = Path(__file__).resolve().parents[2] / "README.md"


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    """The CLI's ``main`` run in this process: its exit code and its non-blank stderr lines."""
    from probe_rnn.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    code = exit_info.value.code
    return (0 if code is None else int(code)), [
        line for line in capsys.readouterr().err.splitlines() if line.strip()]


def readme_models() -> dict[str, str]:
    """The ```python blocks of the README's 'Your own model' that start `# file: NAME`."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Your own model"):]
    section = section[:section.index("\n## ", 5)]
    return {name: code for code, name in
            re.findall(r"```python\n(# file: (\S+)\n.*?)```", section, re.S)}


def import_file(path: Path, prefix: str) -> ModuleType:
    """Import a model file written by a test, under a module name of its own."""
    spec = importlib.util.spec_from_file_location(f"{prefix}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
