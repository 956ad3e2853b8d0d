"""Dask distributed: a real ``distributed.LocalCluster`` of 2 worker processes runs a small
probe run's capture shards and probing cells (the scheduler sees probe-rnn's task keys, the
workers ran them) with results and state stores identical to a local run; a worker killed
mid-run changes nothing; a bad scheduler fails fast in one line; compare-readouts on
``--scheduler local:2`` gives the same tables as without it."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import distributed  # the cluster extra, which .ci/setup installs
import pandas as pd
import pytest

from probe_rnn.capture import StateStore
from probe_rnn.data import load_dataset
from probe_rnn.models import Architecture, TrainBudget, load_model, save_checkpoint, train
from probe_rnn.probing import run_probes
from probe_rnn.run.pipeline import probe
from probe_rnn.run.settings import RunSettings
from tests.integration.cli_support import assert_one_line_error, run_cli

pytestmark = pytest.mark.slow
SMALL = RunSettings(views=["output@last", "h_n/L0/fwd", "h_n/L0/bwd"], tasks=["label", "length"],
                    folds=3, mdl=False, attribution_rows=0, report=False, jobs=1)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local, \
            distributed.Client(local) as client:
        yield client


@pytest.fixture(scope="module")
def model_and_rows(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("cluster")
    df = load_dataset("names").sample(700, random_state=5).reset_index(drop=True)
    trained = train(df, Architecture(rnn="lstm", layers=1, hidden=8, embedding_dim=8,
                                         bidirectional=True), TrainBudget(epochs=1), seed=0)
    save_checkpoint(folder / "m.pt", trained.bundle)
    return folder / "m.pt", df


@pytest.fixture(scope="module")
def local_run(model_and_rows, tmp_path_factory) -> Path:
    path, df = model_and_rows
    out = tmp_path_factory.mktemp("local") / "run"
    probe(load_model(path), df, out, SMALL)
    return out


def _sha(store: Path) -> dict[str, str]:
    return json.loads((store / "manifest.json").read_text())["sha256"]


def test_a_run_on_the_cluster_equals_the_local_run(cluster, model_and_rows, local_run,
                                                   tmp_path) -> None:
    path, df = model_and_rows
    out = tmp_path / "run"
    with distributed.get_task_stream(cluster) as stream:
        probe(load_model(path), df, out, SMALL, client=cluster)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"),
                                  pd.read_parquet(local_run / "results.parquet"))
    for store in ("states", "states-random"):  # byte-identical files, meta.parquet included
        assert _sha(out / store) == _sha(local_run / store)
    keys = [str(task["key"]) for task in stream.data]
    assert sum(k.startswith("probe-rnn-capture-") for k in keys) >= 2  # both stores sharded
    # every cell of cells.csv, plus the label probe on training rows (held-out vs training)
    assert sum(k.startswith("probe-rnn-cell-") for k in keys) >= len(
        pd.read_csv(out / "cells.csv"))
    workers = set(cluster.scheduler_info()["workers"])
    assert {task["worker"] for task in stream.data} <= workers


def test_a_worker_killed_mid_run_changes_nothing(cluster, local_run) -> None:
    stores = {"trained": StateStore(local_run / "states")}
    settings = dict(views=["output@last", "h_n/L0/fwd", "h_n/L0/bwd"], tasks=["label", "length"],
                    folds=5, seeds=3, mdl=True)
    expected = run_probes(stores, jobs=1, **settings)
    pids = cluster.run(os.getpid)
    killed: dict[str, int] = {}

    def kill_one(done: int, total: int) -> None:
        if done >= 1 and not killed and done < total:
            address, pid = sorted(pids.items())[0]
            os.kill(pid, signal.SIGKILL)
            killed.update(done=done, total=total)

    got = run_probes(stores, client=cluster, progress=kill_one, **settings)
    assert killed and killed["done"] < killed["total"]  # it died with cells still to run
    pd.testing.assert_frame_equal(got, expected)
    deadline = time.time() + 60  # the nanny restarts it for the other tests
    while len(cluster.scheduler_info()["workers"]) < 2 and time.time() < deadline:
        time.sleep(0.5)


def test_an_unreachable_scheduler_fails_fast_in_one_line(model_and_rows, tmp_path) -> None:
    path, _ = model_and_rows
    start = time.perf_counter()
    proc = run_cli("probe", str(path), "--dataset", "names", "--out", str(tmp_path / "run"),
                   "--scheduler", "tcp://127.0.0.1:9")
    assert_one_line_error(proc, "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'")
    assert time.perf_counter() - start < 30 and not (tmp_path / "run").exists()
    env_bad = run_cli("capture", str(path), "--dataset", "names", "--out", str(tmp_path / "s"),
                      "--scheduler", "local:zero")
    assert_one_line_error(env_bad, "local:N needs a number of workers")


def test_compare_readouts_on_local_cluster_gives_the_same_tables(tmp_path) -> None:
    args = ["compare-readouts", "--dataset", "names", "--max-rows", "300", "--rnn", "gru",
            "--layers", "1", "--no-bidirectional", "--hidden", "8", "--embedding-dim", "8",
            "--readouts", "last,hidden", "--seeds", "2", "--epochs", "1", "--no-probe"]
    local = run_cli(*args, "--jobs", "1", "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    dask = run_cli(*args, "--scheduler", "local:2", "--out", str(tmp_path / "dask"))
    assert dask.returncode == 0, dask.stderr
    for table in ("runs", "summary", "pairs"):
        a = pd.read_csv(tmp_path / "local" / f"{table}.csv")
        b = pd.read_csv(tmp_path / "dask" / f"{table}.csv")
        drop = [c for c in a.columns if "seconds" in c]
        pd.testing.assert_frame_equal(a.drop(columns=drop), b.drop(columns=drop))


def test_plugins_loaded_from_files_travel_to_the_workers(cluster, local_run) -> None:
    from probe_rnn.plugins import registry

    registry.load_folder(Path(__file__).resolve().parents[2] / "probes")
    stores = {"trained": StateStore(local_run / "states")}
    settings = dict(views=["output@last"], tasks=["label", "vowel-ending"],
                    probes=["logistic", "centroid"], folds=3, mdl=False)
    got = run_probes(stores, client=cluster, **settings)
    assert {"centroid"} <= set(got["probe"]) and {"vowel-ending"} <= set(got["task"])
    pd.testing.assert_frame_equal(got, run_probes(stores, jobs=1, **settings))


def test_a_local_cluster_leaves_this_process_environment_as_it_was() -> None:
    # Dask's nannies set OMP_NUM_THREADS=1 here; torch imported after it ran the client's
    # share of a capture single-threaded, with other last bits than a local run
    from probe_rnn.cluster import connect

    before = dict(os.environ)
    with connect("local:1") as client:
        assert len(client.scheduler_info()["workers"]) == 1
        assert dict(os.environ) == before


def test_plugin_probes_that_raise_or_exit_fail_only_their_cells_on_the_cluster(
        cluster, local_run, tmp_path) -> None:
    from probe_rnn.plugins import registry

    (tmp_path / "failing.py").write_text(
        "import sys\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from probe_rnn.plugins import register_probe\n\n"
        "@register_probe('dask-raises')\n"
        "class Raises(LogisticRegression):\n"
        "    def predict(self, X):\n"
        "        raise RuntimeError('boom in predict')\n\n"
        "@register_probe('dask-exits')\n"
        "class Exits(LogisticRegression):\n"
        "    def fit(self, X, y, sample_weight=None):\n"
        "        sys.exit(5)\n")
    registry.load_folder(tmp_path)
    stores = {"trained": StateStore(local_run / "states")}
    try:
        got = run_probes(stores, client=cluster, views=["output@last"], tasks=["label"],
                         probes=["logistic", "dask-raises", "dask-exits"], folds=3, mdl=False)
    finally:
        registry.remove("probe", "dask-raises")
        registry.remove("probe", "dask-exits")
    failed = {f["probe"]: f["reason"] for f in got.attrs["failed_cells"]}
    assert "RuntimeError: boom in predict" in failed["dask-raises"]
    assert "called sys.exit(5)" in failed["dask-exits"] and "failing.py" in failed["dask-exits"]
    assert set(got["probe"]) == {"logistic"}
    expected = run_probes(stores, jobs=1, views=["output@last"], tasks=["label"],
                          probes=["logistic"], folds=3, mdl=False)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))
