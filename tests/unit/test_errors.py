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
    "NoTargetError": RuntimeError,
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


#: ``name=`` in a message that reports a value (a checkpoint's config, a module's state), not a
#: parameter the user is told to pass: (file under probe_rnn/, name).
REPORTED_VALUES = {
    ("models/sanity.py", "hidden"), ("models/sanity.py", "embedding_dim"),
    ("models/sanity.py", "layers"),
    ("models/training.py", "hidden"), ("models/training.py", "embedding_dim"),
    ("models/training.py", "layers"), ("models/config.py", "layers"),
    ("models/config.py", "dropout"), ("capture/exact_forward.py", "dropout"),
}


def _public_parameters() -> set[str]:
    """The parameters of every callable the package exports (``probe_rnn.__all__``)."""
    import probe_rnn

    found: set[str] = set()
    for name in probe_rnn.__all__:
        try:
            signature = inspect.signature(getattr(probe_rnn, name))
        except (TypeError, ValueError):
            continue
        found |= {p.name for p in signature.parameters.values()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return found


def _unmentioned(source: str, path: str, parameters: set[str], classes: set[str]) -> list[str]:
    """Every ``name=`` (``name`` a public parameter) written as text in a literal passed to a
    ProbeRnnError constructor: outside a call the message shows as code (``read_table(...,
    text=)``) and outside :data:`REPORTED_VALUES`."""
    import ast
    import re

    pattern = re.compile(r"(?<![\w.])(\w+)=")
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in classes):
            continue
        texts = [sub.value for arg in node.args for sub in ast.walk(arg)
                 if isinstance(sub, ast.Constant) and isinstance(sub.value, str)]
        for text in texts:
            for match in pattern.finditer(text):
                before = text[:match.start()]
                in_code = re.search(r"\w\([^()]*$", before) is not None
                name = match.group(1)
                if name in parameters and not in_code and (path, name) not in REPORTED_VALUES:
                    found.append(f"{path}:{node.lineno}: {name}= in {text[:60]!r}")
    return found


def test_the_checker_finds_a_parameter_written_as_text() -> None:
    classes, parameters = {"ConfigError"}, {"vocab", "text"}
    assert _unmentioned('ConfigError("pass vocab=FILE")', "x.py", parameters, classes) == [
        "x.py:1: vocab= in 'pass vocab=FILE'"]
    assert _unmentioned('ConfigError(f"pass vocab={v}")', "x.py", parameters, classes)
    for fine in ('ConfigError("pass ", Mention("vocab", "FILE"))',  # a mention
                 'ConfigError("read_table(..., text=)")',  # code the message shows
                 'ConfigError("x.vocab=1")', 'ConfigError("tolerance=1")',  # not a parameter
                 'OtherError("pass vocab=FILE")'):  # not one of the error classes
        assert _unmentioned(fine, "x.py", parameters, classes) == [], fine


def test_no_error_message_writes_a_public_parameter_as_text() -> None:
    from pathlib import Path

    root = Path(errors.__file__).parent
    classes = {name for name, cls in inspect.getmembers(errors, inspect.isclass)
               if issubclass(cls, ProbeRnnError)}
    parameters = _public_parameters()
    assert {"vocab", "trust_checkpoint", "out_dir", "cell_timeout"} <= parameters
    found = [line for path in sorted(root.rglob("*.py"))
             for line in _unmentioned(path.read_text(encoding="utf-8"),
                                      path.relative_to(root).as_posix(), parameters, classes)]
    assert found == []  # write them as Mention(name, value): the CLI says its option


def test_a_part_of_another_type_is_shown_as_str() -> None:
    err = ConfigError("bad value ", 3, ": ", ValueError("why"))
    assert str(err) == "bad value 3: why" and err.render(_cli) == str(err)
    assert err.parameters == ()
