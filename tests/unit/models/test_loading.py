"""load_model's own logic: which class names a model gets (given, the file's, or the output
indices) and that they fit its outputs; vocabulary options only with a vocabulary file; what
a file that is neither a checkpoint nor a state_dict is told; the checksum is the file's
sha256; the origin says how another process loads the same model."""

from __future__ import annotations

import hashlib

import pytest
import torch

from probe_rnn.errors import CheckpointError, ConfigError
from probe_rnn.models import load_model
from tests.unit.models.models_support import TEXTS

FACTORY = '''
import torch
from torch import nn
from probe_rnn.data import Tokenizer

class Tagger(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.emb = nn.Embedding(vocab, 4)
        self.gru = nn.GRU(4, 3, batch_first=True)
        self.out = nn.Linear(3, 3)

    def forward(self, ids):
        return self.out(self.gru(self.emb(ids))[0][:, -1])

def build():
    torch.manual_seed(0)
    return {"model": Tagger(len(Tokenizer("char").fit(TEXTS))),
            "tokenizer": Tokenizer("char").fit(TEXTS)}

def build_named():
    return {**build(), "labels": ["a", "b", "c"]}

def build_two():
    return {**build(), "labels": ["a", "b"]}
'''


@pytest.fixture()
def weights(tmp_path):
    """A bare state_dict of the factory's model, and the factory file."""
    source = tmp_path / "tagger.py"
    source.write_text(f"TEXTS = {TEXTS!r}\n" + FACTORY)
    namespace: dict = {}
    exec(compile(source.read_text(), str(source), "exec"), namespace)  # noqa: S102
    path = tmp_path / "tagger.pt"
    torch.save(namespace["build"]()["model"].state_dict(), path)
    return path, source


def test_without_names_the_classes_are_the_output_indices(weights) -> None:
    path, source = weights
    bundle = load_model(path, factory=f"{source}:build")
    assert bundle.labels == ["0", "1", "2"]  # the head has 3 outputs
    assert bundle.checksum == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not bundle.model.training
    assert bundle.origin == {"path": str(path.resolve()), "options": {
        "factory": f"{source.resolve()}:build", "adapter": None, "trust_checkpoint": False,
        "vocab": None, "tokenizer": None, "pad_id": None, "unk": None, "layout": "auto",
        "labels": None, "pad_to": None, "bos": None, "eos": None, "collate": None,
        "texts": None}}


def test_given_names_win_and_must_match_the_outputs(weights) -> None:
    path, source = weights
    assert load_model(path, factory=f"{source}:build_named").labels == ["a", "b", "c"]
    assert load_model(path, factory=f"{source}:build_named",
                      labels=["x", "y", "z"]).labels == ["x", "y", "z"]
    with pytest.raises(ConfigError, match="labels= names 2 classes but the model has 3 "
                                          "outputs") as caught:
        load_model(path, factory=f"{source}:build", labels=["x", "y"])
    assert caught.value.parameters == ("labels",)
    with pytest.raises(CheckpointError, match=r"the model has 3 outputs but 2 labels \(a, b\): "
                                              "pass labels="):
        load_model(path, factory=f"{source}:build_two")


def test_a_factory_given_as_a_function_has_no_origin(weights) -> None:
    path, source = weights
    namespace: dict = {}
    exec(compile(source.read_text(), str(source), "exec"), namespace)  # noqa: S102
    bundle = load_model(path, factory=namespace["build"])
    assert bundle.origin is None and bundle.labels == ["0", "1", "2"]


@pytest.mark.parametrize("option", [{"tokenizer": "char"}, {"pad_id": 0}, {"unk": "<unk>"}])
def test_vocabulary_options_need_the_vocabulary_file(tmp_path, option: dict) -> None:
    name = next(iter(option))
    with pytest.raises(ConfigError, match=f"{name}= describe\\(s\\) a vocabulary file: pass "
                                          "vocab="):
        load_model(tmp_path / "never-read.pt", **option)


def test_a_file_of_something_else_says_how_to_save_a_model(tmp_path) -> None:
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="holds a list, neither a probe-rnn checkpoint nor "
                                              "a state_dict: save the model with"):
        load_model(path)


def test_non_finite_weights_are_refused(weights, tmp_path) -> None:
    path, source = weights
    state = torch.load(path, weights_only=True)
    state["out.bias"][1] = float("nan")
    bad = tmp_path / "nan.pt"
    torch.save(state, bad)
    with pytest.raises(CheckpointError, match=r"nan\.pt' are not finite: out\.bias holds 1 "
                                              "NaN and 0 inf of 3 values"):
        load_model(bad, factory=f"{source}:build")
