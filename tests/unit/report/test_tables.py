"""The label table's control columns and the run notes: control key accuracy and H(label)
beside selectivity and bits, a degenerate control's selectivity withheld with a note, and a
missed precision target said plainly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from probe_rnn.report.run_data import load_run
from probe_rnn.report.tables import (
    LABEL_TABLE_PARTS,
    TEXT_BAR,
    card_table,
    fmt,
    frame_table,
    label_metrics_table,
    split_table,
    token_examples,
)
from tests.unit.report.factory import make_run, result_row, results_frame

NAN = float("nan")


def _tables(rows):
    """The label table's parts: information (bits beside H(label)), then the control part."""
    return split_table(label_metrics_table(results_frame(rows)), LABEL_TABLE_PARTS)


def test_control_key_accuracy_and_label_entropy_sit_beside_selectivity_and_bits() -> None:
    rows = [result_row("output@last", "accuracy", 0.85),
            result_row("output@last", "selectivity", 0.10),
            result_row("output@last", "control_key_accuracy", 0.62, 0.58, 0.66),
            result_row("output@last", "bits", 0.40),
            result_row("output@last", "label_entropy", 0.76, NAN, NAN)]
    info, control = _tables(rows)
    assert info.columns[:4] == ["view", "accuracy", "bits", "H(label) bits"]
    assert control.columns == ["view", "accuracy", "selectivity", "control key accuracy"]
    assert control.rows[0][3].startswith("0.620 [0.580,") and info.rows[0][3] == "0.760"


def test_degenerate_control_withholds_selectivity_with_a_note() -> None:
    rows = [result_row("output@last", "accuracy", 0.85),
            result_row("output@last", "selectivity", NAN, NAN, NAN),
            result_row("output@last", "control_majority", 0.91, NAN, NAN),
            result_row("mean(output)", "accuracy", 0.80),
            result_row("mean(output)", "selectivity", NAN, NAN, NAN),
            result_row("mean(output)", "control_majority", 0.60, NAN, NAN)]
    info = _tables(rows)[-1]
    col = info.columns.index("selectivity")
    assert info.rows[0][col] == ("withheld: degenerate control (91% of its labels are one "
                                 "label)")
    assert info.rows[1][col] == ""  # missing for another reason: no note


def test_missed_precision_target_is_said(tmp_path) -> None:
    run = make_run(tmp_path / "run")
    card = json.loads((run / "run.json").read_text())
    card.setdefault("probing", {})["precision"] = 0.01
    (run / "run.json").write_text(json.dumps(card))
    note = load_run(run).notes.get("probing", "")
    assert "The precision target (±0.01 accuracy) was missed" in note
    card["probing"]["precision"] = 0.45
    (run / "run.json").write_text(json.dumps(card))
    assert "precision target" not in load_run(run).notes.get("probing", "")


# -- cell formatting and generic tables ------------------------------------------------------
def test_fmt_rounds_floats_and_blanks_missing_values() -> None:
    assert [fmt(v) for v in (None, NAN, pd.NA)] == ["", "", ""]
    assert fmt(0.123456) == "0.123" and fmt(np.float32(2.5)) == "2.500"
    assert fmt(1e-13) == "0.000"  # below 1e-12 is zero
    assert fmt(0.00012) == "0.00012" and fmt(2.5e7) == "2.5e+07"  # tiny/huge: significant
    assert fmt(np.bool_(True)) == "True" and fmt(7) == "7"
    assert fmt(["a", "b"]) == "a, b"


def test_frame_table_cuts_long_frames_and_keys_numbers() -> None:
    df = pd.DataFrame({"view": ["a", "b", "c"], "value": [0.5, float("inf"), 2.0]})
    table = frame_table(df, max_rows=2, note="Note.")
    assert table.columns == ["view", "value"] and len(table) == 2
    assert table.rows == [["a", "0.500"], ["b", "inf"]]
    assert table.keys == [[None, 0.5], [None, None]]  # sort keys: finite numbers only
    assert table.note == "Note. First 2 of 3 rows shown."
    card = card_table({"model": {"hidden": 8, "layers": [{"kind": "lstm"}]},
                       "weights_checksum": "f" * 64, "empty": {}, "skip": 1}, skip=("skip",))
    assert card.rows == [["model.hidden", "8"], ["model.layers[0].kind", "lstm"],
                         ["weights_checksum", "f" * 12 + "…"]]


def test_a_rows_two_texts_are_shown_in_turn_with_a_bar_between() -> None:
    tokens = pd.DataFrame({"row": [7] * 5, "which_text": [2, 1, 2, 1, 2],
                           "position": [1, 1, 0, 0, 2], "token": ["y", "b", "x", "a", "z"],
                           "attribution": [0.2, -0.1, 0.4, 0.3, 0.0]})
    examples = pd.DataFrame({"row": [7], "text": ["a b"], "label": ["same"],
                             "prediction": ["score 0.5"], "probability": [float("nan")]})
    [example], vmax = token_examples({"tokens": tokens, "examples": examples})
    assert [t for t, _, _ in example.tokens] == ["a", "b", TEXT_BAR, "x", "y", "z"]
    assert example.tokens[2][1] == "" and vmax == 0.4 and example.prediction == "score 0.5"
