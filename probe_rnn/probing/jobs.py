"""Inside a cell: the probe fits of one split (task and control) and the MDL run.

A :class:`Fitter` serves one cell. Its first fit of the task chooses the probe's
hyperparameters (``tuned_params_``, e.g. LogisticProbe's C on inner group folds of that fit's
training rows); every later fit of the cell (other folds and seeds, the control task) reuses
them, so task and control are compared with one probe configuration (Hewitt & Liang), and a
cell pays for one search, not one per fold. Every later fit is a fresh probe: built-in
LogisticProbes share the first fit's preconditioner basis (:mod:`.solver`), never its
weights. Started from the last fold's weights (as up to protocol 5), a fit stops where the
gradient rule holds, which in the flat directions of a weakly penalised loss is still near
that start, and the last fold's probe was trained on most of this fold's held-out sentences:
their labels leaked into the scores (hidden-256 BiLSTM, ``max(output)`` x first-token, 4,000
sentences: 1.8969 bits warm-started, 1.8818 fresh).

Bits are scored over the task's full class set (``np.unique(Problem.y)``) with the smoothed
estimator of :mod:`probe_rnn.probing.measures`. A training fold that holds a single class (a
rare class all in the held-out sentences) cannot fit a probe: the fold is scored with the
constant prediction of that class, which is what any probe trained on it would output (its
smoothed distribution equals the null model's, so the fold gives 0 bits).
A probe whose ``predict_proba`` returns NaN, negative values or rows that do not sum to 1
raises :class:`~probe_rnn.errors.ProbeOutputError`: its cell fails with that reason, it is
never scored as a number.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import has_fit_parameter

from probe_rnn.errors import ProbeOutputError
from probe_rnn.probing.mdl import online_codelength
from probe_rnn.probing.measures import usable_bits_rows
from probe_rnn.probing.probes import LogisticProbe
from probe_rnn.probing.specs import make_probe, retuned, untuned
from probe_rnn.probing.timelimit import CellTimeout


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
    keys : ndarray, shape (n,), or None
        Control-task key of each row (the token type; at sentence level the first or last
        token, per the task's ``control_unit``); None when the task has no control.
    t, t_end : ndarray of int, shape (n,), or None
        Position from the start / from the end (-1 = last) for per-position reporting.
    kind : {"classification", "regression"}
    """

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    keys: np.ndarray | None
    t: np.ndarray | None
    t_end: np.ndarray | None
    kind: str


def accepts_groups(est: Any) -> bool:
    """True when ``est.fit`` takes a ``groups`` argument (to keep sentences together inside):
    scikit-learn's :func:`~sklearn.utils.validation.has_fit_parameter`, which some plugin
    estimators' ``fit`` (a builtin, a C extension) cannot be inspected for: then False."""
    try:
        return has_fit_parameter(est, "groups")
    except (TypeError, ValueError):
        return False


class Fitter:
    """Fits one cell's probes: hyperparameters chosen once, reused after (module docstring)."""

    def __init__(self, spec: Any, seed: int) -> None:
        self.spec, self.seed = spec, seed
        self.tuned: Any = None
        self.not_converged = 0
        self.fits = 0

    def fit(self, role: str, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> Any:
        """Fit a fresh ``role`` ("task", "control", "key", "final") probe on ``X`` (rows,
        dim), ``y`` (rows,)."""
        est = make_probe(self.spec, self.seed)
        if self.tuned is not None:
            est = retuned(est, self.tuned)
            if type(est) is LogisticProbe:  # the cell's rows: one preconditioner basis
                est.share_basis(self.tuned)
        kwargs = {"groups": groups} if accepts_groups(est) else {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            est.fit(X, y, **kwargs)
        self.fits += 1
        self.not_converged += any(issubclass(w.category, ConvergenceWarning) for w in caught)
        if self.tuned is None and role == "task":
            self.tuned = est
        return est


def checked_predict(est: Any, X: np.ndarray, name: str,
                    classes: np.ndarray | None = None) -> np.ndarray:
    """``est.predict(X)`` checked to hold one value per row: for a classifier one of
    ``classes`` (those it was fitted on), for a regressor a finite number."""
    pred = np.asarray(est.predict(X))
    if pred.ndim != 1 or pred.shape[0] != len(X):
        raise ProbeOutputError(f"probe {name!r}: predict returned shape {pred.shape} for "
                               f"{len(X)} rows; it must return one value per row")
    if classes is None:
        try:
            pred = pred.astype(np.float64)
        except (TypeError, ValueError):
            raise ProbeOutputError(f"probe {name!r}: predict returned non-numbers for a "
                                   "regression task") from None
        if not np.isfinite(pred).all():
            raise ProbeOutputError(f"probe {name!r}: predict returned NaN or infinite values")
        return pred
    known = set(np.asarray(classes).tolist())
    unknown = sorted({repr(v) for v in pred.tolist() if v not in known})
    if unknown:
        raise ProbeOutputError(
            f"probe {name!r}: predict returned labels it was not fitted on "
            f"({', '.join(unknown[:3])}); it must return one of its classes_ "
            f"({', '.join(map(repr, sorted(known, key=str)[:5]))})"
        )
    return pred


def checked_proba(est: Any, X: np.ndarray, name: str,
                  classes: np.ndarray | None = None) -> np.ndarray | None:
    """``est.predict_proba(X)`` checked to be a distribution per row over ``classes`` (one
    column each, when given) (None: no probabilities)."""
    if not hasattr(est, "predict_proba"):
        return None
    try:
        proba = np.asarray(est.predict_proba(X), dtype=np.float64)
    except (AttributeError, NotImplementedError):  # e.g. SVC(probability=False)
        return None
    width = proba.shape[1] if proba.ndim == 2 else None
    if proba.ndim != 2 or proba.shape[0] != len(X) or (
            classes is not None and width != len(classes)):
        wanted = f"({len(X)}, {len(classes)})" if classes is not None else f"{len(X)} rows"
        raise ProbeOutputError(
            f"probe {name!r}: predict_proba returned shape {proba.shape} for {len(X)} rows; "
            f"it must return {wanted}: one column per class in classes_"
        )
    if len(proba) and (not np.isfinite(proba).all() or (proba < -1e-9).any()
                       or np.abs(proba.sum(axis=1) - 1.0).max() > 1e-4):
        bad = ("NaN or infinite values" if not np.isfinite(proba).all() else
               "negative values" if (proba < -1e-9).any() else "rows that do not sum to 1")
        raise ProbeOutputError(f"probe {name!r}: predict_proba returned {bad}")
    return proba


def _classify(fitter: Fitter, role: str, p: Problem, y: np.ndarray, tr: np.ndarray,
              te: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Predictions, probabilities and the probe's classes on ``te`` after fitting on ``tr``."""
    seen = np.unique(y[tr])
    if len(seen) < 2:  # one class in training: the constant prediction any probe would make
        has_proba = hasattr(make_probe(fitter.spec, fitter.seed), "predict_proba")
        return (np.full(len(te), seen[0], dtype=object),
                np.ones((len(te), 1)) if has_proba else None, seen)
    est = fitter.fit(role, p.X[tr], y[tr], p.groups[tr])
    classes = np.asarray(getattr(est, "classes_", seen))
    pred = checked_predict(est, p.X[te], name, classes)
    return pred, checked_proba(est, p.X[te], name, classes), classes


def _scored(y_tr: np.ndarray, y_te: np.ndarray, pred: np.ndarray, proba: np.ndarray | None,
            classes: np.ndarray, all_classes: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row values of held-out rows against the null model fitted on ``y_tr``."""
    values, counts = np.unique(y_tr, return_counts=True)
    out = {"correct": (pred == y_te).astype(np.float64),
           "majority": (y_te == values[np.argmax(counts)]).astype(np.float64)}
    if proba is not None and len(y_te):
        out["null_bits"], out["probe_bits"] = usable_bits_rows(y_tr, y_te, proba, classes,
                                                               all_classes)
    return out


def split_job(
    fitter: Fitter, p: Problem, tr: np.ndarray, te: np.ndarray,
    control_y: np.ndarray | None, name: str, positions: Sequence[int] = (),
    key_y: np.ndarray | None = None,
) -> dict[str, Any]:
    """Fit on ``tr``, score every held-out row of ``te`` (and the control task if given).

    ``key_y`` (sentence-level tasks): the control's key of each row as a class
    (:func:`key_classes`); a probe of the same configuration decodes it on the same split,
    which gives ``control_key`` (how well the view remembers what the control is keyed on).

    Returns
    -------
    dict
        Per held-out row: ``correct``, ``majority`` (the training majority class is right),
        ``null_bits``/``probe_bits`` (code lengths, absent without probabilities),
        ``control`` (control probe right), ``control_key`` (key probe right); for
        regression ``sq_res`` and ``sq_tot`` (squared errors of the probe and of the training
        mean). ``groups`` (sentence of each held-out row), ``labels`` (its target),
        ``n_train``, and ``per_t``: position -> the same per-row values for the
        held-out rows at that position, scored against the training rows at that position
        (the null model is the position's marginal).
    """
    out: dict[str, Any] = {"n_train": len(tr), "groups": p.groups[te], "labels": p.y[te],
                           "per_t": {}}
    if p.kind == "regression":
        y = p.y.astype(np.float64)
        est = fitter.fit("task", p.X[tr], y[tr], p.groups[tr])
        pred = checked_predict(est, p.X[te], name)
        out["sq_res"] = (y[te] - pred) ** 2
        out["sq_tot"] = (y[te] - float(np.mean(y[tr]))) ** 2
        return out
    pred, proba, classes = _classify(fitter, "task", p, p.y, tr, te, name)
    all_classes = np.unique(p.y)
    out.update(_scored(p.y[tr], p.y[te], pred, proba, classes, all_classes))
    if control_y is not None:
        cpred, _, _ = _classify(fitter, "control", p, control_y, tr, te, name)
        out["control"] = (cpred == control_y[te]).astype(np.float64)
    if key_y is not None:
        out.update(_key_decoding(fitter, p, key_y, tr, te, name))
    for pos in positions:
        where = p.t if pos >= 0 else p.t_end
        sel, at_tr = where[te] == pos, where[tr] == pos
        if sel.any() and at_tr.any():
            out["per_t"][pos] = {
                **_scored(p.y[tr][at_tr], p.y[te][sel], pred[sel],
                          None if proba is None else proba[sel], classes, all_classes),
                "groups": p.groups[te][sel], "labels": p.y[te][sel],
            }
    return out


def _key_decoding(fitter: Fitter, p: Problem, key_y: np.ndarray, tr: np.ndarray,
                  te: np.ndarray, name: str) -> dict[str, np.ndarray]:
    """``{"control_key": right per held-out row}``, or nothing when the probe cannot fit the
    key's classes (e.g. a binary-only plugin probe): the key's decodability is a reference
    beside selectivity, so a probe that cannot give it keeps its task's numbers."""
    try:
        kpred, _, _ = _classify(fitter, "key", p, key_y, tr, te, name)
    except (CellTimeout, ProbeOutputError, MemoryError):
        raise
    except Exception:  # noqa: BLE001 - a plugin probe may raise anything on many classes
        return {}
    return {"control_key": (kpred == key_y[te]).astype(np.float64)}


#: Metrics that are means over held-out rows: the per-row columns each needs, and its value
#: per row. K-fold cells average them per split, held-out cells bootstrap them.
ROW_METRICS: dict[str, tuple[tuple[str, ...], Callable[[dict[str, Any]], np.ndarray]]] = {
    "accuracy": (("correct",), lambda r: r["correct"]),
    "majority_accuracy": (("majority",), lambda r: r["majority"]),
    "entropy_bits": (("null_bits",), lambda r: r["null_bits"]),
    "bits": (("null_bits", "probe_bits"), lambda r: r["null_bits"] - r["probe_bits"]),
    "control_accuracy": (("control",), lambda r: r["control"]),
    "selectivity": (("correct", "control"), lambda r: r["correct"] - r["control"]),
    "control_key_accuracy": (("control_key",), lambda r: r["control_key"]),
}

#: Most frequent control keys decoded as their own class; rarer keys share one class.
KEY_CLASSES = 20
OTHER_KEY = "\x00other"


def key_classes(keys: np.ndarray, top: int = KEY_CLASSES) -> np.ndarray:
    """The control keys (shape (rows,)) as decoding targets: the ``top`` most frequent key
    types keep their name (ties by name), every other key becomes one shared class, so the
    key probe costs what a ``top + 1``-class task costs however large the vocabulary."""
    names, counts = np.unique(np.asarray(keys, dtype=object).astype(str), return_counts=True)
    order = np.lexsort((names, -counts))[:top]
    kept = set(names[order].tolist())
    return np.asarray([k if k in kept else OTHER_KEY for k in
                       np.asarray(keys, dtype=object).astype(str).tolist()], dtype=object)


def row_metrics(rows: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per held-out row, the value of every :data:`ROW_METRICS` metric this split holds."""
    return {m: np.asarray(f(rows), dtype=np.float64) for m, (need, f) in ROW_METRICS.items()
            if all(k in rows for k in need)}


def split_metrics(rows: dict[str, Any]) -> dict[str, float]:
    """The metrics of one split (or one position of it) from its per-row values; bits are
    NaN for a probe without probabilities."""
    if "sq_res" in rows:
        tot = float(np.sum(rows["sq_tot"]))
        return {"r2": 1.0 - float(np.sum(rows["sq_res"])) / tot if tot > 0 else float("nan")}
    out = {m: float(np.mean(v)) if len(v) else float("nan")
           for m, v in row_metrics(rows).items()}
    out.setdefault("bits", float("nan"))
    out.setdefault("entropy_bits", float("nan"))
    return out


def mdl_job(spec: Any, p: Problem, seed: int, tuned: Any = None,
            control: np.ndarray | None = None) -> dict[str, float]:
    """Online codelength of the task's labels over the cell's rows (see :mod:`.mdl`), and of
    the control task's labels (``control``) with the same probe, as a reference.

    Block probes run with one fixed set of hyperparameters, as in Voita & Titov, rather than a
    search on every block: a built-in LogisticProbe uses the C the cell chose (``tuned``, on
    inner group folds of the first fold's training rows, one-standard-error rule) and starts each
    block from the previous block's weights; other probes use their defaults (``untuned()``).
    The cell's C, not a fixed C = 1: on a view carrying the label (1000 rows, Gaussian
    features plus a 1.5-sd label shift in one dimension) C = 1 compressed 1.073 at 64
    dimensions and 0.991 at 256, the cell's C (0.01) 1.165 and 1.087 (pure noise: 0.99 with
    either).
    """
    proto = make_probe(spec, seed)
    if not hasattr(proto, "predict_proba"):
        nan = float("nan")
        out = {"mdl_bits": nan, "prior_bits": nan, "uniform_bits": nan, "compression": nan}
        return out | ({"control_mdl_bits": nan, "control_prior_bits": nan,
                       "control_compression": nan} if control is not None else {})
    C = getattr(tuned, "C_", None) if type(proto) is LogisticProbe else None

    def code(y: np.ndarray) -> Any:
        if type(proto) is LogisticProbe:
            block = untuned(proto).set_params(warm_start=True)
            if C is not None:
                block.set_params(C=float(C)).share_basis(tuned)

            def make() -> Any:
                return block
        else:
            def make() -> Any:
                return untuned(make_probe(spec, seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return online_codelength(make, p.X, y, p.groups, seed=seed,
                                     pass_groups=accepts_groups(proto))

    res = code(p.y)
    out = {"mdl_bits": res.mdl_bits, "prior_bits": res.prior_bits,
           "uniform_bits": res.uniform_bits, "compression": res.compression}
    if control is not None:
        ref = code(control)
        out |= {"control_mdl_bits": ref.mdl_bits, "control_prior_bits": ref.prior_bits,
                "control_compression": ref.compression}
    return out
