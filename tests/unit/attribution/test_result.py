"""The attribution run's result helpers: the column explained per row, the files written."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from probe_rnn.attribution.result import class_targets, nanmax, start_run, write_frames
from probe_rnn.errors import DataError


def test_class_targets_per_target() -> None:
    df = pd.DataFrame({"label": ["b", "a", "b"]})
    logits = torch.tensor([[0.0, 1.0], [2.0, 0.0], [0.0, 3.0]])
    assert class_targets(df, ["a", "b"], logits, "prediction").tolist() == [1, 0, 1]
    assert class_targets(df, ["a", "b"], logits, "label").tolist() == [1, 0, 1]
    for target in ("score", "continuation"):
        assert class_targets(df, ["x"], logits[:, :1], target).tolist() == [0, 0, 0]
    with pytest.raises(DataError, match="not among the model's labels"):
        class_targets(df, ["a", "c"], logits, "label")


def test_frames_are_written_whole_and_nanmax_skips_nan(tmp_path) -> None:
    frame = pd.DataFrame({"row": [1, 2], "x": [0.5, float("nan")]})
    write_frames(tmp_path, {"a.parquet": frame.iloc[::-1]}, frame)
    back = pd.read_parquet(tmp_path / "a.parquet")
    assert back["row"].tolist() == [2, 1] and list(back.index) == [0, 1]
    assert pd.read_csv(tmp_path / "summary.csv")["row"].tolist() == [1, 2]
    assert nanmax(frame["x"]) == 0.5 and nanmax(pd.Series([math.nan])) is None


def test_a_run_starts_without_a_manifest_and_with_its_rows(tmp_path) -> None:
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    df = pd.DataFrame({"text": list("abcdef"), "label": ["x", "y"] * 3})
    out, picked, sub = start_run(tmp_path, df, [4, 1], seed=0)
    assert out == tmp_path and not (tmp_path / "manifest.json").exists()
    assert picked.tolist() == [1, 4] and sub["text"].tolist() == ["b", "e"]
    assert list(sub.index) == [0, 1]
