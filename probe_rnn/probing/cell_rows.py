"""Where one cell's rows lie in a results or values table, found once per table.

A report asks for one cell's rows hundreds of times: every paired difference, majority
verdict and table cell. Comparing four text columns over the whole table on each ask (the
demo's long table holds 15,528 rows) took about a sixth of a re-render. :func:`cell_positions`
groups the table's rows once by (model, view, task, position) and answers from that.

The index is kept while the table lives, by identity, and rebuilt when the table's length
changes. Tables are taken as read, as the report reads them: a table changed in place after a
question was asked of it (other values in its key columns, same length) must be passed as a
copy.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: The position key of sentence-level rows (``t`` missing).
_SENTENCE = np.iinfo(np.int64).min


@dataclass(frozen=True)
class _Index:
    """A table's rows by (model, view, task, position key), and its ``probe`` and ``metric``
    columns as object arrays."""

    rows: dict[tuple[Any, ...], np.ndarray]
    columns: dict[str, np.ndarray]


_INDEXES: dict[int, tuple[weakref.ref, int, _Index]] = {}


def _positions_key(t: pd.Series) -> np.ndarray:
    """``t`` as int64, :data:`_SENTENCE` where missing."""
    missing = t.isna().to_numpy()
    out = np.full(len(t), _SENTENCE, dtype=np.int64)
    out[~missing] = t[~missing].to_numpy().astype(np.int64)
    return out


def _objects(column: pd.Series) -> np.ndarray:
    """``column`` as an object array, missing values (``pd.NA`` of a nullable text column
    too) as NaN, which equals no text."""
    return column.to_numpy(dtype=object, na_value=np.nan)


def _index(df: pd.DataFrame) -> _Index:
    """``df``'s index: kept while ``df`` lives at this length, else built."""
    kept = _INDEXES.get(id(df))
    if kept is not None and kept[0]() is df and kept[1] == len(df):
        return kept[2]
    keys = pd.DataFrame({c: _objects(df[c]) for c in ("model", "view", "task")}
                        | {"t": _positions_key(df["t"])})
    rows = {k: np.asarray(v, dtype=np.int64) for k, v in
            keys.groupby(["model", "view", "task", "t"], sort=False, dropna=False)
            .indices.items()}
    index = _Index(rows, {c: _objects(df[c]) for c in ("probe", "metric") if c in df.columns})
    key = id(df)
    _INDEXES[key] = (weakref.ref(df, lambda _ref: _INDEXES.pop(key, None)), len(df), index)
    return index


def cell_positions(df: pd.DataFrame, model: str, view: str, task: str,
                   probe: str | None = None, metric: str | None = None,
                   t: int | None = None) -> np.ndarray:
    """Ascending positions of ``df``'s rows of one cell: its ``model``, ``view`` and ``task``,
    at position ``t`` (None: the sentence-level rows, ``t`` missing), of ``probe`` and
    ``metric`` (None: any). The rows a boolean mask of those equalities selects, in order."""
    index = _index(df)
    at = index.rows.get((model, view, task, _SENTENCE if t is None else int(t)))
    if at is None:
        return np.zeros(0, dtype=np.int64)
    keep = np.ones(len(at), dtype=bool)
    for column, wanted in (("probe", probe), ("metric", metric)):
        if wanted is not None:
            keep &= index.columns[column][at] == wanted
    return at[keep]
