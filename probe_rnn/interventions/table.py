"""The interventions table: its columns, how it is written and how it is read back.

``interventions.parquet`` in a run folder holds one row per (intervention, view, given, task,
step, measure). This module is the one place that names the columns (:data:`COLUMNS`), writes
the file atomically (:func:`write_interventions`) and reads it back
(:func:`read_interventions`); the report reads the table only through here.

Columns
-------
intervention : str
    ``erasure``, ``erasure-control``, ``patching``, ``ablation-mean``, ``ablation-resample``,
    ``ablation-zero``, ``conditional`` or a plugin's registered name.
view : str
    The intervened view (``output@last``, ``h_n/L1/bwd``, ``hidden/L0/fwd@3``); for
    ``conditional`` the view B whose bits beyond ``given`` are measured.
given : str or None
    ``conditional`` only: the conditioning view A.
task : str or None
    The concept erased, or the task of the conditional bits; None for patching and ablation.
step : int or None
    The absolute step t of a per-step row (then ``view`` is the ``@t`` name); None otherwise.
measure : str
    One of :data:`MEASURES`.
value, ci_low, ci_high : float
    The value and its paired 95% interval (None where there is none).
n : int
    Rows or pairs behind the value.
sanity_ok : bool or None
    Whether the intervention's own check passed.
sanity : str
    That check in one sentence.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from probe_rnn.atomic import replacing

#: The run folder's interventions table.
INTERVENTIONS_PARQUET = "interventions.parquet"

#: Column order of the interventions table (the contract with the report).
COLUMNS: list[str] = [
    "intervention", "view", "given", "task", "step", "measure", "value", "ci_low", "ci_high",
    "n", "sanity_ok", "sanity",
]

#: The measures a row may carry.
MEASURES: tuple[str, ...] = (
    "accuracy_before", "accuracy_after", "accuracy_drop", "agreement", "follow_rate", "bits",
    "probe_after", "majority",
)

#: The built-in interventions' names.
BUILTIN_INTERVENTIONS: tuple[str, ...] = (
    "erasure", "erasure-control", "patching", "ablation-mean", "ablation-resample",
    "ablation-zero", "conditional",
)

_DTYPES = {
    "intervention": "string", "view": "string", "given": "string", "task": "string",
    "step": "Int64", "measure": "string", "value": "float64", "ci_low": "float64",
    "ci_high": "float64", "n": "Int64", "sanity_ok": "boolean", "sanity": "string",
}


def as_table(rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """Rows (dicts with the keys of :data:`COLUMNS`; missing keys are null) as the table.

    The columns come in :data:`COLUMNS` order with nullable dtypes, so an empty table and a
    full one have the same schema.
    """
    frame = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows.copy()
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame = frame[COLUMNS]
    return frame.astype(_DTYPES).reset_index(drop=True)


def write_interventions(run_dir: str | Path, table: pd.DataFrame) -> Path:
    """Write ``table`` as ``run_dir/interventions.parquet`` (complete or absent); its path."""
    path = Path(run_dir) / INTERVENTIONS_PARQUET
    with replacing(path) as tmp:
        as_table(table).to_parquet(tmp, index=False)
    return path


def read_interventions(run_dir: str | Path) -> pd.DataFrame | None:
    """The run folder's interventions table, or None if the stage did not write one.

    The columns are :data:`COLUMNS` in that order (a column a newer or older writer left out
    reads as null), so a reader can rely on every one of them.
    """
    path = Path(run_dir) / INTERVENTIONS_PARQUET
    if not path.is_file():
        return None
    return as_table(pd.read_parquet(path))
