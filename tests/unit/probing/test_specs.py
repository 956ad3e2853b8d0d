"""Probe specifications (``probe_rnn.probing.specs``): a registered name, an import path, a
class, a factory or an instance becomes a fresh unfitted estimator, seeded where it has a
``random_state``; an import path that is no estimator is refused before anything is called;
``untuned``/``retuned`` follow a probe's own search."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.svm import LinearSVC

from probe_rnn.errors import PluginError
from probe_rnn.probing.probes import LogisticProbe
from probe_rnn.probing.specs import make_probe, retuned, untuned


def test_every_kind_of_spec_gives_a_fresh_estimator() -> None:
    assert isinstance(make_probe("logistic"), LogisticProbe)
    assert isinstance(make_probe("sklearn.svm.LinearSVC"), LinearSVC)
    assert isinstance(make_probe(Ridge), Ridge)
    assert isinstance(make_probe(lambda: Ridge(alpha=3.0)), Ridge)
    fitted = Ridge(alpha=2.0).fit(np.eye(3), [1.0, 2.0, 3.0])
    fresh = make_probe(fitted)
    assert fresh is not fitted and fresh.get_params() == fitted.get_params()
    assert not hasattr(fresh, "coef_")  # cloned, so unfitted


def test_the_seed_goes_to_random_state_only_where_there_is_one() -> None:
    assert make_probe(LogisticRegression, seed=7).random_state == 7
    assert make_probe(LogisticRegression).random_state is None
    plain = make_probe(LinearRegression, seed=7)  # no random_state: nothing set
    assert plain.get_params() == LinearRegression().get_params()


def test_an_import_path_that_is_no_estimator_is_never_called(monkeypatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(sys, "exit", lambda *a: calls.append(a))
    with pytest.raises(PluginError, match=r"'sys\.exit' is the .*not an estimator"):
        make_probe("sys.exit")
    assert calls == []
    with pytest.raises(PluginError, match="neither a registered probe nor an importable"):
        make_probe("nowhere.Probe")


def test_a_constructor_that_raises_is_named() -> None:
    class Broken(ClassifierMixin, BaseEstimator):
        def __init__(self) -> None:
            raise ValueError("boom")

        def fit(self, X, y):
            return self

        def predict(self, X):
            return X

    with pytest.raises(PluginError, match=r"probe 'Broken' could not be built"):
        make_probe(Broken)


def test_untuned_and_retuned_follow_the_probes_own_search() -> None:
    class Searching(Ridge):
        def untuned(self):
            return Ridge(alpha=self.alpha)

    probe = Searching(alpha=5.0)
    assert type(untuned(probe)) is Ridge and untuned(probe).alpha == 5.0
    plain = Ridge()
    assert untuned(plain) is plain
    twin = Ridge()
    twin.tuned_params_ = {"alpha": 0.1}
    assert retuned(Ridge(), twin).alpha == 0.1
    assert retuned(Ridge(alpha=2.0), Ridge()).alpha == 2.0  # nothing tuned: unchanged
