"""The exception hierarchy: every error is a ProbeRnnError and also its builtin, exits with 2;
a message is built from parts, the parameters it mentions being Mentions that a front end
renders in its own words; a ParameterError carries (parameter, allowed, got, hint); every
error survives pickling whole (workers send errors back pickled)."""

from __future__ import annotations

import inspect
import json
import pickle

import pytest

from probe_rnn import errors
from probe_rnn.errors import (
    ConfigError,
    Mention,
    ParameterError,
    ProbeRnnError,
    UntrustedCheckpointError,
    listed,
    parameter_message,
    parts_from_json,
    parts_to_json,
    render,
)

# written out by hand from the documented hierarchy, not read from the classes
BUILTIN = {
    "InputFileError": FileNotFoundError,
    "DataError": ValueError,
    "CheckpointError": ValueError,
    "ModelCallError": RuntimeError,
    "UntrustedCheckpointError": ValueError,
    "ConfigError": ValueError,
    "ParameterError": ValueError,
    "CaptureError": RuntimeError,
    "CaptureMismatchError": RuntimeError,
    "StorageRangeError": RuntimeError,
    "StoreError": RuntimeError,
    "PluginError": LookupError,
    "ProbeOutputError": ValueError,
    "AttributionError": RuntimeError,
    "ReportError": RuntimeError,
    "WorkLostError": RuntimeError,
}


def _error_classes() -> dict[str, type]:
    return {name: cls for name, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, ProbeRnnError) and cls is not ProbeRnnError}


def test_the_table_names_every_error_class() -> None:
    assert set(_error_classes()) == set(BUILTIN)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_error_is_also_its_builtin_and_exits_with_2(name: str) -> None:
    cls = _error_classes()[name]
    args = ("p", "a positive integer", "-1") if cls is ParameterError else ("one line",)
    err = cls(*args)
    assert isinstance(err, ProbeRnnError) and isinstance(err, BUILTIN[name])
    assert err.exit_code == 2
    with pytest.raises(BUILTIN[name]):  # code that catches the builtin keeps working
        raise err


def _cli(mention: Mention) -> str | None:
    """A front end's words, written out by hand for the test (not the CLI's)."""
    return {"vocab": f"--vocab {mention.value}", "trust_checkpoint": "--trust-checkpoint",
            "out_dir": "--out"}.get(mention.parameter)


def test_a_mention_is_the_library_spelling() -> None:
    assert str(Mention("vocab", "FILE")) == "vocab=FILE"
    assert str(Mention("trust_checkpoint", "True")) == "trust_checkpoint=True"
    assert str(Mention("layout")) == "layout="
    assert Mention("a", "1") == Mention("a", "1") and hash(Mention("a")) == hash(Mention("a"))


def test_a_message_of_parts_is_one_text_and_renders_each_mention_in_other_words() -> None:
    err = ConfigError("pass ", Mention("vocab", "FILE"), " or ", Mention("trust_checkpoint",
                      "True"), "; leave ", Mention("tolerance"), " out; give another ",
                      Mention("out_dir"))
    assert str(err) == ("pass vocab=FILE or trust_checkpoint=True; leave tolerance= out; give "
                        "another out_dir=")
    assert err.args == (str(err),)  # the builtin's one message
    assert err.render() == str(err)
    assert err.render(_cli) == ("pass --vocab FILE or --trust-checkpoint; leave tolerance= out; "
                                "give another --out")  # no words for tolerance: kept as it is
    assert err.parameters == ("vocab", "trust_checkpoint", "tolerance", "out_dir")
    assert ProbeRnnError("x").parameters == () and ProbeRnnError("x").parts == ("x",)
    assert ConfigError(Mention("a"), ", ", Mention("a")).parameters == ("a",)  # each once


def test_listed_names_are_comma_separated_bare_mentions() -> None:
    assert listed([]) == []
    assert render(listed(["tokenizer", "pad_id"])) == "tokenizer=, pad_id="
    assert listed(["x"]) == [Mention("x")]


def test_parts_survive_json() -> None:
    parts = ("probe 'p' ", Mention("cell_timeout", "5"), " s", Mention("layout"))
    assert parts_from_json(json.loads(json.dumps(parts_to_json(parts)))) == parts


def test_the_parameter_keyword_is_gone() -> None:
    with pytest.raises(TypeError):
        ConfigError("x", parameter="vocab")  # type: ignore[call-arg]


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_error_survives_pickling_with_its_parts(name: str) -> None:
    cls = _error_classes()[name]
    if cls is ParameterError:
        return  # its own fields: the test below
    err = cls("check ", Mention("vocab", "FILE"), " now")
    err.extra = 3  # an attribute set after construction travels too
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls and back.parts == err.parts and str(back) == str(err)
    assert back.extra == 3 and back.render(_cli) == "check --vocab FILE now"


def _raise_in_worker(kind: str) -> None:
    if kind == "mention":
        raise UntrustedCheckpointError("pass ", Mention("trust_checkpoint", "True"), " to load")
    raise ParameterError("folds", "an integer >= 2", "1")


def test_errors_cross_a_process_boundary_whole() -> None:
    from joblib import Parallel, delayed

    with pytest.raises(UntrustedCheckpointError) as caught:
        Parallel(n_jobs=2, backend="loky")(delayed(_raise_in_worker)(k) for k in ["mention"])
    assert caught.value.parts == ("pass ", Mention("trust_checkpoint", "True"), " to load")
    assert caught.value.render(_cli) == "pass --trust-checkpoint to load"
    with pytest.raises(ParameterError) as caught_too:
        Parallel(n_jobs=2, backend="loky")(delayed(_raise_in_worker)(k) for k in ["field"])
    assert (caught_too.value.parameter, caught_too.value.got) == ("folds", "1")


def test_parameter_message_is_the_one_line() -> None:
    assert parameter_message("folds", "an integer >= 2", "1") == (
        "folds must be an integer >= 2, got 1")
    assert parameter_message("tasks", "a list of task names", "'label'", "pass ['label']") == (
        "tasks must be a list of task names, got 'label': pass ['label']")


def test_a_parameter_error_keeps_its_fields_and_renders_under_another_name() -> None:
    err = ParameterError("cell_timeout", "a positive number of seconds (0 = no limit)", "-1")
    assert (err.parameter, err.allowed, err.got, err.hint) == (
        "cell_timeout", "a positive number of seconds (0 = no limit)", "-1", "")
    assert err.parameters == ("cell_timeout",)
    assert str(err) == "cell_timeout must be a positive number of seconds (0 = no limit), got -1"
    assert err.render() == str(err)
    assert err.render(lambda m: "--cell-timeout" if m == Mention("cell_timeout") else None) == (
        "--cell-timeout must be a positive number of seconds (0 = no limit), got -1")
    assert err.render(lambda m: None) == str(err)  # no words for it: the library's name
    hinted = ParameterError("tasks", "a list", "'label'", "pass ['label']")
    assert hinted.render(lambda m: "--task") == (
        "--task must be a list, got 'label': pass ['label']")
    assert isinstance(hinted, ConfigError) and "\n" not in str(hinted)


def test_a_parameter_error_survives_pickling_whole() -> None:
    err = ParameterError("folds", "an integer >= 2", "1", "pass folds=2 or more")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ParameterError
    assert (back.parameter, back.allowed, back.got, back.hint) == (
        err.parameter, err.allowed, err.got, err.hint)
    assert str(back) == str(err) and back.parameters == ("folds",)
