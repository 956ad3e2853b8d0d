"""The interventions table: written atomically, read back with every column in order."""

from __future__ import annotations

import pandas as pd

from probe_rnn.interventions.table import (
    COLUMNS,
    INTERVENTIONS_PARQUET,
    as_table,
    read_interventions,
    write_interventions,
)


def test_read_is_none_without_the_file(tmp_path):
    assert read_interventions(tmp_path) is None


def test_round_trip_keeps_values_and_fills_missing_columns(tmp_path):
    rows = [
        {"intervention": "erasure", "view": "output@last", "task": "label",
         "measure": "accuracy_drop", "value": 0.25, "ci_low": 0.2, "ci_high": 0.3, "n": 40,
         "sanity_ok": True, "sanity": "a fresh probe reads 0.51 <= majority 0.50 + 0.03"},
        {"intervention": "patching", "view": "hidden/L0/fwd@3", "step": 3,
         "measure": "follow_rate", "value": 0.9, "n": 20},
    ]
    write_interventions(tmp_path, pd.DataFrame(rows))
    assert not list(tmp_path.glob(".*.part"))
    back = read_interventions(tmp_path)
    assert list(back.columns) == COLUMNS
    assert back.loc[0, "value"] == 0.25 and back.loc[1, "step"] == 3
    assert pd.isna(back.loc[0, "step"]) and pd.isna(back.loc[1, "task"])
    assert bool(back.loc[0, "sanity_ok"]) and pd.isna(back.loc[1, "sanity_ok"])
    assert (tmp_path / INTERVENTIONS_PARQUET).is_file()


def test_empty_table_has_the_schema():
    empty = as_table([])
    assert list(empty.columns) == COLUMNS and len(empty) == 0
