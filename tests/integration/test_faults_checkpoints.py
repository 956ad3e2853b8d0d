"""Checkpoints written with the standard library's ``pickle.dump`` instead of ``torch.save``:
recognised from their opcodes without running any code (refused naming the class they pickle,
or reported as truncated), read with ``pickle.load`` only under ``--trust-checkpoint``, and then
probed end to end like any other model."""

from __future__ import annotations

import pathlib
import pickle
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch

from probe_rnn.data import Tokenizer, load_dataset
from probe_rnn.errors import CheckpointError, UntrustedCheckpointError
from probe_rnn.models import ModelConfig, RNNClassifier, load_model
from probe_rnn.models.checkpoint import read_checkpoint
from tests.integration.cli_support import assert_one_line_error, run_cli

pytestmark = pytest.mark.slow

CLASS = "probe_rnn.models.classifier.RNNClassifier"
TEXTS = ["Anna", "Bob", "Christopher", "Eve"]


class _TouchOnLoad:
    """Unpickling this object creates a file: the proof that code ran."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (pathlib.Path.touch, (self.marker,))


def _names_model() -> RNNClassifier:
    """An untrained classifier for the bundled ``names`` dataset, carrying its tokenizer and
    labels as attributes (what a trusted pickled module is read with)."""
    tok = Tokenizer("char").fit(load_dataset("names")["text"])
    cfg = ModelConfig(vocab_size=len(tok), n_labels=2, rnn="lstm", embedding_dim=6, hidden=5)
    torch.manual_seed(0)
    model = RNNClassifier(cfg).eval()
    model.tokenizer = tok
    model.labels = ["female", "male"]
    return model


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RNNClassifier]:
    model = _names_model()
    path = tmp_path_factory.mktemp("plain") / "model.pkl"
    with open(path, "wb") as handle:
        pickle.dump(model, handle, protocol=4)
    return path, model


def _error(path: Path, cls: type[Exception] = CheckpointError, **kwargs: bool) -> str:
    with pytest.raises(cls) as info:
        load_model(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_plain_pickle_of_a_module_is_refused_naming_it_then_loaded_with_trust(plain) -> None:
    path, model = plain
    message = _error(path, UntrustedCheckpointError)
    assert f"plain Python pickle (pickle.dump, protocol 4) of {CLASS}" in message
    assert "runs code" in message and "trust_checkpoint=True" in message
    assert "model.state_dict()" in message and "factory=package.module:function" in message
    assert "truncated" not in message
    loaded = load_model(path, trust_checkpoint=True)
    assert loaded.format == "pickled module RNNClassifier (trusted)"
    assert loaded.labels == ["female", "male"] and loaded.tokenizer == model.tokenizer
    ids, lengths = model.tokenizer.encode_batch(TEXTS)
    with torch.no_grad():
        want = model(ids, lengths)
    assert torch.equal(loaded.predict_logits(TEXTS), want)


@pytest.mark.parametrize(("protocol", "first"), [(2, "__builtin__.getattr"),  # GLOBAL opcodes
                                                 (5, "pathlib.Path.touch")])  # STACK_GLOBAL
def test_other_protocols_name_the_pickled_code_and_never_run_it(tmp_path: Path, protocol: int,
                                                                first: str) -> None:
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"payload": _TouchOnLoad(marker)}, protocol=protocol))
    message = _error(path, UntrustedCheckpointError)
    assert f"protocol {protocol}) of {first}," in message
    assert not marker.exists()
    # trusting it runs the code, as documented; the result is still not a model
    assert "neither a probe-rnn checkpoint" in _error(path, trust_checkpoint=True)
    assert marker.exists()


def test_a_memoized_module_name_is_still_read(tmp_path: Path) -> None:
    """``STACK_GLOBAL`` whose module string was pushed earlier and comes back from the memo."""
    path = tmp_path / "memo.pkl"
    path.write_bytes(pickle.dumps(["torch.nn.modules.linear", torch.nn.Linear(2, 2)], protocol=4))
    assert "of torch.nn.modules.linear.Linear," in _error(path, UntrustedCheckpointError)


@pytest.mark.parametrize("evil_first", [True, False], ids=["global-kept", "global-cut"])
def test_a_truncated_plain_pickle_is_truncated_and_runs_no_code(tmp_path: Path,
                                                                evil_first: bool) -> None:
    marker = tmp_path / "code-ran"
    parts = [_TouchOnLoad(marker), b"x" * 4000]
    data = pickle.dumps(parts if evil_first else parts[::-1], protocol=4)
    path = tmp_path / "half.pkl"
    path.write_bytes(data[: len(data) // 2])
    for trust in (False, True):
        with pytest.raises(CheckpointError) as info:
            read_checkpoint(path, trust_checkpoint=trust)
        message = str(info.value)
        assert not isinstance(info.value, UntrustedCheckpointError)
        assert "truncated" in message and f"its {len(data) // 2} bytes" in message
        assert ("of pathlib.Path.touch" in message) is evil_first
        assert not marker.exists()


def test_plain_data_pickles_load_without_trust_and_legacy_torch_files_still_load(
        tmp_path: Path) -> None:
    data = tmp_path / "data.pkl"
    data.write_bytes(pickle.dumps({"a": [1, 2.5, "x"], "b": (None, True)}, protocol=4))
    assert read_checkpoint(data) == {"a": [1, 2.5, "x"], "b": (None, True)}
    legacy = tmp_path / "legacy.pt"
    weights = torch.nn.Linear(3, 2).state_dict()
    torch.save(weights, legacy, _use_new_zipfile_serialization=False)
    loaded = read_checkpoint(legacy)
    assert list(loaded) == ["weight", "bias"]
    assert all(torch.equal(loaded[k], weights[k]) for k in weights)


SMALL = ["--dataset", "names", "--max-rows", "120", "--folds", "3", "--views", "output@last",
         "--tasks", "label", "--probes", "logistic", "--no-mdl", "--no-umap",
         "--attribution-rows", "0", "--quiet"]


def test_cli_refuses_a_plain_pickle_in_one_line_then_probes_it_with_trust(
        plain, tmp_path: Path) -> None:
    path, _ = plain
    out = tmp_path / "run"
    refused = run_cli("probe", str(path), *SMALL, "--out", str(out))
    line = assert_one_line_error(refused, "plain Python pickle", "RNNClassifier",
                                 "--trust-checkpoint")
    assert "truncated" not in line and not out.exists()
    done = run_cli("probe", str(path), "--trust-checkpoint", *SMALL, "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    results = pd.read_parquet(out / "results.parquet")
    assert len(results) > 0 and set(results["task"]) == {"label"}


def test_cli_says_where_to_find_the_code_a_trusted_plain_pickle_needs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mymodels_plain.py").write_text(textwrap.dedent("""
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(30, 8)
                self.rnn = nn.LSTM(8, 8, batch_first=True)
                self.out = nn.Linear(8, 2)

            def forward(self, ids):
                o, (h, c) = self.rnn(self.emb(ids))
                return self.out(h[-1])
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import mymodels_plain

    path = tmp_path / "net.pkl"
    path.write_bytes(pickle.dumps(mymodels_plain.Net(), protocol=5))
    refused = run_cli("inspect", str(path))  # its folder is not on the CLI's PYTHONPATH
    assert_one_line_error(refused, "plain Python pickle", "mymodels_plain.Net")
    trusted = run_cli("inspect", str(path), "--trust-checkpoint")
    assert_one_line_error(trusted, "No module named 'mymodels_plain'", "PYTHONPATH")
