"""Your own model end to end: the README's three model shapes, copied from the README into files
as a user would, run by `probe-rnn probe` and `probe-rnn attribute` with `--vocab` and no
adapter code. Their captured states equal those of the same model wrapped by hand (an adapter
written here, the old glue), and a time-major model's token attributions equal those of its
batch-first twin."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from probe_rnn.capture import StateStore, capture_states
from probe_rnn.data import load_dataset
from probe_rnn.models import ModelBundle
from tests.integration.cli_support import assert_one_line_error, import_file, readme_models, run_cli

# file -> (ids layout, takes lengths, embedding name), as the README describes each shape
SHAPES = {
    "packed_lstm.py": ("batch", True, "embedding"),
    "time_major_gru.py": ("time", False, "embedding"),
    "sentiment_rnn.py": ("time", True, "word_embeddings"),
}
LABELS = "female,male"




@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """README model files, vocab.json beside them, a small table and one checkpoint each."""
    folder = tmp_path_factory.mktemp("own")
    names = load_dataset("names")
    chars = sorted(set("".join(names["text"])))
    vocab = {"<pad>": 0, "<unk>": 1, **{c: i + 2 for i, c in enumerate(chars)}}
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    sample = names.sample(90, random_state=4)[["text", "label", "split"]]
    # longest first: the hand-written glue below calls sentiment_rnn.py, which packs with
    # enforce_sorted=True, as its tutorial's sorted batches did
    order = sample["text"].str.len().sort_values(ascending=False, kind="stable").index
    sample.loc[order].to_csv(folder / "names.csv", index=False)
    for name, code in readme_models().items():
        if name not in SHAPES:
            continue
        (folder / name).write_text(code, encoding="utf-8")
        torch.manual_seed(11)
        model = import_file(folder / name, "readme").build()
        torch.save(model.state_dict(), folder / f"{Path(name).stem}.pt")
    return folder


class HandAdapter:
    """What a user had to write before: encode with the vocabulary, transpose, call."""

    def __init__(self, vocab: dict[str, int], layout: str, lengths: bool) -> None:
        self.vocab, self.layout, self.lengths = vocab, layout, lengths

    def encode(self, texts):
        rows = [[self.vocab.get(c, 1) for c in t] for t in texts]
        ids = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = torch.tensor(row)
        return {"ids": ids, "lengths": torch.tensor([len(r) for r in rows])}

    def forward(self, model, batch):
        ids = batch["ids"].t() if self.layout == "time" else batch["ids"]
        out = model(ids, batch["lengths"]) if self.lengths else model(ids)
        return torch.cat([-out / 2, out / 2], dim=1) if out.shape[1] == 1 else out

    def tokens(self, text):
        return list(text)


def _by_hand(work: Path, name: str) -> ModelBundle:
    layout, lengths, _ = SHAPES[name]
    model = import_file(work / name, "readme").build()
    model.load_state_dict(torch.load(work / f"{Path(name).stem}.pt", weights_only=True))
    vocab = json.loads((work / "vocab.json").read_text(encoding="utf-8"))
    return ModelBundle(model=model.eval(), tokenizer=None, labels=LABELS.split(","),
                       config=None, meta={}, adapter=HandAdapter(vocab, layout, lengths))


def _model_args(work: Path, name: str) -> list[str]:
    return [str(work / f"{Path(name).stem}.pt"), "--model", f"{work / name}:build",
            "--vocab", str(work / "vocab.json"), "--tokenizer", "char", "--labels", LABELS]


def test_the_readme_shows_the_three_shapes() -> None:
    assert set(SHAPES) <= set(readme_models())  # test_own_model_shapes.py runs the others


@pytest.mark.parametrize("name", list(SHAPES))
def test_probe_and_attribute_run_on_each_shape_with_no_adapter_code(work, name, tmp_path):
    layout, lengths, embedding = SHAPES[name]
    inspect = run_cli("inspect", *_model_args(work, name))
    assert inspect.returncode == 0, inspect.stderr
    called = next(line for line in inspect.stdout.splitlines() if line.startswith("called as"))
    assert f"ids {layout}-major (detected" in called
    assert ("model(ids, lengths)" if lengths else "model(ids)") in called
    assert f"token embedding: {embedding}" in inspect.stdout

    out = tmp_path / "run"
    probe = run_cli("probe", *_model_args(work, name), "--data", str(work / "names.csv"),
                    "--out", str(out), "--tasks", "label,length", "--folds", "3", "--no-mdl",
                    "--no-random-baseline", "--no-umap", "--attribution-rows", "3", "--jobs",
                    "1", "-q")
    assert probe.returncode == 0, probe.stderr
    results = pd.read_csv(out / "results.csv")
    assert {"label", "length"} <= set(results["task"])
    assert (out / "attribution" / "manifest.json").is_file()

    mine = StateStore(out / "states")
    hand = capture_states(_by_hand(work, name), pd.read_csv(work / "names.csv"), tmp_path / "hand",
                   views=mine.views)
    assert mine.n_rows == hand.n_rows == 90
    np.testing.assert_array_equal(mine.lengths(), hand.lengths())
    for view in mine.views:
        if mine.kind(view) == "sentence":
            np.testing.assert_allclose(mine.sentence(view), hand.sentence(view), atol=1e-6,
                                       err_msg=view)
        else:
            np.testing.assert_allclose(mine.tokens(view)[0], hand.tokens(view)[0], atol=1e-6,
                                       err_msg=view)

    attributed = run_cli("attribute", *_model_args(work, name), "--data",
                         str(work / "names.csv"), "--out", str(tmp_path / "attr"), "--rows", "3",
                         "--steps", "16")
    assert attributed.returncode == 0, attributed.stderr
    manifest = json.loads((tmp_path / "attr" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["worst_token_completeness_error"] < 1e-2


TWIN = '''
import json
from pathlib import Path

from torch import nn

VOCAB = json.loads(Path(__file__).with_name("vocab.json").read_text())


class BatchFirstGRU(nn.Module):
    """time_major_gru.py's model, reading (batch, time): same parameters, same names."""

    def __init__(self, vocab_size, emb_dim=32, hidden=48, n_labels=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.rnn = nn.GRU(emb_dim, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, n_labels)

    def forward(self, ids):
        output, hidden = self.rnn(self.embedding(ids))
        return self.fc(hidden[-1])


def build():
    return BatchFirstGRU(len(VOCAB))
'''


def test_time_major_attributions_equal_the_batch_first_twin(work, tmp_path):
    (work / "twin_gru.py").write_text(TWIN, encoding="utf-8")
    runs = {}
    for factory in ("time_major_gru.py", "twin_gru.py"):
        out = tmp_path / factory
        proc = run_cli("attribute", str(work / "time_major_gru.pt"), "--model",
                       f"{work / factory}:build", "--vocab", str(work / "vocab.json"),
                       "--tokenizer", "char", "--data", str(work / "names.csv"), "--out",
                       str(out), "--rows", "6", "--steps", "32")
        assert proc.returncode == 0, proc.stderr
        runs[factory] = out
    layout = run_cli("inspect", str(work / "time_major_gru.pt"), "--model",
                     f"{work / 'twin_gru.py'}:build", "--vocab", str(work / "vocab.json"))
    assert "ids batch-major" in layout.stdout  # the twin really is batch-first
    for file in ("tokens.parquet", "probe_tokens.parquet"):
        a = pd.read_parquet(runs["time_major_gru.py"] / file)
        b = pd.read_parquet(runs["twin_gru.py"] / file)
        assert len(a) == len(b) > 0
        np.testing.assert_allclose(a["attribution"], b["attribution"], atol=1e-4, err_msg=file)
    steps_a = pd.read_parquet(runs["time_major_gru.py"] / "steps.parquet")
    steps_b = pd.read_parquet(runs["twin_gru.py"] / "steps.parquet")
    np.testing.assert_allclose(steps_a["attribution"], steps_b["attribution"], atol=1e-4)


def test_a_wrong_layout_or_vocabulary_is_one_line_naming_forward(work, tmp_path):
    args = _model_args(work, "sentiment_rnn.py")
    wrong = run_cli("inspect", *args, "--layout", "batch")
    assert_one_line_error(wrong, "SentimentRNN.forward(text, text_lengths)", "(3, 5)",
                          "--layout")
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"<pad>": 0, "<unk>": 1, "a": 500}), encoding="utf-8")
    outside = run_cli("inspect", *args[:3], "--vocab", str(small), "--tokenizer", "char")
    assert_one_line_error(outside, "id 500", "'a'", "rows")
    lines = tmp_path / "vocab.txt"
    lines.write_text("<pad>\nb\nc\n", encoding="utf-8")  # no unknown token
    unknown = run_cli("capture", *args[:3], "--vocab", str(lines), "--tokenizer", "char",
                      "--data", str(work / "names.csv"), "--out", str(tmp_path / "s"))
    assert_one_line_error(unknown, "is not in vocabulary 'vocab.txt'", "--unk")
    assert not (tmp_path / "s" / "manifest.json").exists()
