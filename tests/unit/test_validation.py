"""Parameter constraints as data: every constraints table of the library is walked, an invalid
value is made for every parameter from its constraint, and the function (or object) refuses it
with the one error shape, a ParameterError naming that parameter; valid edge values pass. The
interval rule is checked against scikit-learn's own ``Interval``."""

from __future__ import annotations

import ast
import inspect
import math
import pickle
from dataclasses import fields
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from probe_rnn.attribution import runner as attribution_runner
from probe_rnn.capture import run_capture
from probe_rnn.errors import ConfigError, ParameterError
from probe_rnn.models import loading, training
from probe_rnn.models.config import Architecture, ModelConfig, TrainBudget
from probe_rnn.probing import runner as probing_runner
from probe_rnn.report import build
from probe_rnn.run.settings import RunSettings
from probe_rnn.studies import readouts
from probe_rnn.validation import (
    Interval,
    Items,
    Names,
    as_constraint,
    check_param,
    shown,
    validate_params,
)

PACKAGE = Path(probing_runner.__file__).resolve().parents[1]


def _call_run_settings(name: str, value: Any, tmp: Path) -> Any:
    return RunSettings(**{name: value})


def _call_run_probes(name: str, value: Any, tmp: Path) -> Any:
    return probing_runner.run_probes({"trained": object()}, **{name: value})


def _call_capture(name: str, value: Any, tmp: Path) -> Any:
    kwargs = {"out_dir": tmp / "store", name: value}
    return run_capture.capture_states(None, None, **kwargs)


def _call_attribute(name: str, value: Any, tmp: Path) -> Any:
    kwargs = {"out_dir": tmp / "attribution", name: value}
    return attribution_runner.attribute(None, None, **kwargs)


def _call_build_report(name: str, value: Any, tmp: Path) -> Any:
    kwargs = {"run_dir": tmp / "run", name: value}
    return build.build_report(**kwargs)


def _call_load_model(name: str, value: Any, tmp: Path) -> Any:
    kwargs = {"path": tmp / "model.pt", name: value}
    return loading.load_model(**kwargs)


def _call_train(name: str, value: Any, tmp: Path) -> Any:
    return training.train(None, **{name: value})


def _call_compare_readouts(name: str, value: Any, tmp: Path) -> Any:
    return readouts.compare_readouts(None, **{name: value})


def _call_architecture(name: str, value: Any, tmp: Path) -> Any:
    return Architecture(**{name: value})


def _call_model_config(name: str, value: Any, tmp: Path) -> Any:
    return ModelConfig(**{"vocab_size": 10, "n_labels": 2, name: value})


def _call_train_budget(name: str, value: Any, tmp: Path) -> Any:
    return TrainBudget(**{name: value})


#: Every constraints table, the callable it guards, and how to call it with one argument set.
TABLES: dict[str, tuple[dict[str, Any], Any, Any]] = {
    "RunSettings": (RunSettings._parameter_constraints, RunSettings, _call_run_settings),
    "run_probes": (probing_runner.PARAMETER_CONSTRAINTS, probing_runner.run_probes,
                   _call_run_probes),
    "capture_states": (run_capture.PARAMETER_CONSTRAINTS, run_capture.capture_states,
                       _call_capture),
    "attribute": (attribution_runner.PARAMETER_CONSTRAINTS, attribution_runner.attribute,
                  _call_attribute),
    "build_report": (build.PARAMETER_CONSTRAINTS, build.build_report, _call_build_report),
    "load_model": (loading.PARAMETER_CONSTRAINTS, loading.load_model, _call_load_model),
    "train": (training.PARAMETER_CONSTRAINTS, training.train, _call_train),
    "compare_readouts": (readouts.PARAMETER_CONSTRAINTS, readouts.compare_readouts,
                         _call_compare_readouts),
    "Architecture": (Architecture._parameter_constraints, Architecture, _call_architecture),
    "ModelConfig": (ModelConfig._parameter_constraints, ModelConfig, _call_model_config),
    "TrainBudget": (TrainBudget._parameter_constraints, TrainBudget, _call_train_budget),
}

CASES = [(table, name, value)
         for table, (constraints, _, _) in TABLES.items()
         for name, spec in constraints.items()
         for value in as_constraint(spec).invalid()]


def _ids(case: tuple[str, str, Any]) -> str:
    """The case's id, the same in every process (pytest-xdist's workers must collect alike):
    a value shown by its address is named by its type."""
    text = shown(case[2])
    return f"{case[0]}-{case[1]}-{type(case[2]).__name__ if ' at 0x' in text else text}"


def test_every_constraints_table_of_the_package_is_walked() -> None:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            target = getattr(node, "target", None)
            if isinstance(node, ast.AnnAssign) and isinstance(target, ast.Name) and \
                    target.id in ("PARAMETER_CONSTRAINTS", "_parameter_constraints"):
                found.add(path.relative_to(PACKAGE).as_posix())
    files = [inspect.getfile(inspect.unwrap(guarded)) for _, guarded, _ in TABLES.values()]
    walked = {Path(f).resolve().relative_to(PACKAGE).as_posix() for f in files}
    assert found == walked


@pytest.mark.parametrize("table", TABLES)
def test_a_table_names_only_real_parameters_and_each_has_invalid_values(table) -> None:
    constraints, guarded, _ = TABLES[table]
    names = ({f.name for f in fields(guarded)} if isinstance(guarded, type)
             else set(inspect.signature(guarded).parameters))
    assert set(constraints) <= names
    for name, spec in constraints.items():
        refused = as_constraint(spec).invalid()
        assert refused, name
        assert not any(as_constraint(spec).accepts(v) for v in refused), name


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_an_invalid_value_is_refused_with_the_one_error_shape(case, tmp_path) -> None:
    table, name, value = case
    _, _, call = TABLES[table]
    with pytest.raises(ParameterError) as refused:
        call(name, value, tmp_path)
    error = refused.value
    assert error.parameter == name and error.got == shown(value)
    assert isinstance(error, ConfigError) and error.allowed
    assert str(error) == error.render() and "\n" not in str(error)
    assert list(tmp_path.iterdir()) == []  # refused before any work


@pytest.mark.parametrize("table", TABLES)
def test_valid_values_at_the_edges_pass_every_table(table) -> None:
    constraints, _, _ = TABLES[table]
    for name, spec in constraints.items():
        for value in as_constraint(spec).boundary():
            check_param(name, value, spec)


@pytest.mark.parametrize("name", list(RunSettings._parameter_constraints))
def test_run_settings_take_the_edge_values(name) -> None:
    for value in as_constraint(RunSettings._parameter_constraints[name]).boundary():
        settings = RunSettings(**{name: value})
        kept = getattr(settings, name)
        expected = (None if name == "cell_timeout" and value == 0 else
                    0.01 if name == "precision" and value is None else
                    tuple(value) if isinstance(value, list) else value)
        assert kept == expected


INTERVALS = [(kind, reference, left, right, closed)
             for kind, reference in ((int, Integral), (float, Real))
             for left, right in ((0, 1), (2, None), (None, -1), (0, 0.5))
             if not (kind is int and right == 0.5)
             for closed in ("both", "left", "right", "neither")
             # scikit-learn refuses a closed side without a bound
             if not (left is None and closed in ("left", "both"))
             and not (right is None and closed in ("right", "both"))]
VALUES = {int: (-2, -1, 0, 1, 2, 3, 10**6),
          float: (-2, -1, -0.5, 0, 0.25, 0.5, 1, 1.5, 2.0, 10**6, math.inf, -math.inf)}


@pytest.mark.parametrize(("kind", "reference", "left", "right", "closed"), INTERVALS)
def test_intervals_agree_with_scikit_learns(kind, reference, left, right, closed) -> None:
    from sklearn.utils._param_validation import Interval as SkInterval

    ours = Interval(kind, left, right, closed=closed)
    theirs = SkInterval(reference, left, right, closed=closed)
    for value in VALUES[kind]:
        assert ours.accepts(value) == theirs.is_satisfied_by(value), (value, ours.allowed)
    for odd in (True, float("nan"), "1", None):
        assert not ours.accepts(odd)


def test_a_bare_string_for_a_list_is_told_to_pass_a_list() -> None:
    with pytest.raises(ParameterError) as refused:
        RunSettings(tasks="label,length")
    assert refused.value.parameter == "tasks"
    assert refused.value.hint == "pass ['label', 'length']"  # split where the commas were
    for function, name in ((probing_runner.run_probes, "views"),
                           (attribution_runner.attribute, "neuron_views")):
        with pytest.raises(ParameterError) as refused:
            validate_params(function.__globals__["PARAMETER_CONSTRAINTS"], {name: "a,b"})
        assert refused.value.hint == "pass ['a', 'b']"
    with pytest.raises(ParameterError) as refused:
        RunSettings(tasks="label")
    assert refused.value.hint == "pass ['label']"


def test_lists_of_rows_may_be_numpy_arrays_but_not_one_shot_iterators() -> None:
    rows = Items(Integral, "row numbers (int)", example=0)
    assert rows.accepts(np.arange(4)) and rows.accepts([np.int64(3), 2])
    assert not rows.accepts(np.arange(4.0)) and not rows.accepts(np.zeros((2, 2), dtype=int))
    assert not rows.accepts(iter([1, 2]))
    assert Names().accepts(("a", "b")) and not Names(min_items=1).accepts([])


def test_a_parameter_error_survives_pickling_with_its_fields() -> None:
    error = ParameterError("folds", "an integer >= 2", "1", "give more folds")
    again = pickle.loads(pickle.dumps(error))
    assert (again.parameter, again.allowed, again.got, again.hint) == \
        ("folds", "an integer >= 2", "1", "give more folds")
    assert str(again) == str(error) and again.parameters == ("folds",)


def test_a_long_value_is_shown_short() -> None:
    text = shown(list(range(1000)))
    assert len(text) == 80 and text.endswith("...") and text.startswith("[0, 1, 2")
