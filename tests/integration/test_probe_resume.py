"""`probe-rnn probe` at work: a run killed with SIGKILL resumes with only its missing cells and
ends with the table an uninterrupted run gives; a plugin probe that raises fails its cells only,
named with its file and message in the terminal and the report; off a terminal, progress comes
as periodic plain lines with an ETA."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.cli_support import run_cli

pytestmark = pytest.mark.slow

ARGS = ["--dataset", "names", "--max-rows", "400", "--folds", "3", "--jobs", "1",
        "--views", "output@last,h_n/L0/fwd,h_n/L0/bwd,c_n/L0/fwd,mean(output)",
        "--tasks", "label,length,first-token", "--attribution-rows", "0", "--no-umap"]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "m.pt"
    proc = run_cli("train", "--dataset", "names", "--rnn", "lstm", "--bidirectional",
                   "--hidden", "8", "--embedding-dim", "8", "--epochs", "1", "--out", str(path))
    assert proc.returncode == 0, proc.stderr
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120", "NO_COLOR": "1", **extra}
    env.pop("FORCE_COLOR", None)
    return env


def test_a_killed_run_resumes_with_only_the_missing_cells(model: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    journal = out / "journal"
    proc = subprocess.Popen([sys.executable, "-m", "probe_rnn", "probe", str(model), "--out",
                             str(out), *ARGS], env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.is_dir() and len(list(journal.glob("*.json"))) >= 4:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = {f.name: f.stat().st_mtime_ns for f in journal.glob("*.json")}
    assert 4 <= len(kept) < 30 and not (out / "results.parquet").exists()

    rerun = run_cli("probe", str(model), "--out", str(out), *ARGS)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    cells = 2 * 5 * 3  # trained + random-init, 5 views, 3 tasks
    assert f"{cells} cells ({len(kept)} reused from the journal)" in rerun.stderr
    after = {f.name: f.stat().st_mtime_ns for f in journal.glob("*.json")}
    assert len(after) == cells + 5  # + the label probe on training rows, one per view
    assert all(after[name] == mtime for name, mtime in kept.items())  # not recomputed

    whole = tmp_path / "whole"
    straight = run_cli("probe", str(model), "--out", str(whole), *ARGS)
    assert straight.returncode == 0, straight.stderr[-2000:]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"),
                                  pd.read_parquet(whole / "results.parquet"))


PLUGIN = textwrap.dedent('''
    """A probe that refuses tasks with more than two classes."""
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.dummy import DummyClassifier

    from probe_rnn.plugins import register_probe


    @register_probe("picky")
    class Picky(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            if len(np.unique(y)) > 2:
                raise RuntimeError("picky wants two classes")
            self.model_ = DummyClassifier().fit(X, y)
            self.classes_ = self.model_.classes_
            return self

        def predict(self, X):
            return self.model_.predict(X)

        def predict_proba(self, X):
            return self.model_.predict_proba(X)
''')


def test_a_plugin_probe_that_raises_fails_its_cells_only(model: Path, tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "picky_probe.py").write_text(PLUGIN)
    out = tmp_path / "run"
    proc = run_cli("probe", str(model), "--out", str(out), "--dataset", "names",
                   "--max-rows", "300", "--folds", "3", "--views", "output@last",
                   "--tasks", "label,length", "--probes", "logistic,picky", "--plugins",
                   str(plugins), "--attribution-rows", "0", "--no-umap", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "internal error" not in proc.stderr
    assert "2 probing cell(s) failed" in proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.strip().startswith("failed:")]
    assert "probe 'picky'" in line and "picky_probe.py" in line  # the plugin and its file
    assert "RuntimeError: picky wants two classes" in line and "task 'length'" in line
    assert "2 cells: trained, random-init × 1 view (output@last)" in line
    results = pd.read_parquet(out / "results.parquet")
    assert set(results[results.task == "label"]["probe"]) == {"logistic", "picky"}
    assert set(results[results.task == "length"]["probe"]) == {"logistic"}
    cells = pd.read_csv(out / "cells.csv")
    assert (cells["status"] == "failed").sum() == 2
    html = (out / "index.html").read_text()
    assert "2 of 8 probing cells failed" in html and "picky wants two classes" in html


def test_off_a_terminal_progress_comes_as_periodic_lines_with_an_eta(model: Path,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "progress"
    proc = subprocess.run(
        [sys.executable, "-m", "probe_rnn", "probe", str(model), "--out", str(out), *ARGS],
        capture_output=True, text=True, timeout=600,
        env=_env(PROBE_RNN_PROGRESS_INTERVAL="0.2"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = re.compile(r"^probing\s+(\d+)/30 cells \(\d+%\)  elapsed \d+:\d\d  ETA (\d+:\d\d)$")
    hits = [m for m in map(line.match, proc.stderr.splitlines()) if m]
    assert len(hits) >= 3, proc.stderr
    done = [int(m.group(1)) for m in hits]
    assert done == sorted(done) and done[-1] == 30
    assert any(re.match(r"^capture\s+\d+/800 rows", x) for x in proc.stderr.splitlines())
    quiet = run_cli("probe", str(model), "--out", str(out), *ARGS, "--quiet")
    assert quiet.returncode == 0 and "ETA" not in quiet.stderr
