"""ProbeSettings: one frozen object for what a probing run computes; its shared part is the
cells' Settings."""

from __future__ import annotations

from probe_rnn.probing import ProbeSettings
from probe_rnn.probing.cells import Settings


def test_cell_settings_are_the_shared_part() -> None:
    s = ProbeSettings(folds=4, seeds=2, seed=7, mdl=False, control=False, max_t=3,
                      precision=0.1, jobs=2, views=("a",))
    assert s.cell_settings() == Settings(folds=4, seeds=2, seed=7, control=False, mdl=False,
                                         max_t=3, precision=0.1)
