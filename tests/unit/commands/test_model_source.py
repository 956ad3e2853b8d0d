"""The shared model options: every ModelSource field is a command-line option; option values
are checked, each with a one-line error naming its flag, before any file is read; --labels is
a distinct comma-separated list; load() hands every option to load_model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from probe_rnn.commands.model_source import _OPTIONS, ModelSource
from probe_rnn.data import Tokenizer
from probe_rnn.errors import ConfigError
from probe_rnn.models import save_checkpoint
from tests.unit.models.models_support import TEXTS, make_bundle


def test_every_field_is_an_option_and_every_option_a_field() -> None:
    assert set(_OPTIONS) == {f.name for f in dataclasses.fields(ModelSource)}


def test_labels_are_a_distinct_comma_separated_list() -> None:
    assert ModelSource().label_names() is None
    assert ModelSource(labels="neg, pos ,maybe").label_names() == ["neg", "pos", "maybe"]
    for bad in ("neg,,pos", "neg,neg", " ,pos"):
        with pytest.raises(ConfigError, match="must be distinct comma-separated class names"):
            ModelSource(labels=bad).label_names()


@pytest.mark.parametrize(("option", "flag"), [
    ({"layout": "sideways"}, "--layout must be one of auto, batch, time; received 'sideways'"),
    ({"tokenizer": "bytes"}, "--tokenizer must be one of"),
    ({"pad_id": -1}, "--pad-id must be an integer >= 0; received -1"),
    ({"adapter": "nonesuch"}, "--adapter 'nonesuch' is unknown: choose one of"),
    ({"pad_to": 0}, "--pad-to must be an integer >= 1; received 0"),
    ({"vocab": Path("no-such-vocab.txt")}, "--vocab 'no-such-vocab.txt' does not exist"),
])
def test_a_bad_option_is_one_line_naming_its_flag(option: dict, flag: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ModelSource(**option).check()
    assert flag in str(caught.value) and "\n" not in str(caught.value)


def test_good_options_pass_the_check(tmp_path) -> None:
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("<pad>\n<unk>\na\n")
    ModelSource(layout="time", tokenizer="char", pad_id=0, adapter="ids", pad_to=1,
                vocab=vocab).check()
    ModelSource().check()


def test_load_checks_before_reading_and_hands_the_options_on(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./probes here: the registry is left as it is
    bundle = make_bundle(Tokenizer("char").fit(TEXTS))
    path = tmp_path / "m.pt"
    save_checkpoint(path, bundle)
    loaded = ModelSource(labels="no,yes", plugins=[]).load(path)
    assert loaded.labels == ["no", "yes"]  # --labels won over the checkpoint's neg, pos
    assert torch.equal(loaded.predict_logits(TEXTS), bundle.predict_logits(TEXTS))
    with pytest.raises(ConfigError, match="--pad-to"):  # checked first: the file is not read
        ModelSource(pad_to=0, plugins=[]).load(tmp_path / "missing.pt")
