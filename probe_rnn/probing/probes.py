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
  the previous fit's weights (same classes), which MDL's blocks use (a block trains on the
  last block's rows and more; folds never do, :mod:`.jobs`).
  Three or more classes (and two past :data:`NEWTON_FEATURES` features, where the fit has
  at least as many rows) are solved by :mod:`.solver` (scikit-learn's lbfgs problem and
  stopping rule, preconditioned; the model is scikit-learn's ``LogisticRegression``), two
  classes on narrower states by scikit-learn's Newton–Cholesky.
- ``ridge``: :class:`RidgeProbe`, :class:`~sklearn.linear_model.RidgeCV` (efficient LOO over
  ``alphas``) for regression tasks.
- ``mlp``: :class:`MLPProbe`, one hidden layer, early stopping on 10 % of the rows.

Any other scikit-learn estimator can be named by import path (``sklearn.svm.LinearSVC``); it
must have ``fit`` and ``predict``. Without ``predict_proba`` the bits and MDL of that probe
are reported as NaN.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from probe_rnn.data.sampling import sample_groups
from probe_rnn.errors import ConfigError
from probe_rnn.plugins import register_probe
from probe_rnn.probing.measures import align_proba
from probe_rnn.probing.scaled_probes import (  # noqa: F401 - the built-ins, by their old home
    ClassifierProbe,
    MLPProbe,
    RidgeProbe,
)
from probe_rnn.probing.solver import (
    CurvatureBasis,
    curvature_basis,
    fit_logistic,
    has_full_rows,
    path_probabilities,
)
from probe_rnn.probing.tuning import (
    fold_one_standard_error,
    inner_folds_of,
    row_one_standard_error,
)

DEFAULT_CS: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
#: Two-class fits of at most this many features (or of fewer rows than features, up to 1,000)
#: are solved by Newton–Cholesky; wider ones by the preconditioned walk of :mod:`.solver`.
#: Measured on 3,200 held-out sentences, one thread, the C search and fit of one fold: 512
#: features 2.2 s Newton against 0.72 s preconditioned, 256: 0.43 against 0.15 s, 128: 0.10
#: against 0.12 s, 64: 0.09 against 0.07 s (Newton's Hessian costs rows x features² a step).
NEWTON_FEATURES = 128


@register_probe("logistic")
class LogisticProbe(ClassifierProbe):
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
        Iteration limit and gradient tolerance, as in
        :class:`~sklearn.linear_model.LogisticRegression`.
    random_state : int
        Seeds the inner split.
    tune_rows : int or None
        Most training rows the C search uses (a seeded sample of whole groups); None: all.
    solver : {"auto", "lbfgs", "newton-cholesky", "preconditioned"}
        "auto": Newton–Cholesky for two classes with at most :data:`NEWTON_FEATURES` (128)
        features, or with fewer rows than features up to 1,000 (an exact second-order
        solver, ~3x faster than scikit-learn's lbfgs there, to the same optimum), else
        "preconditioned": scikit-learn's lbfgs problem and stopping rule, walked by L-BFGS in
        preconditioned coordinates (:mod:`.solver`; the full Hessian costs more than it saves
        there: three times more for two classes at 512 features). Its solution is set on
        scikit-learn's ``LogisticRegression``, whose own lbfgs would take no step from it
        (tested); "lbfgs" is scikit-learn's walk itself.
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

    def _solver(self, rows: int) -> str:
        """The solver of a fit on ``rows`` rows ("auto": the class docstring's rule)."""
        if self.solver != "auto":
            return self.solver
        binary, width = len(getattr(self, "classes_", ())) == 2, self.n_features_in_
        if binary and width <= 1000 and (width <= NEWTON_FEATURES or rows < width):
            return "newton-cholesky"
        return "preconditioned"

    def _lr(self, C: float, rows: int, init: tuple[np.ndarray, np.ndarray] | None = None
            ) -> LogisticRegression:
        solver = self._solver(rows)
        lr = LogisticRegression(C=C, max_iter=self.max_iter, tol=self.tol,
                                warm_start=init is not None,
                                solver="lbfgs" if solver == "preconditioned" else solver)
        if init is not None:
            lr.coef_, lr.intercept_ = init[0].copy(), init[1].copy()
        return lr

    def _fit_at(self, C: float, Xs: np.ndarray, y: np.ndarray,
                init: tuple[np.ndarray, np.ndarray] | None) -> LogisticRegression:
        """scikit-learn's model at ``C``. The preconditioned solver's solution, when it met the
        rule, is set on a LogisticRegression as its fit would (scikit-learn's lbfgs started
        there takes no step: tested); else scikit-learn's lbfgs goes on from it."""
        if self._solver(len(Xs)) != "preconditioned" or not has_full_rows(Xs):
            return self._lr(C, len(Xs), init).fit(Xs, y)
        found = fit_logistic(Xs, y, len(self.classes_), C, self._basis(Xs), init, self.tol,
                             self.max_iter)
        model = self._lr(C, len(Xs), (found.coef, found.intercept))
        if not found.converged:
            model.fit(Xs, y)
        else:
            model.classes_, model.n_features_in_ = np.arange(len(self.classes_)), Xs.shape[1]
        model.n_iter_ = np.asarray(getattr(model, "n_iter_", [0])) + found.n_iter
        return model

    def _basis(self, Xs: np.ndarray) -> CurvatureBasis:
        """The preconditioner's basis: the one found earlier in this fit (the C search's),
        in the last fit (``warm_start``) or lent by :meth:`share_basis`, when it serves rows
        ``Xs`` (:meth:`~.solver.CurvatureBasis.serves`); else computed on ``Xs``."""
        kept = getattr(self, "_curvature", None)
        if kept is None or not kept.serves(Xs):
            self._curvature = curvature_basis(Xs)
        return self._curvature

    def share_basis(self, fitted: Any) -> LogisticProbe:
        """Precondition the next fits with ``fitted``'s basis (another LogisticProbe fitted on
        rows of the same cell): the optimum is the same, the basis is not computed again."""
        self._curvature = getattr(fitted, "_curvature", None)
        self._lent = self._curvature is not None
        return self

    def fit(self, X: Any, y: Any, groups: Any = None) -> LogisticProbe:
        """Fit on ``X`` (rows, dim) and ``y`` (rows,); ``groups`` keeps sentences together."""
        if self.C is not None and not self.C > 0:
            raise ConfigError(f"LogisticProbe C must be > 0 or None (tune), got {self.C!r}")
        if not 0 < self.dev_fraction < 1:
            raise ConfigError(f"dev_fraction must be in (0, 1), got {self.dev_fraction!r}")
        if not isinstance(self.inner_folds, int | np.integer) or self.inner_folds < 1:
            raise ConfigError(f"LogisticProbe inner_folds must be an integer >= 1, got "
                              f"{self.inner_folds!r}")
        if self.solver not in ("auto", "lbfgs", "newton-cholesky", "preconditioned"):
            raise ConfigError(f"LogisticProbe solver must be 'auto', 'lbfgs', "
                              f"'newton-cholesky' or 'preconditioned', got {self.solver!r}")
        previous = self._previous_solution(X)
        if not (self.warm_start or getattr(self, "_lent", False)):
            self._curvature = None  # a fit depends on its own rows, not on the last fit's
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
        self.model_ = self._fit_at(self.C_, Xs, y, init)
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
        codes = np.arange(len(self.classes_))
        present = np.unique(y[tr])
        if self._solver(len(tr)) == "preconditioned" and has_full_rows(Xs[tr]):
            walk = ((C, present, proba, (found.coef, found.intercept)) for C, proba, found in
                    path_probabilities(Xs[tr], np.searchsorted(present, y[tr]), len(present),
                                       Xs[dev], self.Cs, self._basis(Xs[tr]), self.tol,
                                       self.max_iter))
        else:
            walk = self._lbfgs_path(Xs[tr], y[tr], Xs[dev])
        out = {}
        for C, have, proba, weights in walk:
            proba = align_proba(proba, have, codes)
            loss = -np.log(np.clip(proba[np.arange(len(dev)), y[dev]], 1e-15, None))
            out[C] = (loss, weights if len(have) == len(codes) else None)
        return out

    def _lbfgs_path(self, X_tr: np.ndarray, y_tr: np.ndarray, X_dev: np.ndarray
                    ) -> Iterator[tuple[float, np.ndarray, np.ndarray,
                                        tuple[np.ndarray, np.ndarray]]]:
        """The C path of one scikit-learn model: per C, its classes, dev probabilities and
        weights."""
        solver = self._solver(len(X_tr))
        path = LogisticRegression(max_iter=self.max_iter, tol=self.tol, warm_start=True,
                                  solver="lbfgs" if solver == "preconditioned" else solver)
        for C in sorted(float(c) for c in self.Cs):
            path.set_params(C=C).fit(X_tr, y_tr)
            yield (C, path.classes_, path.predict_proba(X_dev),
                   (path.coef_.copy(), path.intercept_.copy()))

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
