"""The CLI keeps matplotlib's font cache (imported through Captum) in the probe-rnn cache
folder, never under ``$HOME`` (where it used to be written)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_matplotlib_cache_goes_to_the_probe_rnn_cache_not_home(tmp_path: Path) -> None:
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLCONFIGDIR", "NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    env.update(HOME=str(home), PROBE_RNN_CACHE=str(cache), OMP_NUM_THREADS="1")
    # attribute imports Captum (and so matplotlib) before it reads the checkpoint
    proc = subprocess.run([sys.executable, "-m", "probe_rnn", "attribute", "missing.pt",
                           "--dataset", "names", "--out", "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "missing.pt" in proc.stderr, proc.stderr
    assert list(home.iterdir()) == []
    assert list((cache / "matplotlib").glob("fontlist-*.json"))
    assert (cache / "numba").is_dir()
