"""ProbeSettings: one frozen object for what a probing run computes; its shared part is the
cells' Settings, and only that part decides a cell's journal key."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from probe_rnn.probing import ProbeSettings
from probe_rnn.probing.cells import Cell, Settings, cell_key
from probe_rnn.probing.tasks import get_task


def test_cell_settings_are_the_shared_part() -> None:
    s = ProbeSettings(folds=4, seeds=2, seed=7, mdl=False, control=False, max_t=3,
                      precision=0.1, jobs=2, views=("a",))
    assert s.cell_settings() == Settings(folds=4, seeds=2, seed=7, control=False, mdl=False,
                                         max_t=3, precision=0.1)


def test_the_defaults_are_the_documented_ones() -> None:
    s = ProbeSettings()
    assert isinstance(s, Settings)
    assert (s.views, s.tasks, tuple(s.probes), s.max_rows, s.jobs, s.cell_timeout) == (
        None, None, ("logistic",), None, 1, None)
    assert (s.folds, s.seeds, s.seed, s.control, s.mdl, s.max_t) == (5, 1, 0, True, True, 16)
    assert s.cell_settings() == Settings()


def test_the_settings_are_frozen() -> None:
    s = ProbeSettings(folds=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.folds = 4  # type: ignore[misc]
    assert dataclasses.replace(s, folds=4).folds == 4 and s.folds == 3


def test_an_integer_precision_is_shared_as_a_float() -> None:
    shared = ProbeSettings(precision=1).cell_settings()
    assert shared.precision == 1.0 and type(shared.precision) is float


def test_only_the_shared_part_decides_a_cells_key() -> None:
    cell = Cell("trained", {"no": "store"}, "output@last", "sentence", get_task("label"),
                "logistic", "logistic", np.arange(10))
    base = ProbeSettings(views=("a",), tasks=("label",), jobs=1)
    other_run = ProbeSettings(views=("a", "b"), tasks=("label", "length"), jobs=4,
                              max_rows=10, cell_timeout=30.0, probes=("logistic", "mlp"))
    code = {}
    assert cell_key(cell, base.cell_settings(), code) == cell_key(
        cell, other_run.cell_settings(), code)
    for change in ({"folds": 4}, {"seed": 1}, {"seeds": 2}, {"control": False}, {"mdl": False},
                   {"max_t": 8}, {"precision": 0.2}):
        changed = dataclasses.replace(base, **change).cell_settings()
        assert cell_key(cell, changed, code) != cell_key(cell, base.cell_settings(), code), change
