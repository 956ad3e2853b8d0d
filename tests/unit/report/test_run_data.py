"""load_run reads a run folder as the pipeline wrote it: the results in contract column order
(equal to the files), the optional parts or a one-line note saying why each is missing, the
probing and precision notes counted from run.json and the results, and the trained store
opened only while its files match their checksums."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from probe_rnn.errors import ReportError, StoreError
from probe_rnn.report.run_data import load_run, stage_note
from tests.unit.report.factory import RESULT_COLUMNS, make_run, result_row, results_frame


def _edit_run_json(run: Path, **changes: object) -> None:
    card = json.loads((run / "run.json").read_text())
    card.update(changes)
    (run / "run.json").write_text(json.dumps(card))


def test_a_complete_folder_is_read_whole(run_dir: Path) -> None:
    data = load_run(run_dir)
    written = pd.read_parquet(run_dir / "results.parquet")
    assert list(data.results.columns) == RESULT_COLUMNS
    assert data.name == "run" and data.path == run_dir
    for column in ("value", "ci_low", "ci_high"):
        np.testing.assert_array_equal(data.results[column].to_numpy(float),
                                      written[column].to_numpy(float))
    assert data.results["view"].tolist() == written["view"].tolist()
    pd.testing.assert_frame_equal(data.diagnosis, pd.read_csv(run_dir / "diagnosis.csv"))
    on_disk = {p.stem for p in (run_dir / "attribution").glob("*.parquet")}
    assert set(data.attribution) == on_disk | {"summary"}
    assert data.states == run_dir / "states"
    assert not {"diagnosis", "attribution", "projections", "baseline"} & set(data.notes)
    store = data.store()
    assert store is not None and "output@last" in store.views


def test_the_csv_is_read_when_there_is_no_parquet(run_dir: Path) -> None:
    from_parquet = load_run(run_dir).results
    (run_dir / "results.parquet").unlink()
    from_csv = load_run(run_dir).results
    assert list(from_csv.columns) == RESULT_COLUMNS
    np.testing.assert_allclose(from_csv["value"].to_numpy(float),
                               from_parquet["value"].to_numpy(float))
    assert from_csv["t"].isna().tolist() == from_parquet["t"].isna().tolist()


def test_optional_result_columns_are_filled_and_extra_ones_kept_last(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", attribution=False)
    (run / "results.parquet").unlink()
    pd.DataFrame({"model": ["trained"], "view": ["output@last"], "task": ["label"],
                  "probe": ["logistic"], "metric": ["accuracy"], "value": ["0.75"],
                  "mine": [1]}).to_csv(run / "results.csv", index=False)
    results = load_run(run).results
    assert list(results.columns) == [*RESULT_COLUMNS, "mine"]
    assert results["value"].tolist() == [0.75] and results["value"].dtype == float
    assert results["ci_low"].isna().all() and results["chance"].isna().all()
    assert "baseline" in load_run(run).notes  # no random-init rows


@pytest.mark.parametrize(("damage", "needle"), [
    ("no_folder", "does not exist: give the folder a probe run wrote"),
    ("no_results", "holds no results.parquet or results.csv"),
    ("no_value", "lack columns ['value']"),
])
def test_a_required_part_missing_is_one_line_naming_the_fix(tmp_path: Path, damage: str,
                                                           needle: str) -> None:
    run = make_run(tmp_path / "run", attribution=False)
    if damage == "no_folder":
        run = tmp_path / "elsewhere"
    else:
        results = pd.read_parquet(run / "results.parquet")
        (run / "results.parquet").unlink()
        (run / "results.csv").unlink()
        if damage == "no_value":
            results.drop(columns="value").to_parquet(run / "results.parquet")
    with pytest.raises(ReportError) as caught:
        load_run(run)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_missing_optional_parts_come_back_empty_with_a_note(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", attribution=False)
    (run / "diagnosis.csv").unlink()
    (run / "states" / "manifest.json").unlink()
    (run / "values.parquet").write_bytes(b"not parquet")
    data = load_run(run)
    assert data.diagnosis is None and "No diagnosis.csv" in data.notes["diagnosis"]
    assert data.attribution == {} and "no attribution/ folder" in data.notes["attribution"]
    assert data.states is None and data.store() is None
    assert "No complete state store" in data.notes["projections"]
    assert data.values is None and data.notes["values"] == (
        "values.parquet cannot be read; comparisons are unpaired.")
    assert data.train_rows is None and "train_rows" not in data.notes  # absent: silent


def test_attribution_without_a_manifest_or_skipped_is_left_out(run_dir: Path) -> None:
    (run_dir / "attribution" / "manifest.json").unlink()
    data = load_run(run_dir)
    assert data.attribution == {} and "no manifest.json" in data.notes["attribution"]
    _edit_run_json(run_dir, stages={"attribution": {"status": "skipped"}})
    data = load_run(run_dir)
    assert data.attribution == {} and "skipped" in data.notes["attribution"]


def test_the_probing_note_counts_rows_protocol_and_failed_cells(run_dir: Path) -> None:
    assert "does not record which rows were probed" in load_run(run_dir).notes["probing"]
    failed = [{"model": "trained", "view": v, "task": "label", "probe": "picky",
               "reason": "probe 'picky': RuntimeError: no"} for v in ("a", "b")]
    _edit_run_json(run_dir, probed_rows={"description": "the 60 test rows"},
                   probing={"protocol": "5-fold", "cells": 12, "failed_cells": failed})
    note = load_run(run_dir).notes["probing"]
    assert note.startswith("Rows: the 60 test rows. Protocol: 5-fold. 2 of 12 probing cells "
                           "failed")
    assert "probe 'picky': RuntimeError: no — 2 cells: trained × 2 views (a, b)" in note


def test_the_precision_note_counts_the_wider_intervals(tmp_path: Path) -> None:
    halves = {"output@last": 0.01, "output@-1": 0.03, "mean(output)": 0.05, "h_n/L1/fwd": 0.08}
    rows = [result_row(v, "accuracy", 0.8, 0.8 - h, 0.8 + h) for v, h in halves.items()]
    rows += [result_row("output@last", "accuracy", 0.7, 0.3, 0.9, t=2),  # a position: not counted
             result_row("output@last", "bits", 0.5, 0.0, 2.0)]  # another metric: not counted
    run = make_run(tmp_path / "run", attribution=False, results=results_frame(rows))
    _edit_run_json(run, probing={"precision": 0.04})
    note = load_run(run).notes["probing"]
    assert ("The precision target (±0.04 accuracy) was missed: 2 of 4 whole-sentence accuracy "
            "intervals are wider (half-widths ±0.010 to ±0.080)") in note
    _edit_run_json(run, probing={"precision": 0.08})
    assert "precision target" not in load_run(run).notes["probing"]


def test_a_batch_dependent_model_is_warned_about(run_dir: Path) -> None:
    card = json.loads((run_dir / "run.json").read_text())
    card["model"]["batch_dependence"] = {"per_row": False, "sentence": "logits move by 0.1"}
    (run_dir / "run.json").write_text(json.dumps(card))
    assert load_run(run_dir).notes["model"].startswith("Warning: logits move by 0.1.")


def test_a_changed_store_file_is_refused_and_an_unreadable_store_left_out(run_dir: Path
                                                                          ) -> None:
    data = load_run(run_dir)
    manifest = json.loads((run_dir / "states" / "manifest.json").read_text())
    name = next(k for k in manifest["sha256"] if k.startswith("views/"))
    (run_dir / "states" / name).write_bytes(b"changed")
    with pytest.raises(StoreError, match="does not match the checksum"):
        data.store()
    (run_dir / "states" / "manifest.json").write_text("{broken")
    data = load_run(run_dir)
    assert data.store() is None and data.states is None
    assert data.notes["projections"].startswith("States cannot be read (")


def test_tables_come_without_the_attrs_pandas_keeps_in_their_files(run_dir: Path) -> None:
    """The probing card written into results.parquet's metadata (as ``to_pandas()`` leaves it)
    is not carried on the frames the report works on: pandas deep-copies ``attrs`` into every
    derived frame, which made a re-render four times slower."""
    card = {"cell_records": [{"key": str(i), "view": "output@last"} for i in range(50)]}
    for name in ("results.parquet", "train-rows.parquet"):
        frame = pd.read_parquet(run_dir / "results.parquet")
        frame.attrs.update(card)
        frame.to_parquet(run_dir / name)
        assert pd.read_parquet(run_dir / name).attrs == card  # pandas keeps them in the file
    data = load_run(run_dir)
    assert data.results.attrs == {}
    assert data.train_rows is not None and data.train_rows.attrs == {}
    assert len(data.results) == len(pd.read_parquet(run_dir / "results.parquet"))


def test_kernel_checks_are_read_from_each_stores_manifest(tmp_path: Path) -> None:
    from probe_rnn.capture.manifest import MANIFEST, STORE_FORMAT

    run = make_run(tmp_path / "run", attribution=False)
    data = load_run(run)
    view = {"h": {"file": "views/h.npy", "kind": "sentence", "shape": [2, 3]}}
    check = {"max_abs_error": 1.5e-7, "outputs": {"output": 1.5e-7, "h_n": 0.0}, "rows": 8}
    for folder, manifest in (("states", {"format": STORE_FORMAT, "views": view,
                                         "kernel_check": check}),
                             ("states-random", {"format": STORE_FORMAT, "views": view})):
        (run / folder).mkdir(exist_ok=True)
        (run / folder / MANIFEST).write_text(json.dumps(manifest))
    # a store written before the check was recorded reads, with no check
    assert data.kernel_checks() == {"trained": check, "random-init": None}
    (run / "states-random" / MANIFEST).write_text("{not json")
    assert data.kernel_checks() == {"trained": check}  # an unreadable manifest is left out


def test_a_two_text_run_says_what_it_explained_and_why_stages_are_absent(run_dir: Path
                                                                         ) -> None:
    manifest = run_dir / "attribution" / "manifest.json"
    assert stage_note(manifest) == ""  # one text: nothing added
    found = json.loads(manifest.read_text(encoding="utf-8"))
    found.update(target="score", explains="M's own score of each pair",
                 stages={"tokens": "done", "steps": "not applicable: two calls",
                         "probe_tokens": "not applicable: two texts"})
    manifest.write_text(json.dumps(found), encoding="utf-8")
    note = load_run(run_dir).notes["attribution"]
    assert "It explains M's own score of each pair (target score)" in note
    assert note.endswith("Steps: not applicable: two calls. Probe tokens: not applicable: "
                         "two texts.")
