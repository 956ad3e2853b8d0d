"""probe_stores takes the settings as one object and returns a typed ProbeResults; run_probes
(the keyword face) returns exactly its tidy table; what run.json records (card) and cells.csv
holds come from its fields; a StateStore and an array-backed source both are StateSources."""

from __future__ import annotations

import pandas as pd

from probe_rnn.probing import ProbeResults, ProbeSettings, probe_stores, run_probes
from probe_rnn.run_record import ProbingCard

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
