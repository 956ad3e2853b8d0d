"""Measures: accuracy / R², usable information in bits, majority baseline, metric ranges.

Usable information (Xu et al. 2020, "V-information"; Hewitt et al. 2021) in bits::

    bits = H(Y) - CE(Y | X)
    H(Y)     = held-out cross-entropy (log2) of the smoothed training marginal (the null model)
    CE(Y|X)  = held-out cross-entropy (log2) of the probe's smoothed predict_proba

Both terms are scored on the same held-out rows, over the task's full class set ``C``
(``K = |C|``: every class of the task across all probed rows, not only those of the fold).

Estimator (additive smoothing, one pseudo-count ``α = SMOOTHING = 0.5`` per class, the
Krichevsky–Trofimov / Jeffreys estimator). With ``n`` training rows and ``λ = Kα / (n + Kα)``:

    null(c)  = (count_train(c) + α) / (n + Kα)  =  (1 - λ) · freq_train(c) + λ / K
    probe(c) = (1 - λ) · p_probe(c | x) + λ / K      (p_probe = 0 for classes it never saw)

The probe's distribution gets exactly the same mixture with the uniform as the null model, so
(i) a probe that reproduces the training frequencies scores ``bits = 0`` exactly, and a view that
carries nothing about Y gives about 0 bits (slightly below when the probe overfits; reported as
measured); (ii) every class, including one absent from the training fold, has probability at
least ``α / (n + Kα)`` in both terms, so one held-out row costs at most ``log2((n + Kα) / α)``
bits in either (8.3 bits at n = 160, K = 2) instead of an arbitrary clipping constant, and the
penalty for a label the fold never saw is the same in H(Y) and CE and cancels in ``bits``.
H(Y) is a held-out estimate: it is near the plug-in entropy (≤ log2 K) when folds resemble each
other, and can exceed it only when a fold's labels differ from its training rows.
``λ`` uses the null model's ``n`` in both terms (for per-position rows, the training rows at
that position). ``cross_entropy_bits`` itself only floors at ``EPS`` for raw probabilities.

Intervals are computed in :mod:`probe_rnn.probing.intervals` (``ci95``: the Nadeau–Bengio
corrected t-interval over folds × seeds); their ends are clipped to the metric's valid range
``METRIC_BOUNDS`` (accuracy in [0, 1],
selectivity in [-1, 1], R² ≤ 1, entropy and MDL codelengths ≥ 0; ``bits`` is clipped to at most
H(label) by the cell, :mod:`probe_rnn.probing.cellstats`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.dummy import DummyClassifier

EPS = 1e-6
SMOOTHING = 0.5
_INF = float("inf")
METRIC_BOUNDS: dict[str, tuple[float, float]] = {
    "accuracy": (0.0, 1.0),
    "control_accuracy": (0.0, 1.0),
    "majority_accuracy": (0.0, 1.0),
    "selectivity": (-1.0, 1.0),
    "r2": (-_INF, 1.0),
    "entropy_bits": (0.0, _INF),
    "mdl_bits": (0.0, _INF),
    "uniform_bits": (0.0, _INF),
    "compression": (0.0, _INF),
    "control_mdl_bits": (0.0, _INF),
    "control_compression": (0.0, _INF),
    "prior_bits": (0.0, _INF),
    "control_prior_bits": (0.0, _INF),
    "label_entropy": (0.0, _INF),
    "control_key_accuracy": (0.0, 1.0),
    "control_majority": (0.0, 1.0),
}


def align_proba(proba: np.ndarray, have: Sequence, want: Sequence) -> np.ndarray:
    """Probability columns of classes ``have`` rearranged to classes ``want``, float64.

    Parameters
    ----------
    proba : ndarray, shape (rows, len(have))
        Column ``j`` belongs to class ``have[j]`` (e.g. an estimator's ``classes_``).
    have, want : sequence
        Classes of the given columns / of the wanted ones.

    Returns
    -------
    ndarray, shape (rows, len(want))
        Classes of ``want`` missing from ``have`` get 0; classes not in ``want`` are dropped.
    """
    out = np.zeros((proba.shape[0], len(want)), dtype=np.float64)
    index = {c: i for i, c in enumerate(np.asarray(want).tolist())}
    for j, c in enumerate(np.asarray(have).tolist()):
        if c in index:
            out[:, index[c]] = proba[:, j]
    return out


def bits_rows(y: np.ndarray, proba: np.ndarray, classes: Sequence) -> np.ndarray:
    """Per-row code length ``-log2 p(y_i)`` in bits, shape (rows,).

    Parameters
    ----------
    y : ndarray, shape (rows,)
        True labels; labels absent from ``classes`` get probability ``EPS``.
    proba : ndarray, shape (rows, n_classes)
        Predicted probabilities, columns in ``classes`` order.
    classes : sequence
        Class of each column.
    """
    index = {c: i for i, c in enumerate(list(classes))}
    cols = np.array([index.get(v, -1) for v in np.asarray(y).tolist()], dtype=np.int64)
    p = np.full(len(cols), EPS)
    known = cols >= 0
    p[known] = np.asarray(proba, dtype=np.float64)[np.flatnonzero(known), cols[known]]
    return -np.log2(np.clip(p, EPS, 1.0))


def cross_entropy_bits(y: np.ndarray, proba: np.ndarray, classes: Sequence) -> float:
    """Mean held-out cross-entropy in bits (the mean of :func:`bits_rows`; NaN when empty)."""
    if len(y) == 0:
        return float("nan")
    return float(np.mean(bits_rows(y, proba, classes)))


def class_set(*label_sets: Sequence) -> np.ndarray:
    """The sorted union of the given labels (object array): a task's full class set."""
    labels = {v for ys in label_sets if ys is not None for v in np.asarray(ys, dtype=object)}
    return np.asarray(sorted(labels, key=lambda v: (str(type(v)), v)), dtype=object)


def _mix(n_train: int, k: int, alpha: float) -> float:
    """Weight ``λ = Kα / (n + Kα)`` of the uniform in both smoothed distributions."""
    return k * alpha / (n_train + k * alpha) if k else 0.0


def marginal_proba(
    y_train: np.ndarray, n_rows: int, all_classes: Sequence | None = None,
    alpha: float = SMOOTHING,
) -> tuple[np.ndarray, np.ndarray]:
    """The smoothed training marginal as a constant predictor: ``(proba (n_rows, K), classes)``.

    ``(count(c) + alpha) / (n + K alpha)`` over ``all_classes`` (default: the training labels).
    """
    classes = class_set(y_train, all_classes)
    index = {c: i for i, c in enumerate(classes.tolist())}
    counts = np.zeros(len(classes))
    for v in np.asarray(y_train, dtype=object).tolist():
        counts[index[v]] += 1
    total = counts.sum() + len(classes) * alpha
    return np.tile((counts + alpha) / total, (n_rows, 1)), classes


def smooth_proba(
    proba: np.ndarray, classes: Sequence, all_classes: Sequence, n_train: int,
    alpha: float = SMOOTHING,
) -> np.ndarray:
    """A probe's ``predict_proba`` over ``all_classes``, mixed with the uniform like the null.

    Returns ``(1 - λ) p + λ / K`` with ``λ = Kα / (n_train + Kα)``; columns in ``all_classes``
    order, classes the probe never saw get ``p = 0`` before mixing. Rows are renormalised first.
    """
    all_classes = np.asarray(all_classes, dtype=object)
    out = align_proba(np.clip(np.asarray(proba, dtype=np.float64), 0.0, None), classes,
                      all_classes)
    sums = out.sum(axis=1, keepdims=True)
    out = np.divide(out, sums, out=np.full_like(out, 1.0 / len(all_classes)), where=sums > 0)
    lam = _mix(n_train, len(all_classes), alpha)
    return (1.0 - lam) * out + lam / len(all_classes)


def usable_bits_rows(
    y_train: np.ndarray, y_test: np.ndarray, proba: np.ndarray, classes: Sequence,
    all_classes: Sequence | None = None, alpha: float = SMOOTHING,
) -> tuple[np.ndarray, np.ndarray]:
    """Per held-out row: code length under the null model and under the probe, in bits.

    Their means are ``h_y`` and ``ce`` of :func:`usable_bits` (same arguments); per-row values
    let an interval resample sentences (the held-out protocol's bootstrap).

    Returns
    -------
    null_bits, probe_bits : ndarray, shape (len(y_test),)
    """
    full = class_set(all_classes, classes, y_train, y_test)
    null, _ = marginal_proba(y_train, len(y_test), full, alpha)
    smoothed = smooth_proba(proba, classes, full, len(y_train), alpha)
    return bits_rows(y_test, null, full), bits_rows(y_test, smoothed, full)


def usable_bits(
    y_train: np.ndarray, y_test: np.ndarray, proba: np.ndarray, classes: Sequence,
    all_classes: Sequence | None = None, alpha: float = SMOOTHING,
) -> tuple[float, float, float]:
    """Usable information of a fitted probe on held-out rows (estimator: module docstring).

    Parameters
    ----------
    y_train, y_test : ndarray
        Labels the null model is fitted on / the held-out labels.
    proba : ndarray, shape (len(y_test), len(classes))
        The probe's ``predict_proba`` on the held-out rows.
    classes : sequence
        Class of each ``proba`` column (the probe's ``classes_``).
    all_classes : sequence, optional
        The task's full class set; the union with every label given here is used.
    alpha : float
        Pseudo-count per class (``0`` gives the unsmoothed plug-in estimates).

    Returns
    -------
    bits, h_y, ce : float
        ``h_y - ce``, the held-out entropy of the training marginal, the probe's cross-entropy.
    """
    if len(y_test) == 0:
        nan = float("nan")
        return nan, nan, nan
    null_bits, probe_bits = usable_bits_rows(y_train, y_test, proba, classes, all_classes, alpha)
    h_y, ce = float(np.mean(null_bits)), float(np.mean(probe_bits))
    return h_y - ce, h_y, ce


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of exact matches (NaN when empty)."""
    # not sklearn's accuracy_score: the same value, but 351 us vs 4 us a call at 40 rows
    # (9.9 ms vs 0.2 ms at 20,000 rows, 11 classes), and it is called per fold and position.
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
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y_train), 1)), y_train)
    return accuracy(y_test, dummy.predict(np.zeros((len(y_test), 1))))
