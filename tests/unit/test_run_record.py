"""RunRecord is run.json: the file the run writes keeps the layout the dict-built record had
(same keys, same order, same values), a run.json written before reads back unchanged, updates
return new records, and the report's reads come from typed fields."""

from __future__ import annotations

import json

import pytest

from probe_rnn.errors import ReportError
from probe_rnn.run.bookkeeping import reusable_stages
from probe_rnn.run_folder import DIAGNOSIS_CSV, write_run
from probe_rnn.run_record import RUN_SCHEMA, ProbingCard, RunRecord, StageRecord


def _legacy_run() -> dict:
    """run.json as the pipeline built it by hand before RunRecord (the reference layout)."""
    run = {
        "name": "demo", "created": "2026-12-06T22:00:00+00:00", "probe_rnn_version": "0.9",
        "seed": 3,
        "model": {"checksum": "m" * 8, "config": {"rnn": "lstm", "layers": 2, "readout": "last"},
                  "labels": ["F", "M"], "tokenizer": {"kind": "char"},
                  "batch_dependence": {"per_row": True}},
        "data": {"checksum": "d" * 8, "rows": 40, "source": "dataset:names"},
        "probed_rows": {"choice": "heldout", "description": "12 held-out rows"},
        "settings": {"folds": 5, "probes": ["logistic"], "precision": 0.05},
        "arguments": {"function": "probe"},
        "stages": {},
    }
    run["plugin_code"] = {"probes/x.py": "abc"}
    run["fingerprint"] = "f" * 64
    run["stages"]["capture"] = {"seconds": 0.0, "status": "running", "detail": ""}
    run["stages"]["capture"] = {"seconds": 1.25, "status": "done", "detail": "40 rows"}
    run["probing"] = {"ci_method": "bootstrap", "bits": "H(Y) - CE", "folds": 5, "seeds": 1,
                      "seed": 3, "protocol": "5-fold", "precision": 0.05, "cells": 4,
                      "reused_cells": 0, "failed_cells": [], "unreadable_journal": 0,
                      "protocols": {"kfold": 4}}
    return {"schema": RUN_SCHEMA, **run}


def test_a_record_built_with_methods_writes_the_legacy_bytes(tmp_path) -> None:
    legacy = _legacy_run()
    fields = {k: legacy[k] for k in ("name", "created", "probe_rnn_version", "seed", "model",
                                     "data", "probed_rows", "settings", "arguments",
                                     "plugin_code", "fingerprint")}
    record = RunRecord(**fields, stages={})
    record = record.with_stage("capture", StageRecord(0.0, "running", ""))
    record = record.with_stage("capture", StageRecord(1.25, "done", "40 rows"))
    record = record.with_probing(ProbingCard.from_dict(legacy["probing"]))
    write_run(tmp_path, record)
    assert (tmp_path / "run.json").read_text() == json.dumps(legacy, indent=2)


def test_a_legacy_run_json_round_trips_byte_for_byte() -> None:
    legacy = _legacy_run()
    legacy["from_a_plugin"] = {"kept": True}  # a key this version does not know is kept
    again = RunRecord.from_dict(json.loads(json.dumps(legacy))).to_dict()
    assert json.dumps(again, indent=2) == json.dumps(legacy, indent=2)


def test_updates_return_new_records_and_keep_stage_order() -> None:
    first = RunRecord(name="x", stages={})
    second = first.with_stage("capture", StageRecord(1.0, "done", ""))
    third = second.with_stage("probing", StageRecord(2.0, "failed", "")).with_stage(
        "capture", StageRecord(3.0, "reused", ""))
    assert first.stages == {} and second.stage("probing") is None
    assert list(third.stages) == ["capture", "probing"] and third.stage("capture").seconds == 3.0
    with pytest.raises(AttributeError):
        third.name = "y"  # frozen


def test_typed_reads_of_the_cards() -> None:
    record = RunRecord.from_dict(_legacy_run())
    assert record.model_config["layers"] == 2 and record.labels == ["F", "M"]
    assert record.tokenizer_kind == "char" and record.batch_dependence == {"per_row": True}
    assert (record.data_rows, record.data_source) == (40, "dataset:names")
    assert record.probing.protocols == {"kfold": 4} and record.probing.failed == []
    empty = RunRecord.from_dict({})
    assert (empty.model_config, empty.labels, empty.tokenizer_kind, empty.data_rows,
            empty.data_source, empty.batch_dependence) == ({}, None, None, None, "?", {})


@pytest.mark.parametrize("value", [{"schema": RUN_SCHEMA + 1}, {"schema": True}, [1],
                                   {"model": "lstm"}, {"probing": 1}])
def test_from_dict_refuses_in_one_line(value) -> None:
    with pytest.raises(ReportError) as info:
        RunRecord.from_dict(value, "x/run.json")
    assert "x/run.json" in str(info.value) and "\n" not in str(info.value)


def test_reusable_stages_read_the_typed_record(tmp_path) -> None:
    (tmp_path / DIAGNOSIS_CSV).write_text("a\n1\n")
    done = RunRecord(fingerprint="f", stages={"diagnosis": StageRecord(1.0, "done", "")})
    assert reusable_stages(done, "f", tmp_path) == {"diagnosis"}
    assert reusable_stages(done, "other", tmp_path) == set()
    running = done.with_stage("diagnosis", StageRecord(0.0, "running", ""))
    assert reusable_stages(running, "f", tmp_path) == set()
    assert reusable_stages(None, "f", tmp_path) == set()
