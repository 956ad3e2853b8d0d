"""``probe-rnn attribute`` on a tiny trained checkpoint: files, summary line, one-line errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from probe_rnn.cli import main
from probe_rnn.data import load_dataset
from probe_rnn.models import Architecture, TrainBudget, save_checkpoint, train


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attr-cli")
    df = load_dataset("synthetic-last")
    df = df[df["text"].str.split().str.len() <= 8].reset_index(drop=True)
    data = folder / "data.csv"
    df[["text", "label", "split"]].to_csv(data, index=False)
    result = train(df, Architecture(hidden=8, embedding_dim=8, layers=2, bidirectional=True),
                   TrainBudget(epochs=2), tokenizer="word", seed=0)
    path = folder / "model.pt"
    save_checkpoint(path, result.bundle)
    return path, data


def test_attribute_command_writes_run_files(checkpoint, tmp_path, capsys):
    model, data = checkpoint
    out = tmp_path / "attr"
    with pytest.raises(SystemExit) as exit_info:
        main(["attribute", str(model), "--data", str(data), "--out", str(out),
              "--ids", "0,2,5", "--steps", "16"])
    assert exit_info.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "worst completeness error" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"] == [0, 2, 5] and manifest["n_steps"] == 16
    tokens = pd.read_parquet(out / "tokens.parquet")
    assert sorted(tokens["row"].unique()) == [0, 2, 5]
    assert manifest["worst_token_completeness_error"] < 5e-2


def test_attribute_command_rejects_unknown_method(checkpoint, tmp_path, capsys):
    model, data = checkpoint
    with pytest.raises(SystemExit) as exit_info:
        main(["attribute", str(model), "--data", str(data), "--out", str(tmp_path),
              "--method", "lime"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --method ") and "'lime'" in err[0]
