"""Example probe plugin: a nearest-centroid classifier with calibrated-ish probabilities.

A deliberately weak, parameter-light probe: it predicts the class whose mean (in standardised
feature space) is closest. ``predict_proba`` is a softmax over negative squared distances
scaled by ``temperature``, so the runner can report usable information (bits) and MDL for it.

Use it with ``probe-rnn probe ... --probes centroid`` (this folder is read automatically when
it is ``./probes``; otherwise pass ``--plugins probes``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from probe_rnn.plugins import register_probe


@register_probe("centroid")
class NearestCentroidProbe(ClassifierMixin, BaseEstimator):
    """Nearest class mean after standardisation; softmax(-distance² / (temperature · dim)).

    Parameters
    ----------
    temperature : float
        Softness of the probabilities (larger = closer to uniform).
    """

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = temperature

    def fit(self, X, y):  # noqa: ANN001, ANN201
        """Store the standardised class means, shape (n_classes, dim)."""
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        self.scaler_ = StandardScaler().fit(X)
        Xs = self.scaler_.transform(X)
        self.centroids_ = np.stack([Xs[y_idx == k].mean(axis=0) for k in range(len(self.classes_))])
        return self

    def _sq_dist(self, X):  # noqa: ANN001, ANN202
        check_is_fitted(self, "centroids_")
        X = validate_data(self, X, reset=False)
        Xs = self.scaler_.transform(X)
        return ((Xs[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(axis=2)

    def predict_proba(self, X):  # noqa: ANN001, ANN201
        """Softmax over negative scaled squared distances, shape (rows, n_classes)."""
        logits = -self._sq_dist(X) / (self.temperature * self.n_features_in_)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):  # noqa: ANN001, ANN201
        """The class of the nearest centroid, shape (rows,)."""
        nearest = np.argmin(self._sq_dist(X), axis=1)
        return self.classes_[nearest]
