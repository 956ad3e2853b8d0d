"""Probes: scikit-learn estimators that read a state and predict a task's target.

Built-in probes (registered with :func:`probe_rnn.plugins.register_probe`) standardise their
features inside ``fit`` (:class:`~sklearn.preprocessing.StandardScaler`'s transform, fitted on
the training rows only) and pass :func:`sklearn.utils.estimator_checks.check_estimator`:

- ``logistic``: :class:`LogisticProbe`, multinomial L2 logistic regression; ``C`` is tuned on
  ``inner_folds`` (5) seeded inner folds (by group when ``groups`` is given) over the grid ``Cs``
  by held-out log-loss (the smallest C within one fold-level standard error of the best,
  :mod:`probe_rnn.probing.tuning`), then refitted on all training rows. With fewer than
  ``min_tune`` rows, or with a fixed ``C``, no tuning happens. Past ``tune_rows`` training
  rows the search runs on a seeded sample of whole groups of that size (the grid's log-loss
  ranking is stable there and the search stops growing with the data); the final fit starts
  from the search's solution at the chosen ``C``. ``warm_start=True`` starts each refit from
  the previous fit's weights (same classes), which the probing cells use across folds.
- ``ridge``: :class:`RidgeProbe`, :class:`~sklearn.linear_model.RidgeCV` (efficient LOO over
  ``alphas``) for regression tasks.
- ``mlp``: :class:`MLPProbe`, one hidden layer, early stopping on 10 % of the rows.

Any other scikit-learn estimator can be named by import path (``sklearn.svm.LinearSVC``); it
must have ``fit`` and ``predict``. Without ``predict_proba`` the bits and MDL of that probe
are reported as NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.neural_network import MLPClassifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from probe_rnn.data.sampling import sample_groups
from probe_rnn.errors import ConfigError
from probe_rnn.plugins import register_probe
from probe_rnn.probing.measures import align_proba
from probe_rnn.probing.splits import inner_split
from probe_rnn.probing.tuning import (
    fold_one_standard_error,
    inner_folds_of,
    row_one_standard_error,
)

DEFAULT_CS: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)


class _ScaledProbe(BaseEstimator):
    """Shared plumbing: validate, standardise, delegate to ``self.model_``.

    Standardisation is :class:`~sklearn.preprocessing.StandardScaler`'s (population standard
    deviation; constant columns keep scale 1), done in numpy to keep the per-fit overhead small;
    ``mean_`` and ``scale_`` hold it. Classifiers hand the estimator integer codes of
    ``classes_`` (cheaper to validate than string labels) and map predictions back.
    """

    def _scale_fit(self, X: Any, y: Any, *, classifier: bool) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=not classifier)
        if classifier:
            check_classification_targets(y)
            self.classes_, y = np.unique(y, return_inverse=True)
        # not StandardScaler: on float32 states it accumulates in float64 and differs from this
        # in 98 % of the entries (max 1.5e-5 at 20,000 x 128), which moves every fitted probe;
        # on float64 the two agree to the bit.
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        constant = std <= 10 * np.finfo(X.dtype).eps * np.maximum(np.abs(self.mean_), 1.0)
        self.scale_ = np.where(constant, 1.0, std).astype(X.dtype)
        return (X - self.mean_) / self.scale_, y

    def _scaled(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return (X - self.mean_) / self.scale_

    def predict(self, X: Any) -> np.ndarray:
        """Predict targets for ``X`` of shape (rows, dim)."""
        Xs = self._scaled(X)
        return self.model_.predict(Xs)

    @property
    def n_iter_(self) -> Any:
        """Iterations of the final fit (as reported by the underlying estimator)."""
        check_is_fitted(self, "model_")
        return getattr(self.model_, "n_iter_", 1)


class _ClassifierProbe(ClassifierMixin, _ScaledProbe):
    def predict(self, X: Any) -> np.ndarray:
        """Predict classes for ``X`` of shape (rows, dim)."""
        Xs = self._scaled(X)
        return self.classes_[self.model_.predict(Xs)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (rows, n_classes), columns in ``classes_`` order."""
        Xs = self._scaled(X)
        return self.model_.predict_proba(Xs)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba`."""
        return np.log(np.clip(self.predict_proba(X), 1e-300, None))


@register_probe("logistic")
class LogisticProbe(_ClassifierProbe):
    """Standardised multinomial L2 logistic regression with ``C`` tuned on inner group folds.

    Parameters
    ----------
    C : float or None
        Inverse regularisation strength; None tunes it over ``Cs``.
    Cs : sequence of float
        Grid searched when ``C`` is None.
    dev_fraction : float
        Share of training rows (or groups) held out to choose ``C`` when ``inner_folds`` is 1.
    inner_folds : int
        Inner group folds the C search scores (at most one per group); 1: one dev split.
    min_tune : int
        Below this many rows ``C`` is not tuned and ``default_C`` is used.
    default_C : float
        ``C`` used when tuning is skipped.
    max_iter, tol : int, float
        Passed to :class:`~sklearn.linear_model.LogisticRegression` (lbfgs).
    random_state : int
        Seeds the inner split.
    tune_rows : int or None
        Most training rows the C search uses (a seeded sample of whole groups); None: all.
    solver : {"auto", "lbfgs", "newton-cholesky"}
        "auto": Newton–Cholesky for two classes with at most 1,000 features (an exact
        second-order solver, ~3x faster than lbfgs there, to the same optimum), lbfgs for
        more classes (where the full Hessian costs more than it saves).
    warm_start : bool
        Start a refit from the previous fit's weights when the classes are the same; the
        optimum is the same, only fewer lbfgs iterations are needed to reach it.

    Attributes
    ----------
    C_ : float
        The ``C`` used for the final fit.
    model_ : LogisticRegression
        Fitted on standardised features and integer class codes.
    mean_, scale_ : ndarray, shape (dim,)
        Standardisation of the features.
    classes_ : ndarray, shape (n_classes,)
    dev_scores_ : dict[float, float]
        Mean over inner folds of the dev log-loss per ``C`` (empty when not tuned).
    """

    def __init__(
        self,
        C: float | None = None,
        Cs: Sequence[float] = DEFAULT_CS,
        dev_fraction: float = 0.2,
        min_tune: int = 50,
        default_C: float = 1.0,
        max_iter: int = 1000,
        tol: float = 1e-4,
        random_state: int = 0,
        tune_rows: int | None = 4000,
        warm_start: bool = False,
        solver: str = "auto",
        inner_folds: int = 5,
    ) -> None:
        self.C = C
        self.Cs = Cs
        self.dev_fraction = dev_fraction
        self.min_tune = min_tune
        self.default_C = default_C
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.tune_rows = tune_rows
        self.warm_start = warm_start
        self.solver = solver
        self.inner_folds = inner_folds

    def _solver(self) -> str:
        if self.solver != "auto":
            return self.solver
        binary = len(getattr(self, "classes_", ())) == 2
        return "newton-cholesky" if binary and self.n_features_in_ <= 1000 else "lbfgs"

    def _lr(self, C: float, init: tuple[np.ndarray, np.ndarray] | None = None
            ) -> LogisticRegression:
        lr = LogisticRegression(C=C, max_iter=self.max_iter, tol=self.tol,
                                warm_start=init is not None, solver=self._solver())
        if init is not None:
            lr.coef_, lr.intercept_ = init[0].copy(), init[1].copy()
        return lr

    def fit(self, X: Any, y: Any, groups: Any = None) -> LogisticProbe:
        """Fit on ``X`` (rows, dim) and ``y`` (rows,); ``groups`` keeps sentences together."""
        if self.C is not None and not self.C > 0:
            raise ConfigError(f"LogisticProbe C must be > 0 or None (tune), got {self.C!r}")
        if not 0 < self.dev_fraction < 1:
            raise ConfigError(f"dev_fraction must be in (0, 1), got {self.dev_fraction!r}")
        if not isinstance(self.inner_folds, int | np.integer) or self.inner_folds < 1:
            raise ConfigError(f"LogisticProbe inner_folds must be an integer >= 1, got "
                              f"{self.inner_folds!r}")
        if self.solver not in ("auto", "lbfgs", "newton-cholesky"):
            raise ConfigError(f"LogisticProbe solver must be 'auto', 'lbfgs' or "
                              f"'newton-cholesky', got {self.solver!r}")
        previous = self._previous_solution(X)
        Xs, y = self._scale_fit(X, y, classifier=True)
        self.dev_scores_: dict[float, float] = {}
        if len(self.classes_) < 2:
            raise ValueError(
                f"LogisticProbe needs at least 2 classes in y, got 1 class: {self.classes_[0]!r}"
            )
        if previous is not None and not np.array_equal(previous[0], self.classes_):
            previous = None
        init = None if previous is None else previous[1]
        if self.C is not None:
            self.C_ = float(self.C)
        else:
            self.C_, path_init = self._tune(Xs, y, groups)
            init = path_init if path_init is not None else init
        self.model_ = self._lr(self.C_, init).fit(Xs, y)
        return self

    def _previous_solution(
        self, X: Any
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]] | None:
        """``(classes_, (coef, intercept))`` of the last fit, when ``warm_start`` may use it."""
        model = getattr(self, "model_", None)
        if not self.warm_start or model is None:
            return None
        if getattr(self, "n_features_in_", None) != np.shape(X)[-1]:
            return None
        return self.classes_, (model.coef_, model.intercept_)

    def _tune(self, Xs: np.ndarray, y: np.ndarray, groups: Any
              ) -> tuple[float, tuple[np.ndarray, np.ndarray] | None]:
        """The C chosen on ``inner_folds`` group folds (:mod:`.tuning`), and the weights at
        that C of the first fold's path.

        Not LogisticRegressionCV: it picks the plain minimum, not the one-standard-error C,
        and walks no warm-started path (0.86 s vs 0.11 s a fold at 4,000 rows x 128, 11
        classes).
        """
        if len(y) < self.min_tune or len(self.Cs) < 2:
            return float(self.default_C if len(self.Cs) != 1 else self.Cs[0]), None
        g = np.arange(len(y)) if groups is None else np.asarray(groups)
        sample = sample_groups(g, self.tune_rows, self.random_state)
        folds = inner_folds_of(g[sample], self.inner_folds, self.dev_fraction,
                               self.random_state)
        fold_losses: dict[float, list[float]] = {float(c): [] for c in self.Cs}
        rows: dict[float, np.ndarray] = {}
        weights: dict[float, tuple[np.ndarray, np.ndarray] | None] = {}
        for tr, dev in folds:
            tr, dev = sample[tr], sample[dev]
            if len(np.unique(y[tr])) < 2 or len(dev) == 0:
                continue
            for C, (loss, w) in self._path(Xs, y, tr, dev).items():
                fold_losses[C].append(float(loss.mean()))
                rows.setdefault(C, loss)
                weights.setdefault(C, w)
        if not rows:
            return float(self.default_C), None
        self.dev_scores_ = {C: float(np.mean(v)) for C, v in fold_losses.items()}
        best = (fold_one_standard_error({C: np.asarray(v) for C, v in fold_losses.items()})
                if len(fold_losses[next(iter(rows))]) > 1 else row_one_standard_error(rows))
        return best, weights[best]

    def _path(self, Xs: np.ndarray, y: np.ndarray, tr: np.ndarray, dev: np.ndarray
              ) -> dict[float, tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]]:
        """Per C: dev rows' log-loss and the weights, one model walked along the grid from
        strong to weak regularisation, warm-started."""
        path = LogisticRegression(max_iter=self.max_iter, tol=self.tol, warm_start=True,
                                  solver=self._solver())
        codes = np.arange(len(self.classes_))
        out = {}
        for C in sorted(float(c) for c in self.Cs):
            path.set_params(C=C).fit(Xs[tr], y[tr])
            proba = align_proba(path.predict_proba(Xs[dev]), path.classes_, codes)
            loss = -np.log(np.clip(proba[np.arange(len(dev)), y[dev]], 1e-15, None))
            same = len(path.classes_) == len(codes)
            out[C] = (loss, (path.coef_.copy(), path.intercept_.copy()) if same else None)
        return out

    @property
    def tuned_params_(self) -> dict[str, float]:
        """Hyperparameters chosen by the inner search, to reuse as fixed parameters."""
        check_is_fitted(self, "model_")
        return {"C": self.C_}

    def untuned(self) -> LogisticProbe:
        """A copy without the inner search (``C=default_C`` unless ``C`` is fixed)."""
        return clone(self).set_params(C=self.C if self.C is not None else self.default_C)

    def decision_function(self, X: Any) -> np.ndarray:
        """Decision scores from the underlying logistic regression."""
        Xs = self._scaled(X)
        return self.model_.decision_function(Xs)

    @property
    def coef_(self) -> np.ndarray:
        """Weights in the standardised feature space, shape (n_classes or 1, dim)."""
        check_is_fitted(self, "model_")
        return self.model_.coef_


@register_probe("ridge")
class RidgeProbe(RegressorMixin, _ScaledProbe):
    """Standardised ridge regression with ``alpha`` chosen by efficient leave-one-out.

    Parameters
    ----------
    alphas : sequence of float
        Regularisation grid for :class:`~sklearn.linear_model.RidgeCV`.
    """

    def __init__(self, alphas: Sequence[float] = (0.1, 1.0, 10.0, 100.0, 1000.0)) -> None:
        self.alphas = alphas

    def fit(self, X: Any, y: Any) -> RidgeProbe:
        """Fit on ``X`` (rows, dim) and numeric ``y`` (rows,)."""
        Xs, y = self._scale_fit(X, y, classifier=False)
        self.model_ = RidgeCV(alphas=tuple(self.alphas)).fit(Xs, y)
        self.alpha_ = float(self.model_.alpha_)
        return self


@register_probe("mlp")
class MLPProbe(_ClassifierProbe):
    """Standardised one-hidden-layer MLP classifier with early stopping.

    Parameters
    ----------
    hidden : int
        Units in the hidden layer.
    alpha : float
        L2 penalty.
    max_iter : int
        Epoch limit.
    early_stopping : bool
        Stop when the accuracy on a 10 % validation split stops improving for 10 epochs and
        keep the best epoch's weights (skipped below 50 rows). The split keeps whole
        sentences on one side when ``fit`` gets ``groups`` (as the probing runner passes
        them), so validation never scores tokens of a sentence the MLP trained on.
    random_state : int
        Seeds initialisation, shuffling and the early-stopping split.
    """

    validation_fraction = 0.1
    n_iter_no_change = 10
    tol = 1e-4

    def __init__(self, hidden: int = 64, alpha: float = 1e-4, max_iter: int = 200,
                 early_stopping: bool = True, random_state: int = 0) -> None:
        self.hidden = hidden
        self.alpha = alpha
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.random_state = random_state

    def fit(self, X: Any, y: Any, groups: Any = None) -> MLPProbe:
        """Fit on ``X`` (rows, dim) and ``y`` (rows,); ``groups`` (the sentence of each row)
        keeps sentences whole in the early-stopping split."""
        Xs, y = self._scale_fit(X, y, classifier=True)
        mlp = MLPClassifier(hidden_layer_sizes=(int(self.hidden),), alpha=self.alpha,
                            max_iter=self.max_iter, random_state=self.random_state)
        self.validation_rows_ = np.zeros(0, dtype=np.int64)
        if not (self.early_stopping and len(y) >= 50):
            self.model_ = mlp.fit(Xs, y)
            return self
        g = None if groups is None else np.asarray(groups)
        tr, val = inner_split(len(y), self.validation_fraction, self.random_state, g)
        if len(np.unique(y[tr])) < len(self.classes_) or len(val) == 0:
            self.model_ = mlp.fit(Xs, y)  # the split would lose a class: no early stopping
            return self
        self.validation_rows_ = val
        best, best_score, stale = None, -np.inf, 0
        for _ in range(int(self.max_iter)):  # one epoch per partial_fit (adam, shuffled)
            mlp.partial_fit(Xs[tr], y[tr], classes=np.arange(len(self.classes_)))  # y: codes
            score = mlp.score(Xs[val], y[val])
            if score > best_score + self.tol:
                best_score, stale = score, 0
                best = ([c.copy() for c in mlp.coefs_], [b.copy() for b in mlp.intercepts_])
            else:
                stale += 1
                if stale >= self.n_iter_no_change:
                    break
        if best is not None:
            mlp.coefs_, mlp.intercepts_ = best
        self.validation_score_ = float(best_score)
        self.model_ = mlp
        return self
