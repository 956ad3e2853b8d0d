"""A model whose forward takes the initial state: `forward(x, hidden)` with `hidden =
net.init_hidden(batch_size)` (zeros), fixed-length left-padded features, the shape of a widely
copied LSTM sentiment tutorial. Its collate returns `(features, (h_0, c_0))`; capture, attribute
(which rebuilds batches of other sizes, so the zero state must be resized) and inspect exit 0,
and the captured `output@last` and `h_n` equal the module's own output on the same batches."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from probe_rnn.capture import StateStore
from probe_rnn.data import load_dataset
from probe_rnn.errors import ConfigError
from probe_rnn.models.collate import CollateAdapter
from tests.integration.cli_support import run_cli

MODEL = '''
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

VOCAB = json.loads(Path(__file__).with_name("vocab.json").read_text())
SEQ = 12


class SentimentRNN(nn.Module):
    def __init__(self, vocab_size, output_size, embedding_dim, hidden_dim, n_layers):
        super().__init__()
        self.n_layers, self.hidden_dim = n_layers, hidden_dim
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, n_layers, batch_first=True)
        self.fc = nn.Linear(hidden_dim, output_size)

    def forward(self, x, hidden):
        batch_size = x.size(0)
        lstm_out, hidden = self.lstm(self.embedding(x), hidden)
        out = self.fc(lstm_out.contiguous().view(-1, self.hidden_dim))
        return out.view(batch_size, -1)[:, -1], hidden

    def init_hidden(self, batch_size):
        weight = next(self.parameters()).data
        return (weight.new(self.n_layers, batch_size, self.hidden_dim).zero_(),
                weight.new(self.n_layers, batch_size, self.hidden_dim).zero_())


def pad_features(reviews_ints, seq_length):
    features = np.zeros((len(reviews_ints), seq_length), dtype=int)
    for i, row in enumerate(reviews_ints):
        features[i, -len(row):] = np.array(row)[:seq_length]
    return features


def build():
    return SentimentRNN(len(VOCAB) + 1, 1, 8, 12, 2)


def collate(texts):
    features = torch.from_numpy(pad_features([[VOCAB[w] for w in t.split()] for t in texts], SEQ))
    return features, build().init_hidden(len(texts))
'''
BATCH = 16


def _import(path: Path):
    spec = importlib.util.spec_from_file_location("collate_state_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("initial_state")
    table = load_dataset("synthetic").sample(40, random_state=2)
    words = sorted({w for t in table["text"] for w in t.split()})
    (folder / "vocab.json").write_text(json.dumps({w: i + 1 for i, w in enumerate(words)}))
    table[["text", "label", "split"]].to_csv(folder / "data.csv", index=False)
    (folder / "sentiment.py").write_text(MODEL, encoding="utf-8")
    torch.manual_seed(4)
    torch.save(_import(folder / "sentiment.py").build().state_dict(), folder / "model.pt")
    return folder


def _flags(work: Path) -> list[str]:
    return [str(work / "model.pt"), "--model", f"{work / 'sentiment.py'}:build", "--vocab",
            str(work / "vocab.json"), "--collate", f"{work / 'sentiment.py'}:collate",
            "--labels", "neg,pos", "--data", str(work / "data.csv")]


def _reference(work: Path, texts: list[str]) -> dict[str, np.ndarray]:
    module = _import(work / "sentiment.py")
    model = module.build()
    model.load_state_dict(torch.load(work / "model.pt", weights_only=True))
    model.eval()
    found: dict[str, list] = {}
    for start in range(0, len(texts), BATCH):
        features, hidden = module.collate(texts[start:start + BATCH])
        with torch.no_grad():
            output, _ = model.lstm(model.embedding(features), hidden)
            _, (h_n, _) = model.lstm(model.embedding(features), hidden)
        found.setdefault("output@last", []).append(output[:, -1].numpy())  # left-padded
        for layer in range(h_n.shape[0]):
            found.setdefault(f"h_n/L{layer}/fwd", []).append(h_n[layer].numpy())
    return {view: np.concatenate(parts) for view, parts in found.items()}


@pytest.mark.slow
def test_a_collate_passing_the_initial_state_runs_in_every_command(work, tmp_path) -> None:
    inspect = run_cli("inspect", *_flags(work))
    assert inspect.returncode == 0, inspect.stderr
    cap = run_cli("capture", *_flags(work), "--out", str(tmp_path / "states"), "--batch-size",
                  str(BATCH), "--dtype", "float32")
    assert cap.returncode == 0, cap.stderr
    store = StateStore(tmp_path / "states")
    texts = pd.read_csv(work / "data.csv")["text"].astype(str).tolist()
    for view, values in _reference(work, texts).items():
        np.testing.assert_allclose(store.sentence(view), values, atol=1e-5, err_msg=view)
    attributed = run_cli("attribute", *_flags(work), "--out", str(tmp_path / "attr"), "--rows",
                         "3", "--steps", "16")
    assert attributed.returncode == 0, attributed.stderr
    manifest = json.loads((tmp_path / "attr" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["worst_token_completeness_error"] < 5e-2


def test_a_per_row_item_that_differs_between_rows_is_refused_by_name(work) -> None:
    module = _import(work / "sentiment.py")
    model = module.build().eval()

    def noisy(texts):
        features, _ = module.collate(texts)
        return features, tuple(torch.randn(2, len(texts), 12) for _ in range(2))

    adapter = CollateAdapter(noisy, "noisy", model)
    batch = adapter.encode(["good fish", "bad cat sat", "the sun"])
    rebuilt = {"ids": batch["ids"][:2], "lengths": batch["lengths"][:2]}
    with pytest.raises(ConfigError, match="same for every row"):
        adapter.forward(model, rebuilt)
    zeros = CollateAdapter(module.collate, "zeros", model)
    batch = zeros.encode(["good fish", "bad cat sat", "the sun"])
    logits = zeros.forward(model, {"ids": batch["ids"][:2], "lengths": batch["lengths"][:2]})
    with torch.no_grad():
        alone = model(batch["ids"][:2], model.init_hidden(2))[0]
    np.testing.assert_allclose(logits[:, 1].detach().numpy(), alone.detach().numpy() / 2, atol=1e-6)
