"""Conditional usable information (Hewitt et al. 2021): the bits a view B adds beyond a view A.

``bits(B | A) = bits([A, B]) - bits(A)``, each the project's probing measure of usable
information (:func:`~probe_rnn.probing.measures.usable_bits_rows`: H(Y) minus the held-out
cross-entropy of a probe, in bits), measured on the same cross-fitted folds of the same rows:
on each fold the project's logistic probe (``C`` tuned once, on the first fold's inner folds,
as a probing cell tunes it) is fitted on [A, B] and one on A, and every held-out row gets
both code lengths. The null model's H(Y) is the same for both, so the difference per row is
``CE_A - CE_[A,B]``; the value is its mean over rows and the interval a paired bootstrap over
rows. A view given itself or given a superset adds about 0 bits; given noise, about its own
bits. Where the two views hold the very same values on every row (a one-direction model's
last output is its final hidden state), B adds nothing by definition: the row says so, with
0 bits and no probe fitted (two probes on duplicated columns would only measure their own
fitting noise: -0.110 bits on such a model before).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from probe_rnn.interventions.stats import bootstrap_mean, row
from probe_rnn.probing.measures import usable_bits_rows
from probe_rnn.probing.splits import group_ids, group_kfold

#: Cross-fitting folds.
FOLDS = 5


def cross_fitted_bits(x: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                      seed: int = 0) -> np.ndarray:
    """Usable information per row, in bits (null code length minus the probe's), each row
    scored by the probe of the fold that held it out: the project's logistic probe
    (:class:`~probe_rnn.probing.probes.LogisticProbe`, ``C`` tuned on the first fold's inner
    folds, so a wider input is not simply less regularised, and reused on the other folds
    with its preconditioner basis: a probing cell's :class:`~probe_rnn.probing.jobs.Fitter`)."""
    from probe_rnn.probing.jobs import Fitter
    from probe_rnn.probing.probes import LogisticProbe

    y = np.asarray(y).astype(str)
    out = np.full(len(y), np.nan)
    classes = np.unique(y)
    fitter = Fitter(LogisticProbe, seed)
    # one BLAS thread, as in a probing cell: these matrices are too small for two to pay
    # (4,000 rows x 2 x 512 columns, 4 classes: 16.2 s with two threads, 4.6 s with one)
    with threadpool_limits(limits=1):
        for train, test in folds:
            if len(np.unique(y[train])) < 2:
                fitted_classes, proba = np.unique(y[train]), np.ones((len(test), 1))
            else:  # rows are their own groups inside, as before
                probe = fitter.fit("task", x[train], y[train], np.arange(len(train)))
                fitted_classes, proba = probe.classes_, probe.predict_proba(x[test])
            null, probe_bits = usable_bits_rows(y[train], y[test], proba, fitted_classes,
                                                classes)
            out[test] = null - probe_bits
    return out


def conditional_bits(a: np.ndarray, b: np.ndarray, y: np.ndarray, seed: int = 0,
                     folds: int = FOLDS, groups: np.ndarray | None = None
                     ) -> tuple[float, float | None, float | None, int]:
    """Bits of ``b`` beyond ``a`` about ``y`` (module docstring): (value, ci_low, ci_high, n).

    Parameters
    ----------
    a, b : (rows, width) the conditioning view A and the view B.
    y : (rows,) the task's labels.
    groups : (rows,) keys never split across folds (default: every row its own group).
    """
    keys = group_ids(np.arange(len(y)) if groups is None else groups)
    split = group_kfold(keys, n_folds=min(folds, len(np.unique(keys))), seed=seed)
    joint = cross_fitted_bits(np.concatenate([a, b], axis=1), y, split, seed)
    alone = cross_fitted_bits(a, y, split, seed)
    value, low, high = bootstrap_mean(joint - alone, seed)
    return value, low, high, len(y)


def same_values_row(b_view: str, a_view: str, n: int, task: str) -> dict[str, Any]:
    """The ``conditional`` row of a view B whose values equal A's on every row: 0 bits by
    definition, no probe fitted."""
    return row("conditional", b_view, "bits", 0.0, (0.0, 0.0), n, given=a_view, task=task,
               sanity_ok=True,
               sanity=(f"{b_view} and {a_view} hold the same values on every held-out row (on "
                       f"this model one is the other), so {b_view} adds nothing beyond "
                       f"{a_view} by definition: no probe fitted"))


def conditional_row(b_view: str, a_view: str, a: np.ndarray, b: np.ndarray, y: np.ndarray,
                    task: str, seed: int) -> dict[str, Any]:
    """The ``conditional`` row: bits of ``b_view`` beyond ``a_view``, with its sanity check
    (adding B does not cost the probe information beyond its interval)."""
    value, low, high, n = conditional_bits(a, b, y, seed)
    ok = high is None or high >= 0.0
    sanity = (f"the probe on [{a_view}, {b_view}] reads {'no less' if ok else 'less'} than the "
              f"probe on {a_view} alone within the interval (same {FOLDS} folds)")
    return row("conditional", b_view, "bits", value, (low, high), n, given=a_view, task=task,
               sanity_ok=ok, sanity=sanity)
