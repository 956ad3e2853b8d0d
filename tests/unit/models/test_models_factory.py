"""Foreign models: factories from a module or a file, state_dicts, adapters, one-line errors."""

from __future__ import annotations

import textwrap

import pytest
import torch
from models_support import TEXTS

from probe_rnn.errors import CheckpointError, ConfigError, InputFileError
from probe_rnn.models import (
    IdsAdapter,
    IdsLengthsAdapter,
    ModelBundle,
    describe_recurrent,
    load_model,
    resolve_factory,
    save_checkpoint,
)

FACTORY_SOURCE = textwrap.dedent(
    '''
    import torch
    from torch import nn
    from probe_rnn.data import Tokenizer

    TEXTS = {texts!r}

    class Tagger(nn.Module):
        """A foreign model called as model(ids)."""

        def __init__(self, vocab, hidden={hidden}):
            super().__init__()
            self.emb = nn.Embedding(vocab, 4)
            self.gru = nn.GRU(4, hidden, batch_first=True)
            self.out = nn.Linear(hidden, 3)

        def forward(self, ids):
            return self.out(self.gru(self.emb(ids))[0][:, -1])

    class Counter(nn.Module):
        """A foreign model called as model(ids, lengths)."""

        def __init__(self, vocab):
            super().__init__()
            self.emb = nn.Embedding(vocab, 4)
            self.lstm = nn.LSTM(4, 3, num_layers=2, batch_first=True, bidirectional=True)
            self.out = nn.Linear(6, 2)

        def forward(self, ids, lengths):
            out = self.lstm(self.emb(ids))[0]
            return self.out(out[torch.arange(len(ids)), lengths - 1])

    def build():
        tok = Tokenizer("char").fit(TEXTS)
        torch.manual_seed(1)
        return {{"model": Tagger(len(tok)), "tokenizer": tok, "labels": ["a", "b", "c"]}}

    def build_counter():
        tok = Tokenizer("char").fit(TEXTS)
        torch.manual_seed(2)
        return {{"model": Counter(len(tok)), "tokenizer": tok}}

    def bare():
        return Tagger(len(Tokenizer("char").fit(TEXTS)))

    def broken():
        raise RuntimeError("no GPU here")

    def wrong():
        return 42
    '''
)


@pytest.fixture
def factory_file(tmp_path):
    path = tmp_path / "foreign_models.py"
    path.write_text(FACTORY_SOURCE.format(texts=TEXTS, hidden=5))
    return path


def _built(factory_file, name="build"):
    return resolve_factory(f"{factory_file}:{name}")()


def test_file_factory_state_dict_round_trip(tmp_path, factory_file) -> None:
    built = _built(factory_file)
    torch.manual_seed(9)  # weights that differ from what the factory builds
    for p in built["model"].parameters():
        p.data.normal_()
    torch.save(built["model"].state_dict(), tmp_path / "sd.pt")
    bundle = load_model(tmp_path / "sd.pt", factory=f"{factory_file}:build")
    assert isinstance(bundle.adapter, IdsAdapter) and bundle.config is None
    assert bundle.labels == ["a", "b", "c"]
    assert bundle.format == f"state_dict + factory {factory_file}:build"
    ids, _ = built["tokenizer"].encode_batch(TEXTS)
    with torch.no_grad():
        expected = built["model"].eval()(ids)
    assert torch.equal(bundle.predict_logits(TEXTS, batch_size=64), expected)


def test_module_factory_with_lengths_and_nested_state_dict(tmp_path, factory_file, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    built = _built(factory_file, "build_counter")
    torch.save({"epoch": 3, "state_dict": built["model"].state_dict()}, tmp_path / "ck.pt")
    bundle = load_model(tmp_path / "ck.pt", factory="foreign_models:build_counter")
    assert isinstance(bundle.adapter, IdsLengthsAdapter)
    assert bundle.labels == ["0", "1"]  # no labels given: class indices of the last Linear
    ids, lengths = built["tokenizer"].encode_batch(TEXTS)
    with torch.no_grad():
        expected = built["model"].eval()(ids, lengths)
    torch.testing.assert_close(bundle.predict_logits(TEXTS), expected)
    assert describe_recurrent(bundle.model)[0] == {
        "name": "lstm", "type": "LSTM", "layers": 2, "directions": 2, "hidden": 3,
        "proj_size": 0,
        "parameters": sum(p.numel() for p in built["model"].lstm.parameters()),
    }


def test_foreign_bundle_saved_as_probe_rnn_checkpoint_needs_its_factory(tmp_path, factory_file):
    built = _built(factory_file)
    bundle = ModelBundle(built["model"], built["tokenizer"], built["labels"], None, {"k": 1},
                         IdsAdapter(built["tokenizer"]))
    save_checkpoint(tmp_path / "f.pt", bundle)
    with pytest.raises(CheckpointError, match="without an architecture: pass factory="):
        load_model(tmp_path / "f.pt")
    again = load_model(tmp_path / "f.pt", factory=f"{factory_file}:bare", adapter="ids")
    assert again.meta == {"k": 1} and again.labels == ["a", "b", "c"]
    assert again.tokenizer == built["tokenizer"]
    assert torch.equal(again.predict_logits(TEXTS), bundle.predict_logits(TEXTS))


def test_mismatched_weights_list_the_keys(tmp_path, factory_file) -> None:
    torch.save(_built(factory_file, "build_counter")["model"].state_dict(), tmp_path / "sd.pt")
    with pytest.raises(CheckpointError) as info:
        load_model(tmp_path / "sd.pt", factory=f"{factory_file}:build")
    message = str(info.value)
    assert "missing keys emb.weight" not in message  # emb exists in both
    assert "missing keys gru.weight_ih_l0" in message and "unexpected keys lstm." in message
    assert "more)" in message and "\n" not in message


def test_shape_mismatch_is_reported(tmp_path, factory_file) -> None:
    path = tmp_path / "other_sizes.py"
    path.write_text(FACTORY_SOURCE.format(texts=TEXTS, hidden=7))
    torch.save(_built(path)["model"].state_dict(), tmp_path / "sd.pt")
    with pytest.raises(CheckpointError, match=r"shape \(file vs model\) gru.weight_ih_l0"):
        load_model(tmp_path / "sd.pt", factory=f"{factory_file}:build")


@pytest.mark.parametrize(
    ("spec", "error", "text"),
    [
        ("no_such_module_xyz:build", ConfigError,
         "cannot import factory module 'no_such_module_xyz' (ModuleNotFoundError"),
        ("no_colon_here", ConfigError, "must look like package.module:function"),
        ("missing_file.py:build", InputFileError, "factory file 'missing_file.py' does not exist"),
    ],
)
def test_factory_spec_errors(tmp_path, bundle, spec, error, text) -> None:
    torch.save(bundle.model.state_dict(), tmp_path / "sd.pt")
    with pytest.raises(error) as info:
        load_model(tmp_path / "sd.pt", factory=spec)
    assert text in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "error", "text"),
    [
        ("nothing", ConfigError, "has no attribute 'nothing'"),
        ("broken", CheckpointError, "failed (RuntimeError: no GPU here)"),
        ("wrong", ConfigError, "returned a int; it must return an nn.Module"),
    ],
)
def test_factory_function_errors(factory_file, tmp_path, bundle, name, error, text) -> None:
    torch.save(bundle.model.state_dict(), tmp_path / "sd.pt")
    with pytest.raises(error, match=None) as info:
        load_model(tmp_path / "sd.pt", factory=f"{factory_file}:{name}")
    assert text in str(info.value)


def test_factory_file_that_fails_to_import(tmp_path, bundle) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import no_such_dependency_abc\n")
    torch.save(bundle.model.state_dict(), tmp_path / "sd.pt")
    with pytest.raises(ConfigError, match="No module named 'no_such_dependency_abc'"):
        load_model(tmp_path / "sd.pt", factory=f"{bad}:build")


def test_adapter_without_tokenizer_says_what_to_return(tmp_path, factory_file) -> None:
    torch.save(_built(factory_file, "bare").state_dict(), tmp_path / "sd.pt")
    bundle = load_model(tmp_path / "sd.pt", factory=f"{factory_file}:bare")
    assert bundle.tokenizer is None
    with pytest.raises(ConfigError, match="needs a tokenizer .*: pass vocab=FILE"):
        bundle.predict_logits(["abc"])


def test_a_factory_file_imports_the_modules_beside_it(tmp_path) -> None:
    (tmp_path / "mymodel_neighbour.py").write_text(textwrap.dedent("""
        from torch import nn

        class Tiny(nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding = nn.Embedding(30, 4)
                self.rnn = nn.GRU(4, 3, batch_first=True)
                self.fc = nn.Linear(3, 2)

            def forward(self, ids):
                return self.fc(self.rnn(self.embedding(ids))[1][-1])
        """))
    factory = tmp_path / "build_it.py"
    factory.write_text("from mymodel_neighbour import Tiny\n\ndef build():\n    return Tiny()\n")
    built = resolve_factory(f"{factory}:build")()
    torch.save(built.state_dict(), tmp_path / "sd.pt")
    bundle = load_model(tmp_path / "sd.pt", factory=f"{factory}:build")
    assert type(bundle.model).__name__ == "Tiny" and bundle.labels == ["0", "1"]
    assert "ids batch-major (detected" in bundle.card()["call"]
