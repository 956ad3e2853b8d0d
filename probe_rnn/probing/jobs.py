"""The unit of work of the runner: one probe fit on one fold (plus its control), or one MDL run.

Functions here are module-level and take only arrays and picklable specs, so joblib can send
them to worker processes; every random choice is seeded from the arguments, which makes results
independent of ``jobs``. Each job runs with BLAS/OpenMP limited to one thread: probes are small
matrices, where threaded BLAS costs far more in synchronisation than it gains (measured 6-15x
slower on a busy 2-core machine), and parallelism comes from ``jobs`` instead. One thread also
keeps floating-point summation order, hence results, identical whatever ``jobs`` is.
"""

from __future__ import annotations

import inspect
import warnings
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
    classes: np.ndarray,
) -> dict[str, float]:
    out = {"accuracy": accuracy(y_te, pred), "majority_accuracy": majority_accuracy(y_tr, y_te)}
    if proba is not None and len(y_te):
        bits, h_y, _ = usable_bits(y_tr, y_te, proba, classes)
        out.update(bits=bits, entropy_bits=h_y)
    else:
        out.update(bits=float("nan"), entropy_bits=float("nan"))
    return out


def _per_position(
    p: Problem, tr: np.ndarray, te: np.ndarray, pred: np.ndarray, proba: np.ndarray | None,
    classes: np.ndarray, max_t: int,
) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    for pos in [*range(max_t), *range(-1, -max_t - 1, -1)]:
        where, tr_where = (p.t, p.t[tr]) if pos >= 0 else (p.t_end, p.t_end[tr])
        sel = where[te] == pos
        if not sel.any():
            continue
        y_tr = p.y[tr][tr_where == pos]
        if len(y_tr) == 0:
            y_tr = p.y[tr]
        scores = _class_scores(
            y_tr, p.y[te][sel], pred[sel], None if proba is None else proba[sel], classes
        )
        scores["n_test"] = float(sel.sum())
        out[pos] = scores
    return out


def fold_job(
    spec: Any, p: Problem, tr: np.ndarray, te: np.ndarray, seed: int,
    control_y: np.ndarray | None, max_t: int,
) -> dict[str, Any]:
    """Single-threaded :func:`_fold_job` (see the module docstring)."""
    with threadpool_limits(limits=1):
        return _fold_job(spec, p, tr, te, seed, control_y, max_t)


def _fold_job(
    spec: Any, p: Problem, tr: np.ndarray, te: np.ndarray, seed: int,
    control_y: np.ndarray | None, max_t: int,
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
    est = _fit(spec, seed, p.X[tr], p.y[tr], p.groups[tr])
    pred = np.asarray(est.predict(p.X[te]))
    result: dict[str, Any] = {"n_train": len(tr), "n_test": len(te), "per_t": {}}
    if p.kind == "regression":
        y_tr = p.y[tr].astype(np.float64)
        result["metrics"] = {"r2": r2(p.y[te], pred, float(np.mean(y_tr)))}
        return result
    proba = _proba(est, p.X[te])
    classes = np.asarray(getattr(est, "classes_", np.unique(p.y[tr])))
    metrics = _class_scores(p.y[tr], p.y[te], pred, proba, classes)
    if control_y is not None:
        if len(np.unique(control_y[tr])) >= 2:
            ctrl = _fit(spec, seed, p.X[tr], control_y[tr], p.groups[tr], like=est)
            metrics["control_accuracy"] = accuracy(control_y[te], ctrl.predict(p.X[te]))
        else:
            metrics["control_accuracy"] = majority_accuracy(control_y[tr], control_y[te])
        metrics["selectivity"] = metrics["accuracy"] - metrics["control_accuracy"]
    result["metrics"] = metrics
    if p.t is not None:
        result["per_t"] = _per_position(p, tr, te, pred, proba, classes, max_t)
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
