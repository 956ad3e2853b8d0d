"""Cells: a failing probe fails its cell only, with a message naming it; invalid probabilities
are never scored; integer targets work; the matrix is float32 and the cost is recorded."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from probe_rnn.probing import run_probes

KW = {"views": ["output@last", "hidden/L0/fwd@-1"], "tasks": ["label", "length"], "folds": 3}


class Flaky(ClassifierMixin, BaseEstimator):
    """Raises on tasks with more than two classes."""

    def fit(self, X, y):
        if len(np.unique(y)) > 2:
            raise ValueError("flaky refuses more than two classes")
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


class NaNProba(Flaky):
    """Fits, but its probabilities are NaN."""

    def fit(self, X, y):
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), np.nan)


def test_a_raising_probe_fails_its_cells_only(lstm_stores) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = run_probes({"trained": lstm_stores["trained"]}, probes=["logistic", Flaky],
                        **KW)
    failed = df.attrs["failed_cells"]
    assert {(f["view"], f["task"], f["probe"]) for f in failed} == {
        ("output@last", "length", "Flaky"), ("hidden/L0/fwd@-1", "length", "Flaky")}
    assert all("ValueError: flaky refuses more than two classes" in f["reason"] for f in failed)
    assert all("probe 'Flaky'" in f["reason"] for f in failed)
    assert any("cell failed" in str(w.message) and "Flaky" in str(w.message) for w in caught)
    done = df[df["metric"] == "accuracy"].groupby(["task", "probe"]).size()
    assert done[("length", "logistic")] == 2 and done[("label", "Flaky")] == 2
    assert ("length", "Flaky") not in done.index


def test_nan_probabilities_are_a_failed_cell_not_a_number(lstm_stores) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = run_probes({"trained": lstm_stores["trained"]}, probes=["logistic", NaNProba],
                        views=["output@last"], tasks=["label"], folds=3)
    (failed,) = df.attrs["failed_cells"]
    assert failed["probe"] == "NaNProba" and "predict_proba returned NaN" in failed["reason"]
    assert set(df["probe"]) == {"logistic"}


def test_integer_class_targets_from_a_task_work(lstm_stores) -> None:
    from probe_rnn.probing.tasks import Task

    class Parity(Task):
        name = "parity"

        def targets(self, meta, tokens, offsets, level=None):
            return np.diff(offsets) % 2  # plain ints, not strings

    df = run_probes({"trained": lstm_stores["trained"]}, views=["output@last"],
                    tasks=[Parity()], folds=3, mdl=False)
    assert (df["metric"] == "accuracy").any() and not df.attrs["failed_cells"]


def test_cells_read_the_store_as_float32_and_record_their_cost(lstm_stores) -> None:
    from probe_rnn.probing.cells import Cell, build_problem
    from probe_rnn.probing.tasks import get_task

    store = lstm_stores["trained"]
    cell = Cell("trained", store, "output@last", "sentence", get_task("label"), "logistic",
                "logistic", np.arange(len(store.meta)))
    p = build_problem(cell)
    assert p.X.dtype == np.float32 and p.X.shape == (len(store.meta), store.dims["output@last"])
    np.testing.assert_array_equal(p.X, np.asarray(store.sentence("output@last"), np.float32))
    df = run_probes({"trained": store}, views=["output@last"], tasks=["label"], folds=3)
    (rec,) = df.attrs["cell_records"]
    assert rec["status"] == "done" and rec["protocol"] == "kfold"
    # 3 folds x (task + control + the control's key), and the final refit kept for probe
    # attribution
    assert rec["cpu_seconds"] > 0 and rec["fits"] == 10


def test_held_out_protocol_on_a_low_precision_target(lstm_stores) -> None:
    # precision 0.1 needs 97 held-out sentences: 300 sentences take one held-out split
    # (the untrained twin: its accuracy is neither 0 nor 1, so the interval has width)
    df = run_probes({"trained": lstm_stores["random-init"]}, views=["output@last"],
                    tasks=["label"], folds=3, precision=0.1)
    (rec,) = df.attrs["cell_records"]
    assert rec["protocol"] == "holdout"
    acc = df[df["metric"] == "accuracy"].iloc[0]
    # two seeds (a held-out cell's least), each 97 held-out sentences (a text may repeat)
    assert acc["seeds"] == 2 and 97 <= acc["n_test"] <= 99
    assert acc["ci_low"] < acc["value"] < acc["ci_high"]
    assert acc["ci_high"] - acc["ci_low"] < 1.1 * 2 * 0.1  # the precision asked, up to resampling
    sel = df[df["metric"] == "selectivity"].iloc[0]
    ctrl = df[df["metric"] == "control_accuracy"].iloc[0]
    assert sel["value"] == pytest.approx(acc["value"] - ctrl["value"])


class Sleepy(Flaky):
    """Sleeps far past any time limit."""

    def fit(self, X, y):
        import time

        time.sleep(30)
        return super().fit(X, y)


def test_a_cell_past_its_time_limit_keeps_the_limit_as_a_mention(lstm_stores) -> None:
    from probe_rnn.errors import Mention, parts_from_json, render

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = run_probes({"trained": lstm_stores["trained"]}, probes=["logistic", Sleepy],
                        views=["output@last"], tasks=["label"], folds=3, cell_timeout=2,
                        jobs=1)
    (failed,) = df.attrs["failed_cells"]
    parts = parts_from_json(failed["reason_parts"])
    assert Mention("cell_timeout", "2") in parts and render(parts) == failed["reason"]
    assert failed["reason"].startswith("probe 'Sleepy' on task 'label' did not finish")
    from probe_rnn.probing.probe_results import CELL_RECORD_KEYS

    # cells.csv keeps its columns: the parts travel with the failed cells only
    assert all(list(r) == list(CELL_RECORD_KEYS) for r in df.attrs["cell_records"])
