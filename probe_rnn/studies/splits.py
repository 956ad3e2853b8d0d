"""Each seed of a readout study with its own seeded split, and the rows each seed probes.

Run ``i`` of every readout uses seed ``seed + i`` for its initialisation *and* its split, so
the spread across seeds holds the test set's sampling error as well as the initialisation
noise, while readouts stay paired (same seed = same split, same initialisation seed, same batch
order). A table that brings its own ``split`` column keeps it for every seed unless told
otherwise (``per_seed=True``: for a split that is itself only a seeded draw, such as the bundled
datasets'): then the seeds share one test set and the study says its intervals cover
initialisation only (:func:`split_card`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from probe_rnn.errors import DataError


def per_seed_splits(df: pd.DataFrame, per_seed: bool | None) -> bool:
    """Whether each seed draws its own split: ``per_seed``, or (None) when ``df`` has no
    ``split`` column."""
    return "split" not in df.columns if per_seed is None else bool(per_seed)


def seed_tables(df: pd.DataFrame, seeds: Sequence[int], probe_rows: int,
                per_seed: bool | None = None) -> dict[int, tuple[pd.DataFrame, pd.DataFrame]]:
    """Seed -> (the table with that seed's split, the held-out rows that seed's models probe).

    With :func:`per_seed_splits` false every seed shares the first seed's frames (the table's
    own ``split`` column, or one drawn with the first seed); otherwise each seed draws its own
    split (an existing ``split`` column is dropped first).
    """
    from probe_rnn.data import ensure_splits

    own = not per_seed_splits(df, per_seed)
    if not own:
        df = df.drop(columns="split", errors="ignore")
    out: dict[int, tuple[pd.DataFrame, pd.DataFrame]] = {}
    for s in seeds:
        if own and out:
            out[s] = next(iter(out.values()))
            continue
        data = ensure_splits(df, seed=s).reset_index(drop=True)
        out[s] = (data, probe_sample(data, probe_rows, s))
    return out


def probe_sample(data: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most ``rows`` held-out rows (dev + test: no model of this split trained on them),
    a seeded sample in table order; fewer when fewer are held out (never training rows)."""
    held = data[data["split"] != "train"]
    if held.empty:
        raise DataError("the study's table has no dev or test rows to probe: give it a split "
                        "column with held-out rows, or drop the column to let probe-rnn make one")
    picked = held.sample(n=rows, random_state=seed) if len(held) > rows else held
    return picked.sort_index()


def split_card(df: pd.DataFrame, tables: dict[int, tuple[pd.DataFrame, pd.DataFrame]],
               per_seed: bool | None = None) -> dict[str, Any]:
    """The study's split settings: sizes (equal for every seed: the split is stratified with
    fixed fractions), whether each seed drew its own, and the Nadeau–Bengio ratio
    ``n_test / n_train`` the intervals use (0 when the seeds share the table's split)."""
    first = next(iter(tables.values()))[0]
    sizes = {k: int(v) for k, v in first["split"].value_counts().items()}
    own = per_seed_splits(df, per_seed)
    n_train, n_test = sizes.get("train", 0), sizes.get("test", 0)
    return {"splits": sizes, "split_per_seed": own,
            "nb_ratio": n_test / n_train if own and n_train else 0.0,
            "probe_rows": int(len(next(iter(tables.values()))[1]))}
