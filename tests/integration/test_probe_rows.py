"""`probe` probes rows the model did not train on, says where the split came from, and sets
held-out and training-row accuracy side by side in the report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.cli_support import assert_one_line_error, run_cli

pytestmark = pytest.mark.slow

RUN = ["--folds", "3", "--views", "output@last,h_n/L0/fwd", "--tasks", "label,length",
       "--attribution-rows", "0", "--no-umap", "--no-mdl", "--no-random-baseline", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A table without a split column and a model trained on it (probe-rnn's seeded split)."""
    from probe_rnn.data import load_dataset

    folder = tmp_path_factory.mktemp("rows")
    table = folder / "names.csv"
    load_dataset("names").head(600)[["text", "label"]].to_csv(table, index=False)
    model = folder / "m.pt"
    proc = run_cli("train", "--data", str(table), "--hidden", "8", "--embedding-dim", "8",
                   "--epochs", "1", "--out", str(model))
    assert proc.returncode == 0, proc.stderr
    return table, model


def _probed(out: Path) -> tuple[dict, pd.DataFrame]:
    run = json.loads((out / "run.json").read_text())
    results = pd.read_parquet(out / "results.parquet")
    return run["probed_rows"], results[results["metric"] == "accuracy"]


def test_heldout_rows_of_the_models_own_split_are_probed_by_default(trained, tmp_path) -> None:
    from probe_rnn.data import ensure_splits

    table, model = trained
    out = tmp_path / "run"
    proc = run_cli("probe", str(model), "--data", str(table), "--out", str(out), *RUN)
    assert proc.returncode == 0, proc.stderr[-2000:]
    splits = ensure_splits(pd.read_csv(table), seed=0)["split"]  # what training used
    heldout = int(splits.isin(["dev", "test"]).sum())
    assert "split from the model's own training split (same table, seed 0)" in proc.stderr
    card, accuracy = _probed(out)
    assert card["count"] == heldout and not card["may_include_training_rows"]
    assert ((accuracy["n_train"] + accuracy["n_test"]) == heldout).all()
    training = pd.read_parquet(out / "train-rows.parquet")
    assert set(training["view"]) == {"output@last", "h_n/L0/fwd"}
    assert set(training["task"]) == {"label"}
    page = (out / "index.html").read_text()
    assert "Held-out rows vs training rows" in page
    assert f"Rows: {heldout} held-out (dev + test) rows probed" in page


def test_a_split_that_may_not_be_the_models_is_said_to(trained, tmp_path) -> None:
    table, model = trained
    out = tmp_path / "run"
    proc = run_cli("probe", str(model), "--data", str(table), "--out", str(out), "--seed", "1",
                   *RUN)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "these rows may include rows it trained on" in proc.stderr
    card, _ = _probed(out)
    assert card["may_include_training_rows"] and not card["split_is_the_models"]
    assert "may include rows it trained on" in (out / "index.html").read_text()


def test_probe_rows_all_and_a_bad_choice(trained, tmp_path) -> None:
    table, model = trained
    out = tmp_path / "all"
    proc = run_cli("probe", str(model), "--data", str(table), "--out", str(out),
                   "--probe-rows", "all", *RUN)
    assert proc.returncode == 0, proc.stderr[-2000:]
    card, accuracy = _probed(out)
    assert card["count"] == 600 and ((accuracy["n_train"] + accuracy["n_test"]) == 600).all()
    assert not (out / "train-rows.parquet").exists()
    bad = run_cli("probe", str(model), "--data", str(table), "--out", str(tmp_path / "bad"),
                  "--probe-rows", "dev", *RUN)
    assert assert_one_line_error(bad, "'dev'").startswith("error: --probe-rows ")
    assert not (tmp_path / "bad").exists()
