"""Built-in probes: the scikit-learn estimator contract and agreement with bare sklearn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import check_estimator

from probe_rnn.errors import ConfigError, PluginError
from probe_rnn.probing.probes import (
    LogisticProbe,
    MLPProbe,
    RidgeProbe,
)
from probe_rnn.probing.specs import make_probe, retuned, untuned
from probe_rnn.probing.splits import inner_split


@pytest.mark.parametrize("probe", [LogisticProbe(), RidgeProbe(), MLPProbe()],
                         ids=lambda p: type(p).__name__)
def test_builtin_probes_pass_check_estimator(probe) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(probe)


def _data(n: int = 300, d: int = 6, k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.arange(1, d + 1) + 5.0  # unscaled on purpose
    w = rng.normal(size=(d, k))
    y = np.array(["abc"[i] for i in np.argmax((X - 5.0) @ w + rng.normal(size=(n, k)), 1)])
    return X, y


def test_logistic_probe_equals_bare_sklearn_on_scaled_data() -> None:
    X, y = _data()
    scaler = StandardScaler().fit(X[:200])
    Xt = scaler.transform(X[200:])
    # solver="lbfgs": scikit-learn's own walk, to the same stopping point
    probe = LogisticProbe(C=0.3, solver="lbfgs").fit(X[:200], y[:200])
    bare = LogisticRegression(C=0.3, max_iter=1000).fit(scaler.transform(X[:200]), y[:200])
    np.testing.assert_array_equal(probe.predict(X[200:]), bare.predict(Xt))
    np.testing.assert_allclose(probe.predict_proba(X[200:]), bare.predict_proba(Xt), rtol=1e-6)
    # the default (preconditioned for three classes): scikit-learn's optimum, solved tightly
    default = LogisticProbe(C=0.3).fit(X[:200], y[:200])
    tight = LogisticRegression(C=0.3, max_iter=10_000, tol=1e-10).fit(
        scaler.transform(X[:200]), y[:200])
    np.testing.assert_array_equal(default.predict(X[200:]), tight.predict(Xt))
    np.testing.assert_allclose(default.predict_proba(X[200:]), tight.predict_proba(Xt),
                               atol=1e-3)


def test_tuned_logistic_refits_with_the_chosen_c_on_all_rows() -> None:
    X, y = _data()
    probe = LogisticProbe(Cs=(0.001, 0.1, 10.0)).fit(X, y)
    assert probe.C_ in (0.001, 0.1, 10.0)
    assert set(probe.dev_scores_) == {0.001, 0.1, 10.0}
    # the one-standard-error rule: never a C with a worse dev score than a smaller C chosen
    best = min(probe.dev_scores_, key=probe.dev_scores_.get)
    assert probe.C_ <= best
    # the final fit starts from the search's weights: it reaches sklearn's own optimum at C_
    # (solved here to a tight tolerance), up to the probe's own stopping tolerance
    Xs = StandardScaler().fit_transform(X)
    bare = LogisticRegression(C=probe.C_, max_iter=10_000, tol=1e-10).fit(Xs, y)
    np.testing.assert_allclose(probe.coef_, bare.coef_, rtol=1e-2, atol=1e-2)
    np.testing.assert_array_equal(probe.predict(X), bare.predict(Xs))
    # with very few rows there is no search
    small = LogisticProbe(min_tune=1000).fit(X[:40], y[:40])
    assert small.C_ == 1.0 and small.dev_scores_ == {}


def test_tuning_on_a_sample_and_warm_refits_reach_the_same_optimum() -> None:
    X, y = _data(n=600)
    groups = np.repeat(np.arange(300), 2)
    sampled = LogisticProbe(tune_rows=200).fit(X, y, groups=groups)
    assert set(sampled.dev_scores_) == set(LogisticProbe().Cs)
    # the search saw about 200 rows, whole groups only: its dev scores differ from a full search
    full = LogisticProbe(tune_rows=None).fit(X, y, groups=groups)
    assert sampled.dev_scores_ != full.dev_scores_
    warm = LogisticProbe(C=0.5, warm_start=True, tol=1e-8, max_iter=5000).fit(X[:300], y[:300])
    warm.fit(X[300:], y[300:])  # starts from the first fit's weights
    cold = LogisticProbe(C=0.5, tol=1e-8, max_iter=5000).fit(X[300:], y[300:])
    np.testing.assert_allclose(warm.coef_, cold.coef_, rtol=1e-4, atol=1e-5)
    assert warm.model_.n_iter_[0] < cold.model_.n_iter_[0]


def test_inner_split_keeps_groups_on_one_side() -> None:
    groups = np.repeat(np.arange(40), 3)
    tr, dev = inner_split(len(groups), 0.25, seed=3, groups=groups)
    assert not set(groups[tr]) & set(groups[dev])
    assert len(tr) + len(dev) == len(groups) and len(set(groups[dev])) == 10


def test_control_reuses_chosen_params_and_mdl_skips_search() -> None:
    X, y = _data()
    fitted = LogisticProbe().fit(X, y)
    assert retuned(LogisticProbe(), fitted).C == fitted.C_
    assert untuned(LogisticProbe()).C == 1.0
    assert untuned(LogisticProbe(C=5.0)).C == 5.0


def test_ridge_probe_equals_ridgecv_on_scaled_data() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 5)) * 10
    y = X @ rng.normal(size=5) + rng.normal(size=120)
    probe = RidgeProbe().fit(X, y)
    bare = RidgeCV(alphas=(0.1, 1.0, 10.0, 100.0, 1000.0)).fit(StandardScaler().fit_transform(X), y)
    np.testing.assert_allclose(probe.predict(X), bare.predict(StandardScaler().fit_transform(X)))


def test_make_probe_by_name_import_path_and_seed() -> None:
    assert isinstance(make_probe("logistic", seed=7), LogisticProbe)
    assert make_probe("logistic", seed=7).random_state == 7
    assert isinstance(make_probe("sklearn.svm.LinearSVC"), LinearSVC)
    proto = LogisticProbe(C=2.0)
    copy = make_probe(proto)
    assert copy is not proto and copy.C == 2.0
    with pytest.raises(PluginError, match="unknown probe 'nope'"):
        make_probe("nope")
    with pytest.raises(PluginError, match="not.a.module.Thing"):
        make_probe("not.a.module.Thing")
    with pytest.raises(PluginError, match="lacks fit/predict"):
        make_probe(lambda: object())


def test_mlp_early_stopping_holds_out_whole_sentences() -> None:
    from sklearn.neural_network import MLPClassifier

    from probe_rnn.probing.jobs import accepts_groups

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(400), 8)  # 400 sentences of 8 tokens
    y = np.repeat(rng.integers(0, 2, size=400), 8)
    X = rng.normal(size=(len(y), 5)) + y[:, None]
    probe = MLPProbe(hidden=8).fit(X, y, groups=groups)
    val = probe.validation_rows_
    train = np.setdiff1d(np.arange(len(y)), val)
    assert len(val) == 40 * 8  # 10 % of the sentences, every token of each
    assert not set(groups[val]) & set(groups[train])
    assert accepts_groups(probe)  # so the runner hands it the sentences
    ungrouped = MLPProbe(hidden=8).fit(X, y)
    assert len(ungrouped.validation_rows_) == 320 and \
        len(set(groups[ungrouped.validation_rows_])) > 40  # tokens scattered over sentences
    # as good as scikit-learn's own (ungrouped) early stopping on the same data
    reference = MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, random_state=0)
    assert probe.score(X, y) >= reference.fit(X, y).score(X, y) - 0.03


def test_c_is_chosen_on_inner_group_folds_by_the_fold_level_one_standard_error_rule() -> None:
    from sklearn.metrics import log_loss

    from probe_rnn.probing.splits import group_kfold

    X, y = _data(n=300)
    groups = np.repeat(np.arange(150), 2)
    Cs = (0.01, 0.1, 1.0, 10.0)
    probe = LogisticProbe(Cs=Cs, tune_rows=None, random_state=4).fit(X, y, groups=groups)
    # the reference: sklearn on the same 5 group folds of standardised features, by hand
    Xs = StandardScaler().fit_transform(X)
    losses = {C: [] for C in Cs}
    for tr, dev in group_kfold(groups, 5, 4):
        assert not set(groups[tr]) & set(groups[dev])
        for C in Cs:
            lr = LogisticRegression(C=C, max_iter=10_000, tol=1e-10).fit(Xs[tr], y[tr])
            losses[C].append(log_loss(y[dev], lr.predict_proba(Xs[dev]), labels=lr.classes_))
    for C in Cs:
        assert probe.dev_scores_[C] == pytest.approx(np.mean(losses[C]), rel=1e-3)
    best = min(Cs, key=lambda c: np.mean(losses[c]))
    chosen = next(C for C in sorted(Cs) if np.mean(np.subtract(losses[C], losses[best]))
                  <= np.std(np.subtract(losses[C], losses[best]), ddof=1) / np.sqrt(5))
    assert probe.C_ == chosen
    single = LogisticProbe(Cs=Cs, tune_rows=None, random_state=4, inner_folds=1)
    single.fit(X, y, groups=groups)  # one dev split: the row-level rule of protocol 3
    assert set(single.dev_scores_) == set(Cs)
    with pytest.raises(ConfigError, match="inner_folds must be an integer >= 1, got 0"):
        LogisticProbe(inner_folds=0).fit(X, y)
