"""Seeded sampling of rows and of whole groups of rows (sentences), one place for every caller.

- :func:`sample_rows`: a sorted, seeded sample of rows without replacement;
- :func:`sample_table`: a seeded sample of a table's rows, in the table's order;
- :func:`shuffled_groups`: each row's group and a seeded order of the groups, from which the
  probing splits (K-fold, inner dev split, held-out split) and the MDL block order deal
  whole sentences;
- :func:`sample_groups`: a seeded sample of whole groups holding about a given number of rows.

Every draw is one ``numpy.random.default_rng(seed)`` call, so the same input and seed give the
same rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from probe_rnn.errors import ParameterError
from probe_rnn.validation import shown

if TYPE_CHECKING:
    import pandas as pd

def sample_rows(pool: int | np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted seeded sample of ``size`` distinct items of ``pool`` (an array, or ``n`` for 0..n-1).

    ``size`` must not exceed the pool; callers return the whole pool when it is smaller.
    """
    return np.sort(np.random.default_rng(seed).choice(pool, size=size, replace=False))


def sample_table(df: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """A seeded sample of at most ``max_rows`` rows of a table, keeping its order (``--max-rows``:
    every command picks the same rows)."""
    if max_rows is not None and max_rows < 1:
        raise ParameterError("max_rows", "at least 1", shown(max_rows))
    if max_rows is None or len(df) <= max_rows:
        return df.reset_index(drop=True)
    picked = df.sample(n=max_rows, random_state=seed).sort_index()
    return picked.reset_index(drop=True)


def shuffled_groups(groups: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Group index of each row and a seeded permutation of the groups.

    Parameters
    ----------
    groups : ndarray, shape (rows,)
        Group key of each row (e.g. a sentence id).
    seed : int
        Seeds the permutation.

    Returns
    -------
    inverse : ndarray of int, shape (rows,)
        Index of each row's group among the sorted distinct groups (0..G-1).
    order : ndarray of int, shape (G,)
        The groups in seeded random order.
    """
    uniq, inverse = np.unique(np.asarray(groups), return_inverse=True)
    return inverse, np.random.default_rng(seed).permutation(len(uniq))


def sample_groups(groups: np.ndarray, max_rows: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a seeded sample of whole groups holding about ``max_rows`` rows.

    Groups are taken in the order of :func:`shuffled_groups` until ``max_rows`` rows are
    reached (the group that crosses it included; at least 2 groups); all rows when
    ``max_rows`` is None or not below the row count.
    """
    n = len(groups)
    if max_rows is None or n <= max_rows:
        return np.arange(n)
    inverse, order = shuffled_groups(groups, seed)
    sizes = np.bincount(inverse)[order]
    keep = order[: max(2, int(np.searchsorted(np.cumsum(sizes), max_rows)) + 1)]
    chosen = np.zeros(len(order), dtype=bool)
    chosen[keep] = True
    return np.flatnonzero(chosen[inverse])
