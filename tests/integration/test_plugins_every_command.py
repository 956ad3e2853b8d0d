"""Every command loads plugins alike: an adapter plugin in `./probes` (the working folder's) or
in a `--plugins` folder drives `inspect`, `capture`, `probe` and `attribute`, and `report`
accepts `--plugins` too. The model takes ids and a mask, which no detection passes."""

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
from tests.integration.cli_support import assert_one_line_error, run_cli

MODEL = '''
import importlib.util
import json
from pathlib import Path

from torch import nn

VOCAB = json.loads(Path(__file__).with_name("vocab.json").read_text())


class MaskGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(len(VOCAB), 8, padding_idx=0)
        self.gru = nn.GRU(8, 12, batch_first=True)
        self.fc = nn.Linear(12, 2)

    def forward(self, ids, *, mask):
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(ids), mask.sum(1).cpu(), batch_first=True, enforce_sorted=False)
        return self.fc(self.gru(packed)[1][-1])


def build():
    return MaskGRU()
'''

ADAPTER = '''
import torch
from probe_rnn.plugins import register_adapter


@register_adapter("{name}")
class MaskAdapter:
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def encode(self, texts):
        ids, lengths = self.tokenizer.encode_batch(texts)
        mask = torch.arange(ids.shape[1])[None, :] < lengths[:, None]
        return {{"ids": ids, "lengths": lengths, "mask": mask}}

    def forward(self, model, batch):
        mask = torch.arange(batch["ids"].shape[1])[None, :] < batch["lengths"][:, None]
        return model(batch["ids"], mask=mask)

    def tokens(self, text):
        return self.tokenizer.tokenize(text)
'''


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plugins")
    names = load_dataset("names").sample(40, random_state=2)
    chars = sorted(set("".join(names["text"])))
    vocab = {"<pad>": 0, "<unk>": 1, **{c: i + 2 for i, c in enumerate(chars)}}
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    names[["text", "label", "split"]].to_csv(folder / "names.csv", index=False)
    (folder / "mask_gru.py").write_text(MODEL, encoding="utf-8")
    (folder / "probes").mkdir()
    (folder / "probes" / "mask_adapter.py").write_text(ADAPTER.format(name="mask-local"),
                                                       encoding="utf-8")
    (folder / "elsewhere").mkdir()
    (folder / "elsewhere" / "mask_adapter2.py").write_text(ADAPTER.format(name="mask-given"),
                                                           encoding="utf-8")
    torch.manual_seed(0)
    torch.save(_import(folder / "mask_gru.py").build().state_dict(), folder / "mask_gru.pt")
    return folder


def _import(path: Path):
    spec = importlib.util.spec_from_file_location(f"plugins_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _model(work: Path, adapter: str) -> list[str]:
    return ["mask_gru.pt", "--model", "mask_gru.py:build", "--vocab", "vocab.json",
            "--tokenizer", "char", "--labels", "female,male", "--adapter", adapter]


@pytest.mark.slow
@pytest.mark.parametrize("adapter, extra", [("mask-local", []),
                                            ("mask-given", ["--plugins", "elsewhere"])])
def test_an_adapter_plugin_works_in_every_command(work, adapter, extra, tmp_path) -> None:
    run = lambda *args: run_cli(*args, cwd=work)  # noqa: E731  ./probes is work/probes
    inspect = run("inspect", *_model(work, adapter), *extra)
    assert inspect.returncode == 0, inspect.stderr
    assert "MaskAdapter" in inspect.stdout

    states = tmp_path / "states"
    cap = run("capture", *_model(work, adapter), *extra, "--data", "names.csv", "--out",
              str(states), "--dtype", "float32")
    assert cap.returncode == 0, cap.stderr
    store = StateStore(states)
    model = _import(work / "mask_gru.py").build()  # the reference: its module's own h_n
    model.load_state_dict(torch.load(work / "mask_gru.pt", weights_only=True))
    vocab = json.loads((work / "vocab.json").read_text(encoding="utf-8"))
    texts = pd.read_csv(work / "names.csv")["text"].astype(str).tolist()
    ids = torch.nn.utils.rnn.pad_sequence([torch.tensor([vocab[c] for c in t]) for t in texts],
                                          batch_first=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        model.embedding(ids), torch.tensor([len(t) for t in texts]), batch_first=True,
        enforce_sorted=False)
    with torch.no_grad():
        h_n = model.gru(packed)[1][0]
    np.testing.assert_allclose(store.sentence("h_n/L0/fwd"), h_n.detach().numpy(), atol=1e-5)

    out = tmp_path / "run"
    probe = run("probe", *_model(work, adapter), *extra, "--data", "names.csv", "--out",
                str(out), "--tasks", "length", "--folds", "2", "--no-mdl",
                "--no-random-baseline", "--no-umap", "--attribution-rows", "2",
                "--probe-rows", "all", "--jobs", "1", "-q")
    assert probe.returncode == 0, probe.stderr
    attributed = run("attribute", *_model(work, adapter), *extra, "--data", "names.csv",
                     "--out", str(tmp_path / "attr"), "--rows", "2", "--steps", "8")
    assert attributed.returncode == 0, attributed.stderr
    report = run("report", str(out), "--no-umap", *(extra or ["--plugins", "probes"]))
    assert report.returncode == 0, report.stderr


def test_an_adapter_outside_the_plugin_folders_is_unknown_in_one_line(work) -> None:
    proc = run_cli("inspect", *_model(work, "mask-given"), cwd=work)  # no --plugins elsewhere
    assert_one_line_error(proc, "--adapter", "'mask-given'", "mask-local", "--plugins")
