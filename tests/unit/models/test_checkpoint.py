"""Checkpoints: round trip, atomic writes, and one-line errors for every bad file."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest
import torch

from probe_rnn.errors import CheckpointError, InputFileError, UntrustedCheckpointError
from probe_rnn.hashing import file_sha256
from probe_rnn.models import FORMAT, load_model, save_checkpoint
from tests.unit.models.models_support import TEXTS, make_bundle


def test_round_trip_gives_identical_logits(tmp_path, bundle) -> None:
    bundle.meta.update(score=np.float64(0.5), count=np.int64(3), path=tmp_path)
    checksum = save_checkpoint(tmp_path / "m.pt", bundle)
    raw = torch.load(tmp_path / "m.pt", weights_only=True)
    assert raw["format"] == FORMAT and raw["format_version"] == 1
    assert set(raw) == {"format", "format_version", "config", "tokenizer", "labels", "meta",
                        "state_dict"}
    loaded = load_model(tmp_path / "m.pt")
    assert torch.equal(loaded.predict_logits(TEXTS), bundle.predict_logits(TEXTS))
    assert loaded.labels == ["neg", "pos"] and loaded.config == bundle.config
    assert loaded.tokenizer == bundle.tokenizer
    assert loaded.meta["score"] == 0.5 and type(loaded.meta["score"]) is float
    assert loaded.meta["path"] == str(tmp_path)
    assert loaded.checksum == checksum == file_sha256(tmp_path / "m.pt")
    assert len(checksum) == 64 and loaded.source == str(tmp_path / "m.pt")
    assert not loaded.model.training


def test_save_is_atomic(tmp_path, bundle, monkeypatch) -> None:
    target = tmp_path / "m.pt"

    def crash(obj, handle):
        handle.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(target, bundle)
    assert list(tmp_path.iterdir()) == []


def test_unstorable_meta_is_refused(tmp_path, bundle) -> None:
    bundle.meta["model"] = object()
    with pytest.raises(CheckpointError, match="meta.model holds a object"):
        save_checkpoint(tmp_path / "m.pt", bundle)


def _one_line_error(path, cls=CheckpointError, **kwargs) -> str:
    with pytest.raises(cls) as info:
        load_model(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path) -> None:
    assert "does not exist" in _one_line_error(tmp_path / "nope.pt", InputFileError)


def test_empty_file(tmp_path) -> None:
    (tmp_path / "e.pt").write_bytes(b"")
    assert "is empty (0 bytes)" in _one_line_error(tmp_path / "e.pt")


@pytest.mark.parametrize("legacy", [False, True])
def test_truncated_file(tmp_path, bundle, legacy: bool) -> None:
    path = tmp_path / "m.pt"
    if legacy:
        torch.save(bundle.model.state_dict(), path, _use_new_zipfile_serialization=False)
    else:
        save_checkpoint(path, bundle)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    message = _one_line_error(path)
    assert "cannot read checkpoint" in message and "truncated" in message


def test_not_a_torch_file(tmp_path) -> None:
    (tmp_path / "t.pt").write_text("text,label\nhello,1\n")
    assert "not a PyTorch file" in _one_line_error(tmp_path / "t.pt")


def test_bare_state_dict_asks_for_a_factory(tmp_path, bundle) -> None:
    torch.save(bundle.model.state_dict(), tmp_path / "sd.pt")
    message = _one_line_error(tmp_path / "sd.pt")
    assert "bare state_dict" in message and "factory=package.module:function" in message


def _rewrite(path, **changes) -> None:
    raw = torch.load(path, weights_only=True)
    raw.update(changes)
    torch.save(raw, path)


def test_future_format_version(tmp_path, bundle) -> None:
    save_checkpoint(tmp_path / "m.pt", bundle)
    _rewrite(tmp_path / "m.pt", format_version=7)
    assert "format_version 7, newer" in _one_line_error(tmp_path / "m.pt")


def test_other_format_and_other_objects(tmp_path, bundle) -> None:
    save_checkpoint(tmp_path / "m.pt", bundle)
    _rewrite(tmp_path / "m.pt", format="somebody-else")
    assert "written by another tool" in _one_line_error(tmp_path / "m.pt")
    torch.save([1, 2, 3], tmp_path / "l.pt")
    assert "holds a list, neither" in _one_line_error(tmp_path / "l.pt")


def test_damaged_checkpoint_missing_keys(tmp_path, bundle) -> None:
    save_checkpoint(tmp_path / "m.pt", bundle)
    raw = torch.load(tmp_path / "m.pt", weights_only=True)
    del raw["tokenizer"]
    torch.save(raw, tmp_path / "m.pt")
    assert "lacks tokenizer" in _one_line_error(tmp_path / "m.pt")


class _TouchOnLoad:
    """Unpickling this object creates a file: the proof that code ran."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_pickled_code_is_refused_and_never_runs(tmp_path) -> None:
    marker = tmp_path / "code-ran"
    torch.save({"payload": _TouchOnLoad(marker)}, tmp_path / "evil.pt")
    message = _one_line_error(tmp_path / "evil.pt", UntrustedCheckpointError)
    assert not marker.exists()
    assert "arbitrary code" in message and "trust_checkpoint=True" in message
    assert "holds a pickled object" in message
    # trusting it runs the code, as documented; the result is still not a model
    assert "neither a probe-rnn checkpoint" in _one_line_error(
        tmp_path / "evil.pt", trust_checkpoint=True
    )
    assert marker.exists()


def test_pickled_module_refused_then_loaded_with_trust(tmp_path, bundle) -> None:
    bundle.model.tokenizer = bundle.tokenizer
    bundle.model.labels = ["neg", "pos"]
    torch.save(bundle.model, tmp_path / "full.pt")
    message = _one_line_error(tmp_path / "full.pt", UntrustedCheckpointError)
    assert "RNNClassifier" in message
    loaded = load_model(tmp_path / "full.pt", trust_checkpoint=True)
    assert loaded.format.startswith("pickled module RNNClassifier")
    assert loaded.labels == ["neg", "pos"] and loaded.config == bundle.config
    assert torch.equal(loaded.predict_logits(TEXTS), bundle.predict_logits(TEXTS))


def test_folder_instead_of_file(tmp_path) -> None:
    assert "is a folder" in _one_line_error(tmp_path, InputFileError)


def test_save_creates_parent_folders_and_leaves_no_temp(tmp_path, tokenizer) -> None:
    bundle = make_bundle(tokenizer, rnn="gru")
    target = tmp_path / "a" / "b" / "m.pt"
    save_checkpoint(target, bundle)
    assert sorted(os.listdir(target.parent)) == ["m.pt"]
