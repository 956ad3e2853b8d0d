"""Plugin probes contained in their own cells: outputs checked before scoring (shape, classes,
probabilities), ``sys.exit``/``os._exit`` named as the cell's failure (jobs 1 and 2), a worker
that really dies named with the journal kept, import paths checked to be estimators before
any work, and the journal key covering the plugin file's code (an edit recomputes, with a
notice)."""

from __future__ import annotations

import re
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from probe_rnn.errors import ConfigError, PluginError, WorkLostError
from probe_rnn.plugins import registry
from probe_rnn.probing import run_probes
from probe_rnn.probing.specs import make_probe
from probe_rnn.probing.tasks import get_task
from tests.unit.probing.probing_support import ArrayStore, meta_for, planted_table

PLUGIN = """
import os
import signal
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from probe_rnn.plugins import register_probe

@register_probe("t-wide")
class Wide(LogisticRegression):
    def predict_proba(self, X):
        return np.full((len(X), 3), 1 / 3)

@register_probe("t-scalar")
class Scalar(LogisticRegression):
    def predict(self, X):
        return self.classes_[0]

@register_probe("t-short")
class Short(LogisticRegression):
    def predict(self, X):
        return super().predict(X)[:-1]

@register_probe("t-stranger")
class Stranger(LogisticRegression):
    def predict(self, X):
        return np.array(["maybe"] * len(X), dtype=object)

@register_probe("t-double")
class Double(LogisticRegression):
    def predict_proba(self, X):
        return 2 * super().predict_proba(X)

@register_probe("t-sysexit")
class SysExit(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        sys.exit(4)

@register_probe("t-osexit")
class OsExit(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        os._exit(5)

@register_probe("t-dies")
class Dies(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        os.kill(os.getpid(), signal.SIGKILL)  # a crash, or the kernel's OOM killer

@register_probe("t-badctor")
class BadCtor(LogisticRegression):
    def __init__(self, C=1.0):
        raise ValueError("nope")
"""
NAMES = ("t-wide", "t-scalar", "t-short", "t-stranger", "t-double", "t-sysexit", "t-osexit",
         "t-dies", "t-badctor")
EXPECTED = {
    "t-wide": "predict_proba returned shape (", "t-scalar": "predict returned shape ()",
    "t-short": "predict returned shape (", "t-stranger": "labels it was not fitted on ('maybe')",
    "t-double": "rows that do not sum to 1", "t-sysexit": "called sys.exit(4)",
    "t-osexit": "called os._exit(5)",
}


@pytest.fixture(scope="module")
def plugin_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plugins")
    (folder / "odd_probes.py").write_text(textwrap.dedent(PLUGIN))
    registry.load_folder(folder)
    yield folder / "odd_probes.py"
    for name in NAMES:
        registry.remove("probe", name)


@pytest.fixture(scope="module")
def store() -> ArrayStore:
    df = planted_table(120, seed=2)
    rng = np.random.default_rng(1)
    signal = (df["label"] == "yes").to_numpy(float)[:, None] + 0.05 * rng.normal(size=(120, 1))
    return ArrayStore(meta_for(df["text"].tolist(), df["label"].tolist()), {"signal": signal})


def _run(store: ArrayStore, probes: list[str], **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_probes({"trained": store}, views=["signal"], tasks=["label"], probes=probes,
                          folds=3, mdl=False, control=False, **kw)


@pytest.mark.parametrize("jobs", [1, 2])
def test_bad_outputs_and_exits_fail_only_their_own_cells(plugin_file, store, jobs) -> None:
    df = _run(store, ["logistic", *EXPECTED], jobs=jobs)
    failed = {f["probe"]: f["reason"] for f in df.attrs["failed_cells"]}
    assert set(failed) == set(EXPECTED)
    for name, needle in EXPECTED.items():
        assert needle in failed[name] and "odd_probes.py" in failed[name], failed[name]
    kept = df[(df["probe"] == "logistic") & (df["metric"] == "accuracy")]["value"]
    assert len(kept) == 1 and kept.iloc[0] > 0.9  # the signal column is the label


def test_a_worker_that_dies_is_one_error_keeping_the_finished_cells(plugin_file, store,
                                                                    tmp_path) -> None:
    journal = tmp_path / "journal"
    with pytest.raises(WorkLostError, match=r"worker process died.*kept in the journal") as err:
        _run(store, ["logistic", "t-dies"], jobs=2, journal=journal)
    finished = int(re.search(r"the (\d+) cells finished", str(err.value)).group(1))
    again = _run(store, ["logistic"], jobs=1, journal=journal)
    assert again.attrs["reused_cells"] == finished  # what the message said was kept, was


def test_import_paths_and_constructors_are_checked_before_any_work(plugin_file) -> None:
    with pytest.raises(PluginError, match=r"'sys.exit' is the builtin_function_or_method exit"):
        make_probe("sys.exit")
    with pytest.raises(PluginError, match=r"'t-badctor' \(from .*odd_probes.py\) could not be "
                                          r"built: its constructor raised ValueError: nope"):
        make_probe("t-badctor")
    assert type(make_probe("sklearn.svm.LinearSVC")).__name__ == "LinearSVC"
    with pytest.raises(ConfigError, match=r"task 'os._exit' is the builtin_function_or_method"):
        get_task("os._exit")
    assert get_task("probe_rnn.probing.tasks.LengthTask").name == "length"


def test_an_edited_plugin_is_recomputed_with_a_notice(store, tmp_path) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    code = ("from sklearn.linear_model import LogisticRegression\n"
            "from probe_rnn.plugins import register_probe\n"
            "register_probe('t-edited')(type('Edited', (LogisticRegression,), {}))\n")
    (folder / "edited.py").write_text(code)
    registry.load_folder(folder)
    try:
        journal = tmp_path / "journal"
        first = _run(store, ["logistic", "t-edited"], journal=journal)
        assert first.attrs["reused_cells"] == 0
        (folder / "edited.py").write_text(code + "# fixed in place\n")
        with pytest.warns(UserWarning, match=r"edited.py changed since the journal was written: "
                                             r"recomputing 1 cell$"):
            run_probes({"trained": store}, views=["signal"], tasks=["label"], folds=3,
                       probes=["logistic", "t-edited"], mdl=False, control=False,
                       journal=journal)
        third = _run(store, ["logistic", "t-edited"], journal=journal)
        assert third.attrs["reused_cells"] == 2  # unchanged since: everything reused
    finally:
        registry.remove("probe", "t-edited")


def test_a_task_that_exits_fails_its_cells_naming_it(store) -> None:
    import sys

    from probe_rnn.probing.tasks import Task

    class Quitting(Task):
        name, kind, level = "quitting", "classification", "sentence"
        description = "calls sys.exit while building its targets"

        def targets(self, meta, tokens, offsets, level=None):
            sys.exit(9)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = run_probes({"trained": store}, views=["signal"], tasks=["label", Quitting()],
                        folds=3, mdl=False, control=False)
    failed = {f["task"]: f["reason"] for f in df.attrs["failed_cells"]}
    assert list(failed) == ["quitting"]
    assert failed["quitting"].startswith(f"task 'quitting' (from {__name__}) called "
                                         "sys.exit(9)")
    assert set(df["task"]) == {"label"}
