"""Faults a hostile or unlucky user meets, one test per case, each ending in a correct result or
a one-line error with exit code 2 (never exit 0 with a wrong or stale number, never "internal
error"): empty name lists, unknown names, labels the model does not know, a state array changed
in a finished run folder, a damaged results file, a failed rerun, a busy run folder, a full
disk, plugins that exit at import, raise in fit, return NaN probabilities, hang or give integer
class targets, and a model too large to allocate. (Checkpoints a user should not trust:
test_faults_checkpoints.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.integration.cli_support import assert_one_line_error, run_cli

pytestmark = pytest.mark.slow

SMALL = ["--max-rows", "200", "--folds", "3", "--views", "output@last,h_n/L0/fwd",
         "--tasks", "label,length", "--attribution-rows", "0", "--no-umap", "--no-mdl",
         "--quiet"]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "m.pt"
    proc = run_cli("train", "--dataset", "names", "--hidden", "8", "--embedding-dim", "8",
                   "--epochs", "1", "--out", str(path))
    assert proc.returncode == 0, proc.stderr
    return path


@pytest.mark.parametrize(("option", "value"), [("--tasks", ",,,"), ("--views", " , "),
                                               ("--probes", ",")])
def test_empty_name_lists_are_errors_not_the_defaults(model: Path, tmp_path: Path,
                                                      option: str, value: str) -> None:
    out = tmp_path / "run"
    proc = run_cli("probe", str(model), "--dataset", "names", "--out", str(out), option, value)
    assert_one_line_error(proc, option, "names nothing")
    assert not out.exists()


@pytest.mark.parametrize(("option", "value", "needle"), [
    ("--tasks", "label,lenght", "unknown task 'lenght'"),
    ("--views", "output@last,hiden/L0/fwd", "unknown state view 'hiden/L0/fwd'"),
    ("--probes", "logistic,logistc", "logistc"),
])
def test_unknown_names_are_caught_before_any_capture(model: Path, tmp_path: Path, option: str,
                                                      value: str, needle: str) -> None:
    out = tmp_path / "run"
    proc = run_cli("probe", str(model), "--dataset", "names", "--out", str(out), option, value)
    assert_one_line_error(proc, needle)
    assert not (out / "states").exists()


def test_labels_the_model_does_not_know_are_refused_before_any_work(model: Path,
                                                                   tmp_path: Path) -> None:
    table = tmp_path / "other.csv"
    pd.DataFrame({"text": ["anna", "bob", "carl", "dora"] * 10,
                  "label": ["spam", "ham"] * 20}).to_csv(table, index=False)
    out = tmp_path / "run"
    proc = run_cli("probe", str(model), "--data", str(table), "--out", str(out))
    line = assert_one_line_error(proc, "ham, spam", "female, male")
    assert "none of the model's" in line and not out.exists()


def test_a_changed_state_array_is_recaptured_and_a_report_refuses_it(model: Path,
                                                                    tmp_path: Path) -> None:
    import hashlib

    out = tmp_path / "run"
    first = run_cli("probe", str(model), "--dataset", "names", "--out", str(out), *SMALL)
    assert first.returncode == 0, first.stderr[-2000:]
    array = out / "states" / "views" / "h_n.L0.fwd.npy"
    clean = hashlib.sha256(array.read_bytes()).hexdigest()

    def add_noise() -> None:
        values = np.load(array, mmap_mode="r+")
        values[:] = np.random.default_rng(0).normal(size=values.shape)  # same size and dtype
        values.flush()
        del values

    add_noise()
    other = [a if a != "3" else "4" for a in SMALL]  # other settings: --folds 4
    again = run_cli("probe", str(model), "--dataset", "names", "--out", str(out), *other)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{array} does not match the checksum recorded when it was captured; " \
           "recapturing the states" in again.stderr
    assert hashlib.sha256(array.read_bytes()).hexdigest() == clean  # the states, not noise
    add_noise()
    report = run_cli("report", str(out), "--no-umap")
    assert_one_line_error(report, str(array), "does not match the checksum")


def test_a_damaged_results_file_is_recomputed_from_the_journal(model: Path,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = run_cli("probe", str(model), "--dataset", "names", "--out", str(out), *SMALL)
    assert first.returncode == 0, first.stderr[-2000:]
    before = pd.read_parquet(out / "results.parquet")
    data = (out / "results.parquet").read_bytes()
    (out / "results.parquet").write_bytes(data[: len(data) // 3])  # truncated
    again = run_cli("probe", str(model), "--dataset", "names", "--out", str(out), *SMALL)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "internal error" not in again.stderr
    assert "results.parquet cannot be read" in again.stderr
    assert "8 cells (8 reused from the journal)" in again.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), before)


def test_a_failed_rerun_never_leaves_old_results_under_new_arguments(model: Path,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = run_cli("probe", str(model), "--dataset", "names", "--out", str(out), *SMALL)
    assert first.returncode == 0, first.stderr[-2000:]
    before = pd.read_parquet(out / "results.parquet")
    # a valid name for a layer this 1-layer model lacks: refused before any file is touched,
    # so the folder still holds the first run, under the first run's run.json
    bad = run_cli("probe", str(model), "--dataset", "names", "--out", str(out), "--folds", "4",
                  *SMALL[:2], "--views", "output@last,h_n/L5/fwd", *SMALL[6:])
    assert_one_line_error(bad, "'h_n/L5/fwd' is not available")
    run = json.loads((out / "run.json").read_text())
    assert run["arguments"]["folds"] == 3
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), before)
    report = run_cli("report", str(out), "--no-umap")
    assert report.returncode == 0, report.stderr


def test_a_busy_run_folder_is_refused_naming_the_other_run(model: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from probe_rnn.run.lock import LOCK_NAME

    out = tmp_path / "run"
    out.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (out / LOCK_NAME).write_text(f"{other.pid}\n")
        busy = run_cli("probe", str(model), "--dataset", "names", "--out", str(out), *SMALL)
        assert_one_line_error(busy, f"in use by another probe-rnn run (PID {other.pid})")
        assert (out / LOCK_NAME).read_text().strip() == str(other.pid)  # not stolen
    finally:
        other.kill()
        other.wait()
    # the owner is gone: its lock is stale and taken over; the run releases it at the end
    done = run_cli("probe", str(model), "--dataset", "names", "--out", str(out), *SMALL)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "results.parquet").is_file() and not (out / LOCK_NAME).exists()


def test_a_plugin_that_exits_at_import_is_a_warning_naming_it(model: Path,
                                                              tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "quitter.py").write_text("import sys\nsys.exit(3)\n")
    out = tmp_path / "run"
    proc = run_cli("probe", str(model), "--dataset", "names", "--out", str(out),
                   "--plugins", str(plugins), *SMALL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "quitter.py failed to load and is skipped (SystemExit: 3)" in proc.stderr


def test_a_model_too_large_to_allocate_is_a_one_line_error(tmp_path: Path) -> None:
    proc = run_cli("train", "--dataset", "names", "--hidden", "2000000000", "--epochs", "1",
                   "--out", str(tmp_path / "m.pt"))
    assert_one_line_error(proc, "cannot allocate the model's weights", "hidden=2000000000")
    assert not (tmp_path / "m.pt").exists()


def test_a_full_disk_leaves_no_partial_files_and_the_rerun_succeeds(model: Path,
                                                                    tmp_path: Path) -> None:
    """On a real 300 KiB tmpfs (mounted as root, or in a user namespace otherwise): the capture
    fails with a one-line error, leaves no partial array and run.json marks it failed; after the
    disk is enlarged, the same command succeeds."""
    mount, report = tmp_path / "disk", tmp_path / "report.json"
    mount.mkdir()
    scenario = textwrap.dedent(f"""
        import json, os, subprocess, sys
        mount, out = {str(mount)!r}, {str(mount / "run")!r}
        env = {{**os.environ, "OMP_NUM_THREADS": "1", "NO_COLOR": "1"}}
        cmd = [sys.executable, "-m", "probe_rnn", "probe", {str(model)!r}, "--dataset", "names",
               "--out", out, "--max-rows", "600", "--folds", "3", "--tasks", "label",
               "--views", "output@last,hidden/L0/fwd", "--attribution-rows", "0",
               "--no-umap", "--no-mdl", "--quiet"]
        def run():
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
            files = sorted(os.path.relpath(os.path.join(d, f), out)
                           for d, _, names in os.walk(out) for f in names)
            stages = json.load(open(os.path.join(out, "run.json")))["stages"]
            return {{"rc": proc.returncode, "stderr": proc.stderr, "files": files,
                     "stages": {{k: v["status"] for k, v in stages.items()}}}}
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", mount], check=True)
        try:
            full = run()
            subprocess.run(["mount", "-o", "remount,size=64m", mount], check=True)
            freed = run()
        finally:
            subprocess.run(["umount", mount])
        json.dump({{"full": full, "freed": freed}}, open({str(report)!r}, "w"))
    """)
    wrapper = [] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--mount"]
    done = subprocess.run([*wrapper, sys.executable, "-c", scenario], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(report.read_text())
    full, freed = result["full"], result["freed"]
    assert full["rc"] == 2, full["stderr"][-2000:]
    last = full["stderr"].strip().splitlines()[-1]
    assert last.startswith("error: no space left on the device") and "Traceback" not in \
        full["stderr"], full["stderr"][-2000:]
    assert full["stages"]["capture"] == "failed"
    # a store is complete (its manifest written last) or gone; nothing half-written stays
    for store in ("states", "states-random"):
        inside = [f for f in full["files"] if f.startswith(f"{store}/")]
        assert not inside or f"{store}/manifest.json" in inside, full["files"]
    assert not [f for f in full["files"] if "part" in f or f.endswith(".tmp")], full["files"]
    assert "states-random/manifest.json" not in full["files"]  # the capture that failed
    assert freed["rc"] == 0, freed["stderr"][-2000:]
    assert freed["stages"]["capture"] == "done" and freed["stages"]["report"] == "done"
    assert "results.parquet" in freed["files"] and "index.html" in freed["files"]


PLUGINS = {
    "nan_probe.py": """
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        from probe_rnn.plugins import register_probe

        @register_probe("nan-proba")
        class NaNProba(LogisticRegression):
            def predict_proba(self, X):
                return np.full((len(X), len(self.classes_)), np.nan)
    """,
    "broken_probe.py": """
        from sklearn.linear_model import LogisticRegression
        from probe_rnn.plugins import register_probe

        @register_probe("broken")
        class Broken(LogisticRegression):
            def fit(self, X, y, sample_weight=None):
                raise RuntimeError("boom in fit")
    """,
    "parity_task.py": """
        import numpy as np
        from probe_rnn.plugins import register_task
        from probe_rnn.probing.tasks import Task

        @register_task("parity")
        class Parity(Task):
            name = "parity"
            kind = "classification"
            level = "sentence"
            description = "is the length even (integer targets)"

            def targets(self, meta, tokens, offsets, level=None):
                return (np.diff(offsets) % 2).astype(int)  # plain ints, not strings
    """,
    "sleepy_probe.py": """
        import time
        from sklearn.linear_model import LogisticRegression
        from probe_rnn.plugins import register_probe

        @register_probe("sleepy")
        class Sleepy(LogisticRegression):
            def fit(self, X, y, sample_weight=None):
                time.sleep(3600)
    """,
}
PLUGIN_RUN = ["--max-rows", "200", "--folds", "3", "--views", "output@last",
              "--attribution-rows", "0", "--no-umap", "--no-mdl", "--no-random-baseline",
              "--quiet"]


@pytest.fixture(scope="module")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plugins")
    for name, code in PLUGINS.items():
        (folder / name).write_text(textwrap.dedent(code))
    return folder


@pytest.fixture(scope="module")
def plugin_run(model: Path, plugins: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One run with logistic beside a NaN-probability probe and a probe whose fit raises, on
    the label and on a plugin task with integer targets."""
    out = tmp_path_factory.mktemp("plugin-run") / "run"
    proc = run_cli("probe", str(model), "--dataset", "names", "--out", str(out),
                   "--plugins", str(plugins), "--probes", "logistic,nan-proba,broken",
                   "--tasks", "label,parity", *PLUGIN_RUN)
    return proc, out


def _cells(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "cells.csv").set_index(["task", "probe"])


def test_nan_probabilities_are_a_failed_cell_naming_the_probe(plugin_run) -> None:
    proc, out = plugin_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = pd.read_parquet(out / "results.parquet")
    assert "nan-proba" not in set(results["probe"])  # no number reported for it
    cells = _cells(out)
    for task in ("label", "parity"):
        assert cells.loc[(task, "nan-proba"), "status"] == "failed"
        assert "NaN" in cells.loc[(task, "nan-proba"), "reason"]
    assert "nan-proba" in proc.stderr and "nan_probe.py" in proc.stderr


def test_a_plugin_probe_that_raises_fails_only_its_own_cells(plugin_run) -> None:
    proc, out = plugin_run
    assert proc.returncode == 0 and "internal error" not in proc.stderr
    cells = _cells(out)
    reason = cells.loc[("label", "broken"), "reason"]
    assert "probe 'broken'" in reason and "broken_probe.py" in reason
    assert "RuntimeError: boom in fit" in reason
    results = pd.read_parquet(out / "results.parquet")
    kept = results[(results["probe"] == "logistic") & (results["metric"] == "accuracy")]
    assert set(kept["task"]) == {"label", "parity"}  # the logistic results are not lost
    assert kept["value"].between(0, 1).all()


def test_integer_class_targets_from_a_plugin_task_work(plugin_run) -> None:
    proc, out = plugin_run
    assert proc.returncode == 0 and "Unknown label type" not in proc.stderr
    assert _cells(out).loc[("parity", "logistic"), "status"] == "done"
    results = pd.read_parquet(out / "results.parquet")
    bits = results[(results["task"] == "parity") & (results["metric"] == "bits")]
    assert len(bits) == 1 and np.isfinite(bits["value"]).all()


def test_a_hung_plugin_probe_is_stopped_by_the_cell_timeout(model: Path, plugins: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "run"
    started = time.monotonic()
    proc = run_cli("probe", str(model), "--dataset", "names", "--out", str(out),
                   "--plugins", str(plugins), "--probes", "logistic,sleepy", "--tasks", "label",
                   "--cell-timeout", "5", *PLUGIN_RUN)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert time.monotonic() - started < 300  # the probe sleeps for an hour
    reason = _cells(out).loc[("label", "sleepy"), "reason"]
    assert "probe 'sleepy'" in reason and "sleepy_probe.py" in reason
    assert "did not finish within cell_timeout=5 s" in reason  # the library's words
    failed = [line for line in proc.stderr.splitlines() if "failed: probe 'sleepy'" in line]
    assert failed and "--cell-timeout 5 s" in failed[0] and "cell_timeout" not in failed[0]
    results = pd.read_parquet(out / "results.parquet")
    assert set(results["probe"]) == {"logistic"}
    bad = run_cli("probe", str(model), "--dataset", "names", "--out", str(tmp_path / "bad"),
                  "--cell-timeout", "-1", *PLUGIN_RUN)
    assert assert_one_line_error(bad).startswith("error: --cell-timeout ")  # the option
