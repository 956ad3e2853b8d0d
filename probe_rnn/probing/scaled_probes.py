"""Standardised probes' shared plumbing, and the ridge and MLP probes.

:class:`ScaledProbe` validates, standardises (fitted on the training rows only) and delegates
to ``self.model_``; :class:`ClassifierProbe` maps integer class codes back to ``classes_``.
:class:`RidgeProbe` (``ridge``) and :class:`MLPProbe` (``mlp``) are built on them, as is
:class:`~probe_rnn.probing.probes.LogisticProbe` (``logistic``); :mod:`.probes` describes all
three.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.linear_model import RidgeCV
from sklearn.neural_network import MLPClassifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from probe_rnn.plugins import register_probe
from probe_rnn.probing.splits import inner_split


class ScaledProbe(BaseEstimator):
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


class ClassifierProbe(ClassifierMixin, ScaledProbe):
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


@register_probe("ridge")
class RidgeProbe(RegressorMixin, ScaledProbe):
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
class MLPProbe(ClassifierProbe):
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
