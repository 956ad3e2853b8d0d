"""Choosing a probe's regularisation: inner group folds and the one-standard-error rule.

The one-standard-error rule (Breiman et al. 1984; Hastie et al., ESL §7.10) takes the most
regularised C whose held-out loss is within one standard error of the best. Protocol 3 chose
C on one inner split of the first fold's training rows (48 dev rows in a 300-sentence cell):
the rule picked C = 0.01 in a fifth of small cells, bits fell 36 % there and the bits
interval covered 0.81 of the time (issue 25). Now C is chosen on ``inner_folds`` (5) group
folds of those rows: every training sentence is a dev sentence once, and the rule runs at the
fold level (:func:`fold_one_standard_error`): the mean over folds of each fold's dev log-loss,
with the standard error of the per-fold differences from the best C. One inner split
(``inner_folds=1``) keeps the row-level rule of :func:`row_one_standard_error`.
"""

from __future__ import annotations

import numpy as np

from probe_rnn.probing.splits import group_kfold, inner_split


def inner_folds_of(groups: np.ndarray, folds: int, dev_fraction: float, seed: int
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, dev) row indices of the C search: ``folds`` seeded group folds (at most
    one per group), or one ``dev_fraction`` split when ``folds`` is 1."""
    n_groups = len(np.unique(groups))
    if folds <= 1 or n_groups < 2:
        return [inner_split(len(groups), dev_fraction, seed, groups)]
    return group_kfold(groups, min(int(folds), n_groups), seed)


def fold_one_standard_error(losses: dict[float, np.ndarray]) -> float:
    """The smallest C whose mean fold loss is within one standard error of the best's.

    Parameters
    ----------
    losses : dict C -> ndarray, shape (folds,)
        Mean dev log-loss of each inner fold at that C (the same folds for every C).
    """
    best = min(losses, key=lambda c: (float(np.mean(losses[c])), -c))
    folds = len(losses[best])
    for C in sorted(losses):
        diff = np.asarray(losses[C]) - np.asarray(losses[best])
        se = float(diff.std(ddof=1) / np.sqrt(folds)) if folds > 1 else 0.0
        if diff.mean() <= se:
            return C
    return best


def row_one_standard_error(losses: dict[float, np.ndarray]) -> float:
    """The smallest C whose dev log-loss is within one paired standard error of the best, on
    one split (``losses``: C -> per-dev-row log-loss).

    One inner split's log-loss differences between neighbouring C values are often noise, and
    picking the noisy minimum overfits (pure Gaussian features, 240 rows: -0.077 bits with the
    minimum, about 0 with this rule). With many dev rows the standard error shrinks and the
    rule picks the minimum.
    """
    best = min(losses, key=lambda c: (losses[c].mean(), -c))
    n = len(losses[best])
    for C in sorted(losses):
        diff = losses[C] - losses[best]
        se = float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        if diff.mean() <= se:
            return C
    return best
