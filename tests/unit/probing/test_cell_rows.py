"""cell_positions: one cell's rows of a results or values table from an index built once,
against the boolean mask of the same equalities (the way the report selected them before)."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest

from probe_rnn.probing import cell_rows
from probe_rnn.probing.cell_rows import cell_positions


def _table(rng: np.random.Generator, rows: int, arrow: bool) -> pd.DataFrame:
    pick = lambda names: rng.choice(np.asarray(names, dtype=object), rows)  # noqa: E731
    t = pd.array(np.where(rng.random(rows) < 0.4, pd.NA, rng.integers(-3, 4, rows)),
                 dtype="Int64")
    df = pd.DataFrame({"model": pick(["trained", "random-init"]),
                       "view": pick(["output@last", "h_n/L1", "mean(output)"]),
                       "task": pick(["label", "length"]),
                       "probe": pick(["logistic", "mlp", np.nan]),
                       "metric": pick(["accuracy", "bits", "majority_accuracy"]),
                       "t": t, "value": rng.random(rows)})
    if arrow:
        for c in ("model", "view", "task", "probe", "metric"):
            df[c] = df[c].astype("string[pyarrow]")
    return df


def _mask(df: pd.DataFrame, model: str, view: str, task: str, probe: str | None,
          metric: str | None, t: int | None) -> np.ndarray:
    sel = (df["model"] == model) & (df["view"] == view) & (df["task"] == task)
    if probe is not None:
        sel &= df["probe"] == probe
    if metric is not None:
        sel &= df["metric"] == metric
    sel &= df["t"].isna() if t is None else (df["t"] == t).fillna(False)
    return np.flatnonzero(sel.fillna(False).to_numpy(dtype=bool))  # NA selects nothing


@pytest.mark.parametrize("arrow", [False, True])
def test_every_cell_gets_the_rows_its_mask_selects_in_order(arrow: bool) -> None:
    rng = np.random.default_rng(3)
    df = _table(rng, 3000, arrow)
    asked = 0
    for model in ("trained", "random-init", "absent"):
        for view in ("output@last", "h_n/L1", "mean(output)"):
            for task in ("label", "length"):
                for probe in ("logistic", "mlp", None):
                    for metric in ("accuracy", "bits", None):
                        for t in (None, -3, 0, 2, 7):
                            got = cell_positions(df, model, view, task, probe, metric, t)
                            want = _mask(df, model, view, task, probe, metric, t)
                            np.testing.assert_array_equal(got, want)
                            asked += len(want) > 0
    assert asked > 300  # the cells asked for are mostly not empty (the premise)


def test_float_positions_of_a_results_table_are_found_by_their_integer() -> None:
    df = pd.DataFrame({"model": ["trained"] * 3, "view": ["v"] * 3, "task": ["label"] * 3,
                       "probe": ["logistic"] * 3, "metric": ["accuracy"] * 3,
                       "t": [np.nan, 2.0, -1.0], "value": [0.5, 0.6, 0.7]})
    assert cell_positions(df, "trained", "v", "label", t=2).tolist() == [1]
    assert cell_positions(df, "trained", "v", "label", t=-1).tolist() == [2]
    assert cell_positions(df, "trained", "v", "label").tolist() == [0]


def test_another_table_or_a_longer_one_is_indexed_anew() -> None:
    rng = np.random.default_rng(0)
    first = _table(rng, 500, arrow=False)
    cell = ("trained", "h_n/L1", "label", "logistic", "bits", None)
    np.testing.assert_array_equal(cell_positions(first, *cell), _mask(first, *cell))
    second = first.iloc[::-1].reset_index(drop=True)  # the same rows, another order
    np.testing.assert_array_equal(cell_positions(second, *cell), _mask(second, *cell))
    longer = pd.concat([first, first.iloc[_mask(first, *cell)]], ignore_index=True)
    np.testing.assert_array_equal(cell_positions(longer, *cell), _mask(longer, *cell))
    assert len(_mask(longer, *cell)) > len(_mask(first, *cell))  # the premise


def test_an_index_goes_with_its_table() -> None:
    df = _table(np.random.default_rng(1), 200, arrow=False)
    cell_positions(df, "trained", "h_n/L1", "label")
    key = id(df)
    assert key in cell_rows._INDEXES
    del df
    gc.collect()
    assert key not in cell_rows._INDEXES
