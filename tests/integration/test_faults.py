"""Faults a hostile or unlucky user meets, each ending in a correct result or a one-line error
with exit code 2 before any work: empty name lists, unknown names, labels the model does not
know, and a damaged results file in a finished run folder (recomputed, not an internal error)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from cli_support import assert_one_line_error, run_cli

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
    # a valid name for a layer this 1-layer model lacks: the rerun fails in capture
    bad = run_cli("probe", str(model), "--dataset", "names", "--out", str(out), "--folds", "4",
                  *SMALL[:2], "--views", "output@last,h_n/L5/fwd", *SMALL[6:])
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert not (out / "results.parquet").exists() and not (out / "index.html").exists()
    report = run_cli("report", str(out), "--no-umap")
    assert report.returncode == 2 and "Traceback" not in report.stderr


def test_a_busy_run_folder_is_refused_naming_the_other_run(model: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from probe_rnn.runlock import LOCK_NAME

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
