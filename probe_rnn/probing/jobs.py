"""The unit of work of the runner: one probe fit on one fold (plus its control), or one MDL run.

Functions here are module-level and take only arrays and picklable specs, so joblib can send
them to worker processes; every random choice is seeded from the arguments, which makes results
independent of ``jobs``. Each job runs with BLAS/OpenMP limited to one thread: probes are small
matrices, where threaded BLAS costs far more in synchronisation than it gains (measured 6-15x
slower on a busy 2-core machine), and parallelism comes from ``jobs`` instead. One thread also
keeps floating-point summation order, hence results, identical whatever ``jobs`` is.

Bits are scored over the task's full class set (``np.unique(Problem.y)``) with the smoothed
estimator of :mod:`probe_rnn.probing.measures`. A training fold that holds a single class (a
rare class all in the held-out sentences) cannot fit a probe: the fold is scored with the
constant prediction of that class, which is what any probe trained on it would output (its
smoothed distribution equals the null model's, so the fold gives 0 bits).
Per-position rows are computed only for the positions the runner passes (``positions``: those
with enough sentences and two classes in every training fold, see
:func:`probe_rnn.probing.runner.reportable_positions`).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from probe_rnn.probing.mdl import online_codelength
from probe_rnn.probing.measures import (
    accuracy,
    majority_accuracy,
    r2,
    usable_bits,
)
from probe_rnn.probing.probes import make_probe, retuned, untuned

__all__ = ["Problem", "fold_job", "mdl_job", "accepts_groups"]


@dataclass
class Problem:
    """One (model, view, task) matrix, ready for probing.

    Attributes
    ----------
    X : ndarray, shape (n, dim)
    y : ndarray, shape (n,)
        Targets (class names or floats); rows left out are already removed.
    groups : ndarray of int, shape (n,)
        Sentence (text) id of each row.
    keys : ndarray, shape (n,)
        Control-task key of each row (token type or sentence text).
    t, t_end : ndarray of int, shape (n,), or None
        Position from the start / from the end (-1 = last) for per-position reporting.
    kind : {"classification", "regression"}
    """

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    keys: np.ndarray
    t: np.ndarray | None
    t_end: np.ndarray | None
    kind: str


def accepts_groups(est: Any) -> bool:
    """True when ``est.fit`` takes a ``groups`` argument (to keep sentences together inside)."""
    try:
        return "groups" in inspect.signature(est.fit).parameters
    except (TypeError, ValueError):
        return False


def _fit(spec: Any, seed: int, X: np.ndarray, y: np.ndarray, groups: np.ndarray,
         like: Any = None) -> Any:
    """Fit a fresh probe; with ``like``, reuse the hyperparameters ``like`` chose."""
    est = make_probe(spec, seed)
    if like is not None:
        est = retuned(est, like)
    kwargs = {"groups": groups} if accepts_groups(est) else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kwargs)


def _proba(est: Any, X: np.ndarray) -> np.ndarray | None:
    if not hasattr(est, "predict_proba"):
        return None
    try:
        return np.asarray(est.predict_proba(X), dtype=np.float64)
    except (AttributeError, NotImplementedError):  # e.g. SVC(probability=False)
        return None


def _class_scores(
    y_tr: np.ndarray, y_te: np.ndarray, pred: np.ndarray, proba: np.ndarray | None,
    classes: np.ndarray, all_classes: np.ndarray,
) -> dict[str, float]:
    out = {"accuracy": accuracy(y_te, pred), "majority_accuracy": majority_accuracy(y_tr, y_te)}
    if proba is not None and len(y_te):
        bits, h_y, _ = usable_bits(y_tr, y_te, proba, classes, all_classes)
        out.update(bits=bits, entropy_bits=h_y)
    else:
        out.update(bits=float("nan"), entropy_bits=float("nan"))
    return out


def _per_position(
    p: Problem, tr: np.ndarray, te: np.ndarray, pred: np.ndarray, proba: np.ndarray | None,
    classes: np.ndarray, all_classes: np.ndarray, positions: Sequence[int],
) -> dict[int, dict[str, float]]:
    """Scores of the held-out rows at each position; the null model is the position's marginal."""
    out: dict[int, dict[str, float]] = {}
    for pos in positions:
        where = p.t if pos >= 0 else p.t_end
        sel = where[te] == pos
        y_tr = p.y[tr][where[tr] == pos]
        if not sel.any() or len(y_tr) == 0:
            continue
        scores = _class_scores(
            y_tr, p.y[te][sel], pred[sel], None if proba is None else proba[sel], classes,
            all_classes,
        )
        scores["n_test"] = float(sel.sum())
        out[pos] = scores
    return out


def fold_job(
    spec: Any, p: Problem, tr: np.ndarray, te: np.ndarray, seed: int,
    control_y: np.ndarray | None, positions: Sequence[int] = (),
) -> dict[str, Any]:
    """Single-threaded :func:`_fold_job` (see the module docstring)."""
    with threadpool_limits(limits=1):
        return _fold_job(spec, p, tr, te, seed, control_y, positions)


def _fold_job(
    spec: Any, p: Problem, tr: np.ndarray, te: np.ndarray, seed: int,
    control_y: np.ndarray | None, positions: Sequence[int] = (),
) -> dict[str, Any]:
    """Fit on ``tr``, score on ``te``; also the control task when ``control_y`` is given.

    The control probe reuses the hyperparameters the task probe chose (``tuned_params_``),
    so task and control are compared with one probe configuration (Hewitt & Liang).

    Returns
    -------
    dict
        ``metrics`` (metric -> value), ``per_t`` (position -> metric -> value, token tasks
        reported by position), ``n_train``, ``n_test``.
    """
    result: dict[str, Any] = {"n_train": len(tr), "n_test": len(te), "per_t": {}}
    if p.kind == "regression":
        reg = _fit(spec, seed, p.X[tr], p.y[tr], p.groups[tr])
        y_tr = p.y[tr].astype(np.float64)
        result["metrics"] = {"r2": r2(p.y[te], reg.predict(p.X[te]), float(np.mean(y_tr)))}
        return result
    seen = np.unique(p.y[tr])
    est: Any = None
    if len(seen) >= 2:
        est = _fit(spec, seed, p.X[tr], p.y[tr], p.groups[tr])
        pred = np.asarray(est.predict(p.X[te]))
        proba = _proba(est, p.X[te])
        classes = np.asarray(getattr(est, "classes_", seen))
    else:  # one class in training: the constant prediction any probe would make
        pred = np.full(len(te), seen[0], dtype=object)
        has_proba = hasattr(make_probe(spec, seed), "predict_proba")
        proba = np.ones((len(te), 1)) if has_proba else None
        classes = seen
    all_classes = np.unique(p.y)
    metrics = _class_scores(p.y[tr], p.y[te], pred, proba, classes, all_classes)
    if control_y is not None:
        if len(np.unique(control_y[tr])) >= 2:
            ctrl = _fit(spec, seed, p.X[tr], control_y[tr], p.groups[tr], like=est)
            metrics["control_accuracy"] = accuracy(control_y[te], ctrl.predict(p.X[te]))
        else:
            metrics["control_accuracy"] = majority_accuracy(control_y[tr], control_y[te])
        metrics["selectivity"] = metrics["accuracy"] - metrics["control_accuracy"]
    result["metrics"] = metrics
    if p.t is not None:
        result["per_t"] = _per_position(p, tr, te, pred, proba, classes, all_classes,
                                        positions)
    return result


def mdl_job(spec: Any, p: Problem, seed: int) -> dict[str, Any]:
    """Online codelength of the task's labels over all rows (see :mod:`.mdl`).

    Block probes run with fixed hyperparameters (``untuned()``: LogisticProbe uses
    ``default_C``), as in Voita & Titov, rather than a search on every block.
    """
    proto = make_probe(spec, seed)
    if not hasattr(proto, "predict_proba"):
        nan = float("nan")
        return {"metrics": {"mdl_bits": nan, "uniform_bits": nan, "compression": nan}}
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = online_codelength(
            lambda: untuned(make_probe(spec, seed)), p.X, p.y, p.groups, seed=seed,
            pass_groups=accepts_groups(proto),
        )
    return {
        "metrics": {
            "mdl_bits": res.mdl_bits, "uniform_bits": res.uniform_bits,
            "compression": res.compression,
        },
        "n_train": res.n,
    }
