"""The shared model options: every load_model keyword is a command-line option; a bad option
value fails before the checkpoint is read, naming its parameter (the CLI: its flag, one line,
exit code 2); --labels is a distinct comma-separated list; load() hands every option to
load_model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from probe_rnn.commands.model_source import _OPTIONS, ModelSource
from probe_rnn.data import Tokenizer
from probe_rnn.errors import ParameterError, ProbeRnnError
from probe_rnn.models import save_checkpoint
from tests.unit.models.models_support import TEXTS, make_bundle


def test_every_load_model_keyword_is_an_option_with_load_models_default() -> None:
    """The options are load_model's keywords (read from its signature) plus the command's own
    two; an option's default is load_model's."""
    import inspect

    from probe_rnn.models import load_model

    keywords = {name: p.default for name, p in inspect.signature(load_model).parameters.items()
                if name not in ("path", "texts")}  # texts: from --text a,b, not an option
    assert set(_OPTIONS) == set(keywords) | {"plugins", "allow_batch_dependence"}
    for name, default in keywords.items():
        assert ModelSource.DEFAULTS.get(name) == default, name
    assert ModelSource.DEFAULTS["allow_batch_dependence"] is False


def test_labels_are_a_distinct_comma_separated_list() -> None:
    assert ModelSource().label_names() is None
    assert ModelSource(labels="neg, pos ,maybe").label_names() == ["neg", "pos", "maybe"]
    for bad in ("neg,,pos", "neg,neg", " ,pos"):
        with pytest.raises(ParameterError) as caught:
            ModelSource(labels=bad).label_names()
        assert (caught.value.parameter, caught.value.got) == ("labels", repr(bad))


#: A bad value of each model option, and the parameter the error must name.
BAD = [({"layout": "sideways"}, "layout"), ({"tokenizer": "bytes"}, "tokenizer"),
       ({"pad_id": -1}, "pad_id"), ({"adapter": "nonesuch"}, "adapter"), ({"pad_to": 0}, "pad_to"),
       ({"labels": "a,,b"}, "labels"), ({"vocab": Path("no-such-vocab.txt")}, "vocab")]


@pytest.mark.parametrize(("option", "parameter"), BAD)
def test_a_bad_option_fails_before_the_checkpoint_is_read(tmp_path, monkeypatch, option,
                                                         parameter) -> None:
    monkeypatch.chdir(tmp_path)  # no ./probes here: the registry is left as it is
    missing = tmp_path / "missing.pt"  # read first, it would fail as a missing checkpoint
    with pytest.raises(ProbeRnnError) as caught:
        ModelSource(**option, plugins=[]).load(missing)
    assert caught.value.parameters == (parameter,)
    assert "missing.pt" not in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(("option", "parameter"), BAD)
def test_the_cli_names_the_bad_option_in_one_line(tmp_path, monkeypatch, capsys, option,
                                                  parameter) -> None:
    from probe_rnn.cli import main

    monkeypatch.chdir(tmp_path)
    (name, value), = option.items()
    flag = "--" + name.replace("_", "-")
    with pytest.raises(SystemExit) as exit_info:
        main(["inspect", str(tmp_path / "missing.pt"), flag, str(value)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("error: ") and flag in err and "Traceback" not in err
    assert f"{parameter}=" not in err and "missing.pt" not in err


def test_good_options_pass_the_check(tmp_path) -> None:
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("<pad>\n<unk>\na\n")
    ModelSource(layout="time", tokenizer="char", pad_id=0, adapter="ids", pad_to=1,
                vocab=vocab).check()
    ModelSource().check()


def test_load_hands_the_options_on(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./probes here: the registry is left as it is
    bundle = make_bundle(Tokenizer("char").fit(TEXTS))
    path = tmp_path / "m.pt"
    save_checkpoint(path, bundle)
    loaded = ModelSource(labels="no,yes", plugins=[]).load(path)
    assert loaded.labels == ["no", "yes"]  # --labels won over the checkpoint's neg, pos
    assert torch.equal(loaded.predict_logits(TEXTS), bundle.predict_logits(TEXTS))
