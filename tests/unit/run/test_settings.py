"""RunSettings: validated once with parameter-named errors, round-trips through JSON, and its
fingerprint changes with every setting that decides numbers and with none of the others."""

from __future__ import annotations

import json

import pytest

from probe_rnn.errors import ConfigError, ParameterError
from probe_rnn.run.settings import RunSettings
from probe_rnn.validation import shown


@pytest.mark.parametrize(("changes", "name"), [
    ({"folds": 1}, "folds"), ({"seeds": 0}, "seeds"), ({"max_rows": 0}, "max_rows"),
    ({"jobs": 0}, "jobs"), ({"precision": 0.7}, "precision"), ({"probe_rows": "dev"}, "probe_rows"),
    ({"attribution_rows": -1}, "attribution_rows"), ({"cell_timeout": -2}, "cell_timeout"),
    ({"tasks": "label"}, "tasks"), ({"probes": []}, "probes"), ({"folds": True}, "folds"),
    ({"views": ["output@last", 3]}, "views"), ({"keep_duplicates": "no"}, "keep_duplicates"),
])
def test_a_bad_value_is_one_line_naming_the_parameter(changes, name) -> None:
    with pytest.raises(ParameterError) as info:
        RunSettings(**changes)
    assert info.value.parameter == name
    assert info.value.got == shown(changes[name])
    assert str(info.value) == info.value.render() and "\n" not in str(info.value)


def test_lists_become_tuples_and_defaults_are_filled() -> None:
    settings = RunSettings(views=["output@last"], tasks=["label"], cell_timeout=0)
    assert settings.views == ("output@last",) and settings.tasks == ("label",)
    assert settings.cell_timeout is None and settings.precision == 0.01
    with pytest.raises(AttributeError):
        settings.folds = 3  # type: ignore[misc]


def test_json_round_trip_is_the_same_settings() -> None:
    settings = RunSettings(views=["output@last", "h_n/L0/fwd"], probes=["logistic", "mlp"],
                           folds=3, max_rows=100, mdl=False, seed=4)
    text = json.dumps(settings.to_json())
    assert RunSettings.from_json(json.loads(text)) == settings
    with pytest.raises(ConfigError, match="unknown run settings \\['fold'\\]"):
        RunSettings.from_json({"fold": 3})


@pytest.mark.parametrize("changes", [
    {"views": ["output@last"]}, {"tasks": ["label"]}, {"probes": ["mlp"]}, {"folds": 3},
    {"seeds": 2}, {"max_rows": 10}, {"precision": 0.02}, {"probe_rows": "all"}, {"mdl": False},
    {"random_baseline": False}, {"attribution_rows": 3}, {"seed": 1}, {"keep_duplicates": True},
])
def test_the_fingerprint_changes_with_what_decides_numbers(changes) -> None:
    assert RunSettings(**changes).fingerprint("m", "d") != RunSettings().fingerprint("m", "d")


@pytest.mark.parametrize("changes", [{"jobs": 4}, {"cell_timeout": 30}, {"umap": False},
                                     {"report": False}])
def test_the_fingerprint_ignores_how_the_run_goes(changes) -> None:
    assert RunSettings(**changes).fingerprint("m", "d") == RunSettings().fingerprint("m", "d")


def test_the_fingerprint_changes_with_model_and_data() -> None:
    base = RunSettings().fingerprint("m", "d")
    assert base != RunSettings().fingerprint("m2", "d") != RunSettings().fingerprint("m", "d2")


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True])
def test_a_seed_outside_what_every_stage_takes_is_refused(seed):
    from probe_rnn.validation import MAX_SEED

    with pytest.raises(ParameterError) as info:
        RunSettings(seed=seed)
    assert info.value.parameter == "seed" and str(MAX_SEED) in info.value.allowed


def test_the_largest_seed_reaches_numpy_and_sklearn():
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from probe_rnn.validation import MAX_SEED, check_seed

    assert RunSettings(seed=MAX_SEED).seed == MAX_SEED
    check_seed(MAX_SEED)
    np.random.RandomState(MAX_SEED)  # the reference: what sklearn's random_state accepts
    LogisticRegression(random_state=MAX_SEED).fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(ValueError):
        np.random.RandomState(MAX_SEED + 1)


def test_train_and_attribute_check_the_seed_before_any_work(tmp_path):
    from probe_rnn.attribution import attribute
    from probe_rnn.data import load_dataset
    from probe_rnn.models import train

    df = load_dataset("synthetic-last").head(20)
    for run in (lambda: train(df, seed=2**32),
                lambda: attribute(None, df, tmp_path / "attr", seed=-1)):
        with pytest.raises(ParameterError) as info:
            run()
        assert info.value.parameter == "seed"
    assert not (tmp_path / "attr").exists()
