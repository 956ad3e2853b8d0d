"""probe_stores takes the settings as one object and returns a typed ProbeResults; run_probes
(the keyword face) returns exactly its tidy table; what run.json records (card) and cells.csv
holds come from its fields; a StateStore and an array-backed source both are StateSources."""

from __future__ import annotations

import numpy as np
import pandas as pd

from probe_rnn.capture.store import StateStore
from probe_rnn.probing import ProbeResults, ProbeSettings, StateSource, probe_stores, run_probes
from probe_rnn.probing.cells import Settings
from probe_rnn.run_record import ProbingCard
from tests.unit.probing.probing_support import ArrayStore, meta_for

KW = {"views": ["output@last", "hidden/L0/fwd@-1"], "tasks": ["label", "length"], "folds": 3,
      "seed": 2, "mdl": False}


def test_the_object_and_the_keyword_face_give_the_same_numbers(lstm_stores) -> None:
    found = probe_stores(lstm_stores, ProbeSettings(**KW))
    table, values = run_probes(lstm_stores, return_values=True, **KW)
    assert isinstance(found, ProbeResults)
    pd.testing.assert_frame_equal(found.to_pandas(), table)
    pd.testing.assert_frame_equal(found.values, values)
    timing = ("seconds", "cpu_seconds")
    same = {k: v for k, v in table.attrs.items() if k != "cell_records"}
    assert {k: v for k, v in found.to_pandas().attrs.items() if k != "cell_records"} == same
    assert [{k: v for k, v in r.items() if k not in timing} for r in found.cell_records] == [
        {k: v for k, v in r.items() if k not in timing} for r in table.attrs["cell_records"]]
    # typed fields are what attrs said
    assert (found.cells, found.reused_cells, found.failed_cells) == (
        table.attrs["cells"], table.attrs["reused_cells"], table.attrs["failed_cells"])
    assert found.cells == 2 * 2 * 2 and found.folds == 3 and found.seed == 2


def test_card_and_cells_table_come_from_the_fields(lstm_stores) -> None:
    found = probe_stores(lstm_stores, ProbeSettings(**KW))
    card = found.card()
    assert isinstance(card, ProbingCard)
    counted = pd.Series([r["protocol"] for r in found.cell_records]).value_counts().to_dict()
    assert card.protocols == counted and sum(counted.values()) == found.cells
    assert (card.cells, card.protocol, card.precision) == (found.cells, found.protocol,
                                                          found.precision)
    cells = found.cells_table()
    assert len(cells) == found.cells and set(cells["status"]) == {"done"}
    assert list(cells["view"].unique()) == KW["views"]


def test_cell_settings_are_the_shared_part() -> None:
    s = ProbeSettings(folds=4, seeds=2, seed=7, mdl=False, control=False, max_t=3,
                      precision=0.1, jobs=2, views=("a",))
    assert s.cell_settings() == Settings(folds=4, seeds=2, seed=7, control=False, mdl=False,
                                         max_t=3, precision=0.1)


def test_stores_and_array_sources_are_state_sources(lstm_stores) -> None:
    assert isinstance(lstm_stores["trained"], StateStore)
    assert isinstance(lstm_stores["trained"], StateSource)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=60)
    source = ArrayStore(meta_for([f"s{i}" for i in range(60)], [str(v) for v in y]),
                        {"v": np.c_[y + rng.normal(scale=0.1, size=60), rng.normal(size=60)]})
    assert isinstance(source, StateSource)
    found = probe_stores({"trained": source}, ProbeSettings(views=["v"], tasks=["label"],
                                                            folds=3, mdl=False, control=False))
    accuracy = found.table.query("metric == 'accuracy'")["value"].iloc[0]
    assert accuracy > 0.9  # the label is planted in column 0
    assert not isinstance(object(), StateSource)
