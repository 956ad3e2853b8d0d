"""Inside a cell: predictions and probabilities are checked before they are scored, control
keys become at most top + 1 classes, split metrics are the means of their per-row values
(r2 as sklearn computes it), and a Fitter chooses hyperparameters once per cell."""

from __future__ import annotations

import math
import warnings
from collections import Counter

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import r2_score

from probe_rnn.errors import ProbeOutputError
from probe_rnn.probing.jobs import (
    OTHER_KEY,
    Fitter,
    accepts_groups,
    checked_predict,
    checked_proba,
    key_classes,
    split_metrics,
)
from probe_rnn.probing.probes import LogisticProbe


class Fixed(ClassifierMixin, BaseEstimator):
    """Returns what it is told to, whatever it was fitted on."""

    def __init__(self, pred=None, proba=None) -> None:  # noqa: ANN001
        self.pred, self.proba = pred, proba

    def fit(self, X, y, groups=None):  # noqa: ANN001, ANN201
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):  # noqa: ANN001, ANN201
        return np.asarray(self.pred)

    def predict_proba(self, X):  # noqa: ANN001, ANN201
        return np.asarray(self.proba)


class Noisy(LogisticRegression):
    """A classifier whose every fit warns that it did not converge."""

    def fit(self, X, y, sample_weight=None):  # noqa: ANN001, ANN201
        warnings.warn("did not converge", ConvergenceWarning, stacklevel=2)
        return super().fit(X, y)


X = np.zeros((3, 2))


def test_key_classes_keep_the_most_frequent_keys_and_pool_the_rest() -> None:
    rng = np.random.default_rng(0)
    keys = rng.choice(list("abcdefghij"), size=300, p=np.linspace(1, 10, 10) / 55)
    got = key_classes(keys, top=4)
    counts = Counter(keys.tolist())
    kept = {k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:4]}
    assert got.tolist() == [k if k in kept else OTHER_KEY for k in keys.tolist()]
    assert len(set(got.tolist())) == 5
    # ties are broken by name: of three keys seen twice, "a" and "b" are kept
    assert key_classes(np.array(["c", "b", "a", "c", "b", "a"]), top=2).tolist() == [
        OTHER_KEY, "b", "a", OTHER_KEY, "b", "a"]
    assert key_classes(np.array([3, 3, 1]), top=5).tolist() == ["3", "3", "1"]


def test_split_metrics_are_means_of_the_row_values_and_r2_is_sklearns() -> None:
    rows = {"correct": np.array([1, 0, 1, 1.0]), "majority": np.array([1, 1, 0, 1.0]),
            "control": np.array([0, 0, 1, 1.0]), "null_bits": np.array([1.0, 1.0, 1.0, 1.0]),
            "probe_bits": np.array([0.5, 2.0, 0.1, 0.4])}
    got = split_metrics(rows)
    assert got["accuracy"] == 0.75 and got["majority_accuracy"] == 0.75
    assert got["control_accuracy"] == 0.5 and got["selectivity"] == 0.25
    assert got["bits"] == pytest.approx(1.0 - 0.75) and got["entropy_bits"] == 1.0
    no_proba = split_metrics({"correct": np.array([1.0, 0.0])})
    assert no_proba["accuracy"] == 0.5 and math.isnan(no_proba["bits"])
    assert math.isnan(split_metrics({"correct": np.array([])})["accuracy"])
    y, pred = np.array([1.0, 2.0, 4.0, 7.0]), np.array([1.5, 2.0, 3.0, 8.0])
    r2 = split_metrics({"sq_res": (y - pred) ** 2, "sq_tot": (y - y.mean()) ** 2})
    assert r2 == {"r2": pytest.approx(r2_score(y, pred))}
    assert math.isnan(split_metrics({"sq_res": np.ones(2), "sq_tot": np.zeros(2)})["r2"])


def test_predictions_are_one_known_class_or_one_finite_number_per_row() -> None:
    classes = np.array(["neg", "pos"])
    assert checked_predict(Fixed(pred=["pos", "neg", "pos"]), X, "p", classes).tolist() == [
        "pos", "neg", "pos"]
    with pytest.raises(ProbeOutputError, match=r"probe 'p': predict returned shape \(2,\) for 3"):
        checked_predict(Fixed(pred=["pos", "neg"]), X, "p", classes)
    with pytest.raises(ProbeOutputError, match=r"labels it was not fitted on \('maybe'\)"):
        checked_predict(Fixed(pred=["pos", "maybe", "neg"]), X, "p", classes)
    assert checked_predict(Fixed(pred=[1, 2.5, 3]), X, "r").dtype == np.float64
    with pytest.raises(ProbeOutputError, match="NaN or infinite"):
        checked_predict(Fixed(pred=[1.0, np.inf, 3.0]), X, "r")
    with pytest.raises(ProbeOutputError, match="non-numbers for a regression task"):
        checked_predict(Fixed(pred=["a", "b", "c"]), X, "r")


@pytest.mark.parametrize(("proba", "needle"), [
    ([[0.5, 0.5], [1.0, 0.0]], r"shape \(2, 2\) for 3 rows; it must return \(3, 2\)"),
    ([[0.5, 0.3, 0.2]] * 3, r"shape \(3, 3\) for 3 rows"),
    ([[0.5, np.nan]] * 3, "NaN or infinite values"),
    ([[1.2, -0.2]] * 3, "negative values"),
    ([[0.5, 0.4]] * 3, "rows that do not sum to 1"),
])
def test_bad_probabilities_are_refused(proba: list, needle: str) -> None:
    with pytest.raises(ProbeOutputError, match=needle):
        checked_proba(Fixed(proba=proba), X, "p", np.array([0, 1]))


def test_good_probabilities_pass_and_absent_ones_are_none() -> None:
    rng = np.random.default_rng(1)
    Xr, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    est = LogisticRegression().fit(Xr, y)
    np.testing.assert_array_equal(checked_proba(est, Xr, "p", est.classes_),
                                  est.predict_proba(Xr))

    class NoProba(BaseEstimator):
        def predict(self, X):  # noqa: ANN001, ANN202
            return np.zeros(len(X))

    assert checked_proba(NoProba(), Xr, "p") is None


def test_accepts_groups_reads_the_fit_signature() -> None:
    assert accepts_groups(Fixed()) is True
    assert accepts_groups(LogisticRegression()) is False

    class Builtin:
        fit = len  # a builtin: its signature cannot be inspected

    assert accepts_groups(Builtin()) is False


def test_a_fitter_tunes_once_and_reuses_the_choice() -> None:
    rng = np.random.default_rng(2)
    Xr = rng.normal(size=(120, 4))
    y = (Xr[:, 0] + 0.3 * rng.normal(size=120) > 0).astype(int)
    groups = np.arange(120)
    fitter = Fitter("logistic", seed=0)
    first = fitter.fit("task", Xr, y, groups)
    assert isinstance(first, LogisticProbe) and fitter.tuned is first
    chosen = dict(first.tuned_params_)
    again = fitter.fit("task", Xr[:80], y[:80], groups[:80])
    assert again is not first and again.warm_start is False  # a fresh probe, same C
    assert again.tuned_params_ == chosen and fitter.tuned is first
    control = fitter.fit("control", Xr, rng.permutation(y), groups)
    assert control is not first and control.get_params()["C"] == chosen["C"]
    assert fitter.fits == 3 and fitter.not_converged == 0


def test_a_fitter_counts_fits_that_did_not_converge() -> None:
    fitter = Fitter(Noisy(), seed=0)
    Xr = np.random.default_rng(3).normal(size=(30, 2))
    y = (Xr[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing escapes the fitter
        fitter.fit("task", Xr, y, np.arange(30))
        fitter.fit("control", Xr, 1 - y, np.arange(30))
    assert fitter.fits == 2 and fitter.not_converged == 2


def test_a_later_fold_s_probe_does_not_depend_on_the_last_fold_s_weights() -> None:
    """Fold 2's probe is the same whichever probe fold 1 fitted: it starts fresh (with the
    cell's C and basis), not from weights trained on fold 2's held-out rows."""
    rng = np.random.default_rng(5)
    Xr = rng.normal(size=(600, 40)) @ rng.normal(size=(40, 40))  # correlated columns
    y = np.asarray(["a", "b", "c"])[(Xr[:, 0] > 0).astype(int) + (Xr[:, 1] > 1).astype(int)]
    groups = np.arange(600)
    fold1, fold2 = np.arange(0, 480), np.arange(120, 600)
    probes = []
    for labels in (y, rng.permutation(y)):
        fitter = Fitter(LogisticProbe(C=10.0), seed=0)
        fitter.fit("task", Xr[fold1], labels[fold1], groups[fold1])
        fitter.fit("control", Xr[fold1], rng.permutation(y)[fold1], groups[fold1])
        probes.append(fitter.fit("task", Xr[fold2], y[fold2], groups[fold2]))
    np.testing.assert_array_equal(probes[0].coef_, probes[1].coef_)
    assert probes[0].model_.n_iter_[0] > 0
