"""Measures: accuracy / R², usable information in bits, majority baseline, 95 % intervals.

Usable information (Xu et al. 2020, "V-information"; Hewitt et al. 2021) in bits::

    bits = H(Y) - CE(Y | X)
    H(Y)     = held-out cross-entropy (log2) of the training split's label frequencies
    CE(Y|X)  = held-out cross-entropy (log2) of the probe's predict_proba

Both terms are scored on the same held-out rows, so a view that carries nothing about Y gives
about 0 bits (slightly below when the probe overfits; reported as measured). Probabilities are
clipped to ``[EPS, 1]``: a held-out label never seen in training (probability 0) costs
``-log2(EPS)`` ≈ 19.9 bits in both terms.

Intervals: ``CI_METHOD`` — a 95 % Student-t interval over the folds × seeds values, with the
Nadeau & Bengio (2003) corrected variance ``s² (1/n + n_test/n_train)``, because K-fold
estimates share training rows and the plain t-interval is too narrow. With one value the
interval is NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = [
    "EPS",
    "CI_METHOD",
    "cross_entropy_bits",
    "marginal_proba",
    "usable_bits",
    "accuracy",
    "r2",
    "majority_accuracy",
    "ci95",
]

EPS = 1e-6
CI_METHOD = "95% t-interval over folds x seeds, Nadeau-Bengio corrected variance"


def cross_entropy_bits(y: np.ndarray, proba: np.ndarray, classes: Sequence) -> float:
    """Mean held-out cross-entropy in bits.

    Parameters
    ----------
    y : ndarray, shape (rows,)
        True labels; labels absent from ``classes`` get probability ``EPS``.
    proba : ndarray, shape (rows, n_classes)
        Predicted probabilities, columns in ``classes`` order.
    classes : sequence
        Class of each column.
    """
    if len(y) == 0:
        return float("nan")
    index = {c: i for i, c in enumerate(list(classes))}
    cols = np.array([index.get(v, -1) for v in np.asarray(y).tolist()], dtype=np.int64)
    p = np.full(len(cols), EPS)
    known = cols >= 0
    p[known] = np.asarray(proba, dtype=np.float64)[np.flatnonzero(known), cols[known]]
    return float(-np.mean(np.log2(np.clip(p, EPS, 1.0))))


def marginal_proba(y_train: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The training label frequencies as a constant predictor: ``(proba (n_rows, K), classes)``."""
    classes, counts = np.unique(np.asarray(y_train), return_counts=True)
    return np.tile(counts / counts.sum(), (n_rows, 1)), classes


def usable_bits(
    y_train: np.ndarray, y_test: np.ndarray, proba: np.ndarray, classes: Sequence
) -> tuple[float, float, float]:
    """Usable information of a fitted probe on held-out rows.

    Returns
    -------
    bits, h_y, ce : float
        ``h_y - ce``, the held-out entropy of the training marginal, the probe's cross-entropy.
    """
    null, null_classes = marginal_proba(y_train, len(y_test))
    h_y = cross_entropy_bits(y_test, null, null_classes)
    ce = cross_entropy_bits(y_test, proba, classes)
    return h_y - ce, h_y, ce


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of exact matches (NaN when empty)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")


def r2(y_true: np.ndarray, y_pred: np.ndarray, y_train_mean: float | None = None) -> float:
    """Coefficient of determination; the baseline is the training mean when given."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    base = float(np.mean(y_true)) if y_train_mean is None else y_train_mean
    ss_tot = float(np.sum((y_true - base) ** 2))
    if len(y_true) == 0 or ss_tot == 0:
        return float("nan")
    return 1.0 - float(np.sum((y_true - y_pred) ** 2)) / ss_tot


def majority_accuracy(y_train: np.ndarray, y_test: np.ndarray) -> float:
    """Accuracy on ``y_test`` of always predicting the training split's most frequent class."""
    if len(y_test) == 0 or len(y_train) == 0:
        return float("nan")
    classes, counts = np.unique(np.asarray(y_train), return_counts=True)
    return accuracy(y_test, np.full(len(y_test), classes[np.argmax(counts)], dtype=object))


def ci95(values: Sequence[float], test_train_ratio: float = 0.0) -> tuple[float, float, float]:
    """Mean and 95 % t-interval of fold × seed values (NaNs dropped).

    Parameters
    ----------
    values : sequence of float
        One value per fold and seed.
    test_train_ratio : float
        ``n_test / n_train`` of the folds (Nadeau-Bengio correction; 0 gives the plain interval).

    Returns
    -------
    mean, low, high : float
        ``low``/``high`` are NaN with fewer than two finite values.
    """
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    if len(v) < 2:
        return mean, float("nan"), float("nan")
    var = float(v.var(ddof=1)) * (1.0 / len(v) + test_train_ratio)
    half = float(stats.t.ppf(0.975, df=len(v) - 1)) * np.sqrt(var)
    return mean, mean - half, mean + half
