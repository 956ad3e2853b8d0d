"""``attribute`` end to end on quickly trained tiny models: files, schema, rules, determinism."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from probe_rnn.attribution import attribute, select_rows
from probe_rnn.data import load_dataset
from probe_rnn.errors import ConfigError
from probe_rnn.models import Architecture, TrainBudget, train


def _short(name: str, max_words: int = 10) -> pd.DataFrame:
    df = load_dataset(name)
    return df[df["text"].str.split().str.len() <= max_words].reset_index(drop=True)


@pytest.fixture(scope="module")
def first_model():
    """Unidirectional LSTM (hidden 16) on synthetic-first; mean readout learns it in seconds."""
    df = _short("synthetic-first")
    result = train(df, Architecture(hidden=16, embedding_dim=16),
                   TrainBudget(epochs=10, lr=1e-2, batch_size=16, patience=20),
                   tokenizer="word", readout="mean", seed=0)
    assert result.test_accuracy > 0.9
    return result.bundle, df


def test_first_token_rule_gets_largest_attribution(first_model, tmp_path):
    bundle, df = first_model
    res = attribute(bundle, df, tmp_path, rows=20, n_steps=32, state_steps=4, seed=0)
    top = res.tokens.loc[res.tokens["attribution"].abs().groupby(res.tokens["row"]).idxmax()]
    assert (top["position"] == 0).mean() >= 0.8
    # a trained model's path can be sharp: the errors are reported (and checked on tiny
    # models in test_tokens / test_steps), here only required to be computed
    assert res.examples["completeness_error"].notna().all()
    assert res.steps["completeness_error"].notna().all()


def test_last_token_rule_gets_largest_attribution(tmp_path):
    df = _short("synthetic-last")
    result = train(df, Architecture(hidden=16, embedding_dim=16),
                   TrainBudget(epochs=6, lr=1e-2, batch_size=16), tokenizer="word", seed=0)
    assert result.test_accuracy > 0.9
    res = attribute(result.bundle, df, tmp_path, rows=16, n_steps=32, state_steps=8, seed=0)
    last = res.tokens.groupby("row")["position"].transform("max")
    top = res.tokens.assign(last=last).loc[
        res.tokens["attribution"].abs().groupby(res.tokens["row"]).idxmax()]
    assert (top["position"] == top["last"]).mean() >= 0.8


def test_files_schema_and_manifest_last(first_model, tmp_path):
    bundle, df = first_model
    res = attribute(bundle, df, tmp_path, rows=[3, 17, 42], n_steps=16, state_steps=8,
                    method="saliency")
    cols = {
        "tokens.parquet": ["row", "position", "token", "attribution", "target_label",
                           "prediction", "text", "method"],
        "examples.parquet": ["row", "text", "label", "prediction", "probability", "f_x",
                             "f_baseline", "attribution_sum", "delta", "completeness_error"],
        "steps.parquet": ["row", "layer", "direction", "state", "t", "t_from_end",
                          "attribution", "share"],
        "neurons.parquet": ["view", "neuron", "score", "rank", "probe_weight", "label"],
    }
    for name, want in cols.items():
        frame = pd.read_parquet(tmp_path / name)
        assert list(frame.columns[: len(want)]) == want, name
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(summary.columns) == ["what", "view", "layer", "direction", "step", "share",
                                     "completeness_error", "n"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    newest = max((tmp_path / n).stat().st_mtime_ns for n in manifest["files"])
    assert (tmp_path / "manifest.json").stat().st_mtime_ns >= newest
    assert sorted(res.examples["row"]) == [3, 17, 42]
    lengths = bundle.adapter.encode(df["text"].iloc[[3, 17, 42]].tolist())["lengths"]
    assert len(res.tokens) == int(lengths.sum())  # padding never appears
    assert "<table" in res._repr_html_()


def test_deterministic_for_a_seed(first_model, tmp_path):
    bundle, df = first_model
    a = attribute(bundle, df, tmp_path / "a", rows=4, n_steps=8, state_steps=4, seed=3)
    b = attribute(bundle, df, tmp_path / "b", rows=4, n_steps=8, state_steps=4, seed=3)
    pd.testing.assert_frame_equal(a.tokens, b.tokens)
    pd.testing.assert_frame_equal(a.steps, b.steps)


def test_progress_ends_at_its_total_counting_each_chunk_of_taps(first_model, tmp_path):
    bundle, df = first_model
    seen: list[tuple[int, int, str]] = []
    attribute(bundle, df, tmp_path, rows=4, n_steps=8, state_steps=4, seed=3,
              internal_batch_size=8, progress=lambda *call: seen.append(call))
    done = [d for d, _, _ in seen]
    assert done == sorted(done) and seen[-1][0] == seen[-1][1] and seen[-1][2] == "probes"
    assert seen[-1][1] > 4  # the per-step stage's chunks are parts of the work
    assert [w for _, _, w in seen].count("steps") == seen[-1][1] - 3 + 1


def test_select_rows_is_stratified_and_validated():
    df = pd.DataFrame({"text": list("abcdefghij"), "label": ["x"] * 8 + ["y"] * 2})
    rows = select_rows(df, 4, seed=0)
    assert len(rows) == 4 and {8, 9} <= set(rows.tolist())
    assert select_rows(df, 4, seed=0).tolist() == rows.tolist()
    with pytest.raises(ConfigError, match="row numbers"):
        select_rows(df, [3, 99], seed=0)
