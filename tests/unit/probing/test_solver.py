"""The preconditioned solver against scikit-learn's own LogisticRegression: the same optimum,
scikit-learn's stopping rule met where it stops, fewer iterations on correlated features."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from probe_rnn.probing.probes import LogisticProbe
from probe_rnn.probing.solver import curvature_basis, fit_logistic, path_probabilities


def _correlated(n: int = 600, d: int = 24, k: int = 5, seed: int = 0, dtype=np.float64):
    """Standardised features that share a few strong directions (as a recurrent layer's
    units do), and labels from a noisy linear rule."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 3))
    X = base @ rng.normal(size=(3, d)) * 3 + 0.3 * rng.normal(size=(n, d))
    X = (X - X.mean(0)) / X.std(0)
    y = np.argmax(X @ rng.normal(size=(d, k)) + rng.normal(size=(n, k)), axis=1)
    return X.astype(dtype), y


@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_it_reaches_sklearns_optimum(C: float) -> None:
    X, y = _correlated()
    found = fit_logistic(X, y, 5, C, curvature_basis(X), tol=1e-7, max_iter=20_000)
    tight = LogisticRegression(C=C, tol=1e-10, max_iter=50_000).fit(X, y)
    assert found.converged
    scale = max(1.0, float(np.abs(tight.coef_).max()))
    np.testing.assert_allclose(found.coef, tight.coef_, atol=1e-4 * scale)
    np.testing.assert_allclose(found.intercept, tight.intercept_, atol=1e-4 * scale)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sklearns_lbfgs_started_at_its_solution_takes_no_step(dtype) -> None:
    X, y = _correlated(dtype=dtype)
    found = fit_logistic(X, y, 5, 10.0, curvature_basis(X))
    assert found.converged and found.n_iter > 0
    check = LogisticRegression(C=10.0, warm_start=True, max_iter=1000)
    check.coef_, check.intercept_ = found.coef.copy(), found.intercept.copy()
    check.fit(X, y)
    assert check.n_iter_[0] == 0  # scikit-learn's rule (max |gradient| <= tol) already holds
    np.testing.assert_array_equal(check.coef_, found.coef)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_two_classes_are_sklearns_binary_model(dtype) -> None:
    X, y = _correlated(k=2, dtype=dtype)
    found = fit_logistic(X, y, 2, 10.0, curvature_basis(X))
    assert found.coef.shape == (1, X.shape[1]) and found.intercept.shape == (1,)
    check = LogisticRegression(C=10.0, warm_start=True, max_iter=1000)
    check.coef_, check.intercept_ = found.coef.copy(), found.intercept.copy()
    assert check.fit(X, y).n_iter_[0] == 0  # scikit-learn's binary rule holds there
    tight = LogisticRegression(C=10.0, tol=1e-10, max_iter=50_000).fit(X.astype(np.float64), y)
    (C, proba, _), = path_probabilities(X, y, 2, X[:50], (10.0,), curvature_basis(X))
    np.testing.assert_allclose(proba, tight.predict_proba(X[:50].astype(np.float64)),
                               atol=2e-3)


def test_correlated_features_take_far_fewer_iterations() -> None:
    X, y = _correlated(n=1500, d=64, k=8)
    found = fit_logistic(X, y, 8, 10.0, curvature_basis(X))
    plain = LogisticRegression(C=10.0, max_iter=5000).fit(X, y)
    assert found.converged
    assert found.n_iter * 3 < plain.n_iter_[0], (found.n_iter, plain.n_iter_[0])


def test_any_basis_gives_the_same_optimum() -> None:
    X, y = _correlated()
    own = fit_logistic(X, y, 5, 1.0, curvature_basis(X), tol=1e-7, max_iter=20_000)
    other = curvature_basis(np.random.default_rng(3).normal(size=(50, X.shape[1])))
    borrowed = fit_logistic(X, y, 5, 1.0, other, tol=1e-7, max_iter=20_000)
    np.testing.assert_allclose(borrowed.coef, own.coef, atol=1e-4)


def test_a_warm_start_at_the_optimum_takes_no_iteration() -> None:
    X, y = _correlated()
    basis = curvature_basis(X)
    first = fit_logistic(X, y, 5, 1.0, basis)
    again = fit_logistic(X, y, 5, 1.0, basis, init=(first.coef, first.intercept))
    assert again.n_iter == 0 and again.converged


def test_the_path_warns_when_a_fit_misses_the_rule() -> None:
    X, y = _correlated()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = list(path_probabilities(X[:400], y[:400], 5, X[400:], (0.1, 10.0),
                                      curvature_basis(X), max_iter=2))
    assert [C for C, _, _ in out] == [0.1, 10.0]
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
    for _, proba, _ in out:
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_an_inner_fold_without_some_classes_keeps_sklearns_fit() -> None:
    # a class present in only a few groups: some inner folds train on two classes only,
    # where scikit-learn fits a binary model; the probe must score those folds as before
    X, y = _correlated(n=300, k=3)
    y = y.copy()
    y[y == 2] = 1
    y[:6] = 2  # class 2 only in the first 3 groups
    groups = np.repeat(np.arange(150), 2)
    probe = LogisticProbe().fit(X, y, groups=groups)
    lbfgs = LogisticProbe(solver="lbfgs").fit(X, y, groups=groups)
    assert probe.C_ == lbfgs.C_
    for C in probe.dev_scores_:
        assert probe.dev_scores_[C] == pytest.approx(lbfgs.dev_scores_[C], abs=2e-3)


def test_a_cells_fits_share_one_basis(monkeypatch) -> None:
    import probe_rnn.probing.probes as probes
    from probe_rnn.probing.jobs import Fitter, Problem, mdl_job

    calls = []
    real = probes.curvature_basis

    def counted(X):
        calls.append(X.shape)
        return real(X)

    monkeypatch.setattr(probes, "curvature_basis", counted)
    X, y = _correlated(n=400, d=16, k=4)
    groups = np.repeat(np.arange(200), 2)
    control = np.random.default_rng(1).integers(0, 4, size=len(y))
    fitter = Fitter("logistic", 0)
    fitter.fit("task", X[:320], y[:320], groups[:320])  # the C search finds the basis
    fitter.fit("control", X[:320], control[:320], groups[:320])
    fitter.fit("task", X[80:], y[80:], groups[80:])
    p = Problem(X, y, groups, None, None, None, "classification")
    out = mdl_job("logistic", p, 0, tuned=fitter.tuned, control=control)
    assert np.isfinite(out["mdl_bits"]) and np.isfinite(out["control_mdl_bits"])
    assert len(calls) == 1, calls


def test_few_rows_use_sklearns_lbfgs_as_it_is() -> None:
    # fewer rows than columns: scikit-learn's rule stops far from the optimum there, so the
    # walk is scikit-learn's own and its stopping point (the project's numbers) is kept
    X, y = _correlated(n=20, d=24, k=3)
    probe = LogisticProbe(C=10.0).fit(X, y)
    bare = LogisticRegression(C=10.0, max_iter=1000).fit((X - probe.mean_) / probe.scale_, y)
    np.testing.assert_allclose(probe.coef_, bare.coef_, rtol=1e-5, atol=1e-6)
    tuned = LogisticProbe().fit(X, y)
    lbfgs = LogisticProbe(solver="lbfgs").fit(X, y)
    assert tuned.dev_scores_ == lbfgs.dev_scores_


def test_the_solver_can_be_named_and_a_bad_name_is_refused() -> None:
    from probe_rnn.errors import ConfigError

    X, y = _correlated()
    named = LogisticProbe(C=1.0, solver="preconditioned").fit(X, y)
    default = LogisticProbe(C=1.0).fit(X, y)  # five classes: "auto" picks it
    np.testing.assert_array_equal(named.coef_, default.coef_)
    binary = LogisticProbe(C=1.0, solver="preconditioned").fit(X, y % 2)
    bare = LogisticRegression(C=1.0, tol=1e-10, max_iter=50_000).fit(
        (X - binary.mean_) / binary.scale_, y % 2)
    np.testing.assert_allclose(binary.coef_, bare.coef_, atol=1e-3)
    with pytest.raises(ConfigError, match="preconditioned"):
        LogisticProbe(solver="newton").fit(X, y)


@pytest.mark.parametrize("width, rows, expected", [
    (64, 600, "newton-cholesky"),     # narrow: the Hessian is cheap
    (256, 600, "preconditioned"),     # wide, more rows than features: the walk
    (256, 200, "newton-cholesky"),    # wide, fewer rows than features: the exact optimum
])
def test_two_classes_take_newton_only_where_it_is_cheap(width: int, rows: int,
                                                        expected: str) -> None:
    X, y = _correlated(n=rows, d=width, k=2)
    auto = LogisticProbe(C=1.0).fit(X, y)
    named = LogisticProbe(C=1.0, solver=expected).fit(X, y)
    np.testing.assert_array_equal(auto.coef_, named.coef_)
    # either way, scikit-learn's problem, solved to its rule: max |gradient| <= tol (1e-4) of
    # mean log-loss + ||w||² / (2 C n), written out here
    Xs = (X - auto.mean_) / auto.scale_
    w, b = auto.model_.coef_[0], auto.model_.intercept_[0]
    residual = 1.0 / (1.0 + np.exp(-(Xs @ w + b))) - y
    gradient = np.append(Xs.T @ residual / rows + w / (1.0 * rows), residual.mean())
    assert np.abs(gradient).max() <= 1e-4
