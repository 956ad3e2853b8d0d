"""Seeded, stratified train/dev/test splits.

:func:`ensure_splits` gives every row of a table a ``split`` value (``train``, ``dev`` or
``test``) when the table has none, and validates it when it has one. The assignment is
stratified by label and depends only on the labels, their order in the table and the seed:

for each class, in :func:`~probe_rnn.data.tables.label_names` order, the class's row positions
are permuted with one ``numpy.random.default_rng(seed)`` generator; the first
``round(n * test)`` rows of the permutation go to ``test``, the next ``round(n * dev)`` to
``dev`` and the rest to ``train`` (rounding half up; a class always keeps at least one training
row, so tiny classes go to ``train`` first).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from probe_rnn.data.tables import label_names, normalise_splits
from probe_rnn.errors import ConfigError, DataError


def split_sizes(n: int, dev: float, test: float) -> tuple[int, int, int]:
    """Rows of one class that go to (train, dev, test).

    Parameters
    ----------
    n
        Rows in the class.
    dev, test
        Fractions of the class for ``dev`` and ``test``.

    Returns
    -------
    tuple[int, int, int]
        ``(n_train, n_dev, n_test)`` summing to ``n``; ``n_train >= 1`` whenever ``n >= 1``.
    """
    n_test = math.floor(n * test + 0.5)
    n_dev = math.floor(n * dev + 0.5)
    while n > 0 and n_test + n_dev >= n:  # keep one training row: shrink dev first, then test
        if n_dev > 0:
            n_dev -= 1
        else:
            n_test -= 1
    return n - n_dev - n_test, n_dev, n_test


def ensure_splits(
    df: pd.DataFrame, seed: int = 0, dev: float = 0.1, test: float = 0.1
) -> pd.DataFrame:
    """Return a copy of ``df`` with a ``split`` column (added when absent, checked when present).

    Parameters
    ----------
    df
        Table with a ``label`` column, shape ``(rows, columns)``.
    seed
        Seed of the permutation; the same table and seed give the same splits.
    dev, test
        Fractions of each class for ``dev`` and ``test``; each in ``[0, 1)`` and
        ``dev + test < 1``.

    Returns
    -------
    pandas.DataFrame
        Copy of ``df`` (same index and row order) with ``split`` in ``{train, dev, test}``.

    Raises
    ------
    ConfigError
        A fraction is outside its range.
    DataError
        ``label`` is missing, or an existing ``split`` column holds unknown values.
    """
    for name, value in (("dev", dev), ("test", test)):
        if not isinstance(value, int | float) or not 0.0 <= float(value) < 1.0:
            raise ConfigError(f"{name} fraction must be a number in [0, 1), got {value!r}")
    if dev + test >= 1.0:
        raise ConfigError(f"dev + test fractions must be below 1 so rows are left for training; "
                          f"got dev={dev}, test={test}")
    out = df.copy()
    if "split" in out.columns:
        out["split"] = normalise_splits(out["split"].tolist())
        return out
    if "label" not in out.columns:
        raise DataError("cannot split a table without a 'label' column; "
                        f"columns present: {', '.join(map(str, out.columns))}")
    # not train_test_split(stratify=): it rounds and allocates per class differently (its
    # RandomState draw; on 2,000 rows, 3 classes, test=0.1 its 200 test rows are another set),
    # which would move every row between splits and every number after it.
    labels = out["label"].astype(str).to_numpy()
    splits = np.full(len(out), "train", dtype=object)
    rng = np.random.default_rng(seed)
    for name in label_names(labels):
        positions = np.flatnonzero(labels == name)
        order = positions[rng.permutation(len(positions))]
        _, n_dev, n_test = split_sizes(len(order), dev, test)
        splits[order[:n_test]] = "test"
        splits[order[n_test:n_test + n_dev]] = "dev"
    out["split"] = splits
    return out


def check_splittable(df: pd.DataFrame, dev: float = 0.1, test: float = 0.1) -> None:
    """Raise :class:`DataError`, saying what the table has, when it has no ``split`` column
    and :func:`ensure_splits` would give it no dev row (every class too small: a table of
    500 classes with one row each). A table with a split column passes unchecked."""
    if "split" in df.columns or "label" not in df.columns or df.empty:
        return
    counts = df["label"].astype(str).value_counts()
    if any(split_sizes(int(n), dev, test)[1] >= 1 for n in counts):
        return
    needed = next(n for n in range(1, 10**6) if split_sizes(n, dev, test)[1] >= 1)
    raise DataError(
        f"the table has no split column and {len(df)} rows in {len(counts)} classes, at most "
        f"{int(counts.max())} per class: the seeded split ({dev:.0%} of each class to dev) "
        f"needs a class with at least {needed} rows to give a dev row; add rows (at least "
        f"{needed} to some class), or add a split column with train and dev rows (values "
        "train, dev, test)")
