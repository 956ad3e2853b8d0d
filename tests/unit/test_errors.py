"""The exception hierarchy: every error is a ProbeRnnError and also its builtin, exits with 2,
and a ParameterError carries (parameter, allowed, got, hint), renders under another name and
survives pickling (workers send errors back pickled)."""

from __future__ import annotations

import inspect
import pickle

import pytest

from probe_rnn import errors
from probe_rnn.errors import (
    ConfigError,
    ParameterError,
    ProbeRnnError,
    parameter_message,
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


def test_the_parameters_a_message_mentions_are_a_tuple() -> None:
    assert ProbeRnnError("x").parameters == ()
    assert ConfigError("x", parameter="vocab").parameters == ("vocab",)
    assert ConfigError("x", parameter=("vocab", "layout")).parameters == ("vocab", "layout")
    assert str(ConfigError("pass vocab=FILE", parameter="vocab")) == "pass vocab=FILE"


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
    assert err.render("--cell-timeout") == (
        "--cell-timeout must be a positive number of seconds (0 = no limit), got -1")
    hinted = ParameterError("tasks", "a list", "'label'", "pass ['label']")
    assert hinted.render("--task") == "--task must be a list, got 'label': pass ['label']"
    assert isinstance(hinted, ConfigError) and "\n" not in str(hinted)


def test_a_parameter_error_survives_pickling_whole() -> None:
    err = ParameterError("folds", "an integer >= 2", "1", "pass folds=2 or more")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ParameterError
    assert (back.parameter, back.allowed, back.got, back.hint) == (
        err.parameter, err.allowed, err.got, err.hint)
    assert str(back) == str(err) and back.parameters == ("folds",)
