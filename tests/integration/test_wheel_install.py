"""``pip install probe-rnn`` without extras works: the wheel built from this tree, installed
into a fresh virtual environment beside only the pinned CPU build of torch (never an unpinned
torch, which would pull a multi-GB CUDA build) and the base dependencies, runs
``probe-rnn --version``, ``probe-rnn datasets`` and ``probe-rnn plugins`` (the built-ins' table
is package data). Uses the package index (or pip's configured mirrors and caches): measured at
10 min with a cold pip cache on a busy 2-core machine (the dependencies, umap-learn's numba and
llvmlite among them, are downloaded)."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from probe_rnn import __version__

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TORCH = "torch==2.13.0"  # the pin .ci/setup installs: pip's find-links hold its CPU build


def _run(args: list[str], cwd: Path, timeout: int, home: Path | None = None
         ) -> subprocess.CompletedProcess[str]:
    """Run ``args`` outside this checkout's environment (``home``: its $HOME, else pip's own
    caches are used as usual)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "MPLCONFIGDIR", "NUMBA_CACHE_DIR")}
    env.update(OMP_NUM_THREADS="1", COLUMNS="120", NO_COLOR="1")
    if home is not None:
        env["HOME"] = str(home)
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env)
    assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}:\n" + \
        (proc.stdout + proc.stderr)[-3000:]
    return proc


def test_the_wheel_installs_without_extras_and_runs(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels),
          str(ROOT)], tmp_path, 600)
    wheel = next(wheels.glob("probe_rnn-*.whl"))
    venv.EnvBuilder(with_pip=True).create(tmp_path / "env")
    python = tmp_path / "env" / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", TORCH, str(wheel)], tmp_path, 1500)
    installed = _run([str(python), "-m", "pip", "list", "--format=freeze"], tmp_path, 120).stdout
    assert "dask" not in installed.lower() and "pytest" not in installed.lower()  # no extras
    cli, home = tmp_path / "env" / "bin" / "probe-rnn", tmp_path / "home"
    home.mkdir()
    assert _run([str(cli), "--version"], tmp_path, 300, home).stdout.strip() == \
        f"probe-rnn {__version__}"
    listed = _run([str(cli), "datasets"], tmp_path, 300, home).stdout
    assert "names" in listed and "bundled datasets" in listed
    plugins = _run([str(cli), "plugins"], tmp_path, 300, home).stdout  # builtin_plugins.json
    assert all(name in plugins for name in ("logistic", "first-token", "ids-lengths"))
    assert list(home.iterdir()) == []  # nothing written under $HOME
