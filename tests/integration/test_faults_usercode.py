"""User code contained, from the command line: a model factory that exits (at import, in
build(), with os._exit), user code that exits inside a command, import paths that are no
estimator or task, a plugin probe whose constructor raises, plugin probes that exit or return
malformed predictions (jobs 1 and 2), an edited plugin (recomputed with a notice, equal to a
fresh run), a server that is no Dask scheduler, a scheduler lost mid-run (one line, finished
cells kept, the same command resumes), and option names in --cell-timeout/--objective errors.
Each ends in a right result or a one-line error with a non-zero exit code."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.integration.cli_support import assert_one_line_error, run_cli

pytestmark = pytest.mark.slow

RUN = ["--max-rows", "200", "--folds", "3", "--views", "output@last", "--tasks", "label",
       "--attribution-rows", "0", "--no-umap", "--no-mdl", "--no-random-baseline", "--quiet"]

PROBES = """
import os
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from probe_rnn.plugins import register_probe

@register_probe("sysexit")
class SysExit(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        sys.exit(0)

@register_probe("osexit")
class OsExit(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        os._exit(3)

@register_probe("wide")
class Wide(LogisticRegression):
    def predict_proba(self, X):
        return np.full((len(X), 5), 0.2)

@register_probe("scalar")
class Scalar(LogisticRegression):
    def predict(self, X):
        return self.classes_[0]

@register_probe("badctor")
class BadCtor(LogisticRegression):
    def __init__(self, C=1.0):
        raise ValueError("no constructor")
"""
REASONS = {"sysexit": "called sys.exit(0)", "osexit": "called os._exit(3)",
           "wide": "predict_proba returned shape (", "scalar": "predict returned shape ()"}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "m.pt"
    proc = run_cli("train", "--dataset", "names", "--hidden", "8", "--embedding-dim", "8",
                   "--epochs", "1", "--out", str(path))
    assert proc.returncode == 0, proc.stderr
    return path


@pytest.fixture(scope="module")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plugins")
    (folder / "odd.py").write_text(textwrap.dedent(PROBES))
    return folder


@pytest.mark.parametrize(("body", "words"), [
    ("import sys\nsys.exit(3)\n", "called sys.exit(3)"),
    ("import sys\ndef build():\n    sys.exit()\n", "called sys.exit()"),
    ("import os\ndef build():\n    os._exit(4)\n", "called os._exit(4)"),
])
def test_a_factory_that_exits_is_one_line_naming_it(model: Path, tmp_path: Path, body: str,
                                                    words: str) -> None:
    raw = torch.load(model, weights_only=True)
    torch.save(raw["state_dict"], tmp_path / "sd.pt")
    (tmp_path / "quitter.py").write_text(body)
    proc = run_cli("inspect", str(tmp_path / "sd.pt"), "--model",
                   f"{tmp_path / 'quitter.py'}:build")
    assert_one_line_error(proc, "quitter.py", words, "fix")


def test_user_code_exiting_inside_a_command_is_one_line_not_exit_0(model: Path,
                                                                  tmp_path: Path) -> None:
    raw = torch.load(model, weights_only=True)
    torch.save(raw["state_dict"], tmp_path / "sd.pt")
    (tmp_path / "exits_in_forward.py").write_text(textwrap.dedent(f"""
        import sys
        import torch
        from probe_rnn.data.tokenizers import Tokenizer
        from probe_rnn.models import ModelConfig, RNNClassifier
        RAW = torch.load({str(model)!r}, weights_only=True)

        class Quits(RNNClassifier):
            def forward(self, *args, **kwargs):
                sys.exit(0)

        def build():
            return {{"model": Quits(ModelConfig.from_dict(RAW["config"])),
                     "tokenizer": Tokenizer.from_dict(RAW["tokenizer"]),
                     "labels": RAW["labels"]}}
    """))
    out = tmp_path / "run"
    proc = run_cli("probe", str(tmp_path / "sd.pt"), "--model",
                   f"{tmp_path / 'exits_in_forward.py'}:build", "--dataset", "names",
                   "--out", str(out), *RUN)
    assert proc.returncode == 1, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    assert "exits_in_forward.py:10 called sys.exit(0) inside probe-rnn" in errors[0]


@pytest.mark.parametrize(("option", "needle"), [
    ("--probes", "probe 'sys.exit' is the builtin_function_or_method exit, not an estimator"),
    ("--tasks", "task 'sys.exit' is the builtin_function_or_method exit, not a Task"),
])
def test_import_paths_that_are_not_a_probe_or_task_are_refused_first(model: Path, tmp_path: Path,
                                                                     option: str,
                                                                     needle: str) -> None:
    out = tmp_path / "run"
    proc = run_cli("probe", str(model), "--dataset", "names", "--out", str(out),
                   option, "sys.exit", "--max-rows", "200", "--quiet")
    assert_one_line_error(proc, needle, "`probe-rnn plugins`")
    assert not out.exists()


def test_a_plugin_probe_whose_constructor_raises_is_named(model: Path, plugins: Path,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = run_cli("probe", str(model), "--dataset", "names", "--out", str(out),
                   "--plugins", str(plugins), "--probes", "logistic,badctor", *RUN)
    assert_one_line_error(proc, "probe 'badctor' (from ", "odd.py) could not be built",
                          "ValueError: no constructor", "fix its __init__")
    assert not out.exists()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_plugins_that_exit_or_predict_malformed_fail_only_their_cells(model: Path, plugins: Path,
                                                                      tmp_path: Path,
                                                                      jobs: str) -> None:
    out = tmp_path / "run"
    proc = run_cli("probe", str(model), "--dataset", "names", "--out", str(out), "--jobs", jobs,
                   "--plugins", str(plugins), "--probes", "logistic," + ",".join(REASONS),
                   *RUN)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cells = pd.read_csv(out / "cells.csv").set_index("probe")
    assert cells.loc["logistic", "status"] == "done"
    for probe, words in REASONS.items():
        assert cells.loc[probe, "status"] == "failed"
        assert words in cells.loc[probe, "reason"] and "odd.py" in cells.loc[probe, "reason"]
        assert words in proc.stderr  # said on the terminal too
    assert set(pd.read_parquet(out / "results.parquet")["probe"]) == {"logistic"}


def test_an_edited_plugin_is_recomputed_with_a_notice(model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    code = textwrap.dedent("""
        from sklearn.linear_model import LogisticRegression
        from probe_rnn.plugins import register_probe

        FLIP = False

        @register_probe("shifty")
        class Shifty(LogisticRegression):
            def predict(self, X):
                pred = super().predict(X)
                return pred[::-1].copy() if FLIP else pred
    """)
    (folder / "shifty.py").write_text(code)
    args = ["--dataset", "names", "--plugins", str(folder), "--probes", "logistic,shifty", *RUN]
    first = run_cli("probe", str(model), "--out", str(tmp_path / "run"), *args)
    assert first.returncode == 0, first.stderr[-2000:]
    (folder / "shifty.py").write_text(code.replace("FLIP = False", "FLIP = True"))
    again = run_cli("probe", str(model), "--out", str(tmp_path / "run"), *args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (f"plugin {folder / 'shifty.py'} changed since the journal was written: "
            "recomputing 1 cell") in again.stderr
    fresh = run_cli("probe", str(model), "--out", str(tmp_path / "fresh"), *args)
    assert fresh.returncode == 0, fresh.stderr[-2000:]

    def accuracy(run: str) -> pd.Series:
        df = pd.read_parquet(tmp_path / run / "results.parquet")
        return df[df["metric"] == "accuracy"].set_index("probe")["value"]

    assert accuracy("run")["shifty"] == accuracy("fresh")["shifty"]  # the edited code's number
    assert accuracy("run")["logistic"] == accuracy("fresh")["logistic"]


def test_a_server_that_is_not_a_dask_scheduler_fails_in_seconds(model: Path,
                                                                tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    start = time.monotonic()
    try:
        proc = run_cli("probe", str(model), "--dataset", "names", "--out", str(tmp_path / "r"),
                       "--scheduler", address)
    finally:
        server.close()
    assert_one_line_error(proc, f"the server at {address!r} accepts connections but did not "
                          "answer as a Dask scheduler", "--scheduler")
    assert time.monotonic() - start < 60 and not (tmp_path / "r").exists()


def test_cell_timeout_with_a_scheduler_and_an_empty_objective_name_their_option(
        model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = run_cli("probe", str(model), "--dataset", "names", "--out", str(out),
                   "--scheduler", "local:1", "--cell-timeout", "5", *RUN)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = next(x for x in proc.stderr.splitlines() if x.startswith("error: "))
    assert line.startswith("error: --cell-timeout works with local processes only")
    assert "leave --cell-timeout out" in line and not (out / "states").exists()
    empty = run_cli("compare-readouts", "--dataset", "names", "--objective", ",",
                    "--out", str(tmp_path / "cr"))
    assert_one_line_error(empty, "--objective ',' names nothing")
    typo = run_cli("compare-readouts", "--dataset", "names", "--objective", "clasify",
                   "--out", str(tmp_path / "cr"))
    assert_one_line_error(typo, "--objective ", "unknown objective 'clasify'")


def _dask(*args: str) -> subprocess.Popen[bytes]:
    """``dask scheduler ...`` / ``dask worker ...`` from this Python's environment."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([str(Path(sys.executable).parent / "dask"), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scheduler_lost_mid_run_is_one_line_and_the_command_resumes(model: Path,
                                                                      tmp_path: Path) -> None:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    out = tmp_path / "run"
    args = [sys.executable, "-m", "probe_rnn", "probe", str(model), "--dataset", "names",
            "--out", str(out), "--scheduler", address, "--max-rows", "300", "--folds", "3",
            "--views", "output@last,h_n/L0/fwd", "--tasks", "label,length,first-token,last-token",
            "--no-mdl", "--no-random-baseline", "--attribution-rows", "0", "--no-umap",
            "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120"}
    procs = [_dask("scheduler", "--port", str(port), "--no-dashboard")]
    try:
        time.sleep(4)
        procs.append(_dask("worker", address, "--nthreads", "1", "--no-dashboard"))
        time.sleep(4)
        run = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and run.poll() is None and \
                not any((out / "journal").glob("*.json")):
            time.sleep(0.2)
        procs[0].kill()
        stderr = run.communicate(timeout=300)[1]
        assert run.returncode == 2, stderr[-2000:]
        errors = [line for line in stderr.splitlines() if line.strip() and
                  not line.startswith(("rows ", "capture ", "diagnosis "))]
        assert len(errors) == 1 and "Traceback" not in stderr, stderr[-3000:]
        assert errors[0].startswith("error: the connection to the Dask scheduler was lost")
        assert "kept in the journal" in errors[0] and "the same command resumes" in errors[0]
        kept = len(list((out / "journal").glob("*.json")))
        procs[0] = _dask("scheduler", "--port", str(port), "--no-dashboard")
        time.sleep(4)
        procs[1].kill()
        procs.append(_dask("worker", address, "--nthreads", "1", "--no-dashboard"))
        time.sleep(4)
        again = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
        assert again.returncode == 0, again.stderr[-2000:]
        cells = pd.read_csv(out / "cells.csv")
        assert (cells["status"] == "done").all() and kept >= 1
    finally:
        for proc in procs:
            proc.kill()
