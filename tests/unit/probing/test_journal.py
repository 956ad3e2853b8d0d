"""The run journal: finished cells are reused only when nothing that decides their numbers
changed; a changed store is never read from it; unreadable journal files are recomputed."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from probe_rnn.probing import run_probes

KW = {"views": ["output@last", "hidden/L0/fwd@-1"], "tasks": ["label", "length"], "folds": 3}


def _frame(df: pd.DataFrame) -> pd.DataFrame:
    return df.reset_index(drop=True)


def test_journal_reuses_identical_cells_and_never_stale_ones(lstm_stores, tmp_path) -> None:
    journal = tmp_path / "journal"
    first = run_probes(lstm_stores, journal=journal, **KW)
    files = sorted(journal.glob("*.json"))
    assert len(files) == first.attrs["cells"] == 2 * 2 * 2 and first.attrs["reused_cells"] == 0
    again = run_probes(lstm_stores, journal=journal, **KW)
    assert again.attrs["reused_cells"] == 8
    pd.testing.assert_frame_equal(_frame(first), _frame(again))
    # every setting that decides a number gives new keys: folds, seed, rows, probe parameters
    for change in ({"folds": 4}, {"seed": 1}, {"max_rows": 250},
                   {"probes": [LogisticProbeC(0.5)]}, {"precision": 0.2}):
        other = run_probes(lstm_stores, journal=journal, **{**KW, **change})
        assert other.attrs["reused_cells"] == 0, change
    # a truncated journal file is recomputed, the table is the same
    files[0].write_text(files[0].read_text()[:40])
    with pytest.warns(UserWarning, match=r"1 journal file\(s\) .* could not be read"):
        mended = run_probes(lstm_stores, journal=journal, **KW)
    assert mended.attrs["reused_cells"] == 7 and mended.attrs["unreadable_journal"] == 1
    pd.testing.assert_frame_equal(_frame(first), _frame(mended))
    assert json.loads(files[0].read_text())["status"] == "done"


def LogisticProbeC(C: float):  # noqa: N802 - reads as a constructor
    from probe_rnn.probing import LogisticProbe

    return LogisticProbe(C=C)


def test_a_changed_store_is_never_read_from_the_journal(lstm_stores, tmp_path) -> None:
    journal = tmp_path / "journal"
    run_probes({"trained": lstm_stores["trained"]}, journal=journal, **KW)
    swapped = run_probes({"trained": lstm_stores["random-init"]}, journal=journal, **KW)
    assert swapped.attrs["reused_cells"] == 0
