"""Control tasks (Hewitt & Liang 2019): targets that only memorisation can predict.

Each key — the token type for token-level tasks, the sentence text for sentence-level tasks
(so duplicated sentences share a label) — gets one fixed random target drawn from the task's
own empirical label distribution. A probe trained and scored on held-out data exactly like the
real task gives the control accuracy; selectivity = task accuracy − control accuracy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["control_targets"]


def control_targets(y: np.ndarray, keys: np.ndarray, seed: int = 0) -> np.ndarray:
    """Draw one random target per distinct key from the distribution of ``y``.

    Parameters
    ----------
    y : ndarray, shape (rows,)
        The real task's targets (rows left out already removed).
    keys : ndarray, shape (rows,)
        The control key of each row (token type or sentence text).
    seed : int
        Seeds the draw; the same (keys, seed) always give the same control.

    Returns
    -------
    ndarray, shape (rows,)
        Control targets, same dtype family as ``y``; equal keys get equal targets.
    """
    y = np.asarray(y)
    uniq, inverse = np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)
    rng = np.random.default_rng(seed)
    values, counts = np.unique(y, return_counts=True)
    drawn = rng.choice(len(values), size=len(uniq), p=counts / counts.sum())
    return values[drawn][inverse]
