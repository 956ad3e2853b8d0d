"""Seeded K-fold splits by sentence.

Every row (a sentence, or a token of a sentence) carries a group key: the sentence's text, so
duplicated sentences and all tokens of one sentence always land in the same fold. Groups are
shuffled with the seed and dealt round-robin to the folds (a shuffled, seeded GroupKFold), so
no sentence is ever shared between the train and test side of a fold.
"""

from __future__ import annotations

import numpy as np

from probe_rnn.errors import ConfigError

__all__ = ["group_kfold", "group_ids"]


def group_ids(keys: np.ndarray) -> np.ndarray:
    """Map arbitrary group keys (e.g. sentence texts), shape (rows,), to integer ids 0..G-1."""
    _, inverse = np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)
    return inverse.astype(np.int64)


def group_kfold(
    groups: np.ndarray, n_folds: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split rows into ``n_folds`` (train, test) index pairs, never splitting a group.

    Parameters
    ----------
    groups : ndarray of int, shape (rows,)
        Group id of each row (see :func:`group_ids`).
    n_folds : int
        Number of folds, at least 2 and at most the number of groups.
    seed : int
        Seeds the shuffle of the groups.

    Returns
    -------
    list of (train_idx, test_idx)
        Sorted index arrays; every row is in exactly one test side.
    """
    groups = np.asarray(groups)
    uniq, inverse = np.unique(groups, return_inverse=True)
    if not isinstance(n_folds, int | np.integer) or n_folds < 2:
        raise ConfigError(f"folds must be an integer >= 2, got {n_folds!r}")
    if n_folds > len(uniq):
        raise ConfigError(
            f"folds={n_folds} but only {len(uniq)} distinct sentences: use fewer folds or more rows"
        )
    perm = np.random.default_rng(seed).permutation(len(uniq))
    fold_of_group = np.empty(len(uniq), dtype=np.int64)
    fold_of_group[perm] = np.arange(len(uniq)) % n_folds
    fold = fold_of_group[inverse]
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(n_folds)]
