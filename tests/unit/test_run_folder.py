"""run.json is written and read by probe_rnn.run_folder only: schema stamped, a newer schema
refused in one line, an old run.json without a schema read as schema 1."""

from __future__ import annotations

import json

import pytest

from probe_rnn.errors import ReportError
from probe_rnn.run_folder import read_previous_run, read_run, write_run
from probe_rnn.run_record import RUN_SCHEMA, RunRecord, StageRecord


def test_write_then_read_keeps_the_record_and_stamps_the_schema(tmp_path) -> None:
    record = RunRecord(name="x", stages={"capture": StageRecord(1.5, "done", "9 rows")})
    write_run(tmp_path, record)
    on_disk = json.loads((tmp_path / "run.json").read_text())
    assert on_disk == {"schema": RUN_SCHEMA, "name": "x", "stages": {
        "capture": {"seconds": 1.5, "status": "done", "detail": "9 rows"}}}
    assert read_run(tmp_path) == record


def test_a_run_json_without_schema_reads_as_the_first(tmp_path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"name": "old"}))
    assert read_run(tmp_path) == RunRecord(name="old")
    assert read_run(tmp_path).to_dict() == {"schema": 1, "name": "old"}


@pytest.mark.parametrize(("text", "needle"), [
    (json.dumps({"schema": RUN_SCHEMA + 1}), "upgrade probe-rnn"),
    (json.dumps({"schema": "one"}), "has schema 'one'"),
    ("[1, 2]", "not a JSON object"),
    ("{broken", "cannot be read"),
    (json.dumps({"stages": [1]}), "stages is not a JSON object"),
    (json.dumps({"stages": {"capture": 3}}), "stages.capture is not a JSON object"),
])
def test_an_unreadable_or_newer_run_json_is_one_line(tmp_path, text, needle) -> None:
    (tmp_path / "run.json").write_text(text)
    with pytest.raises(ReportError, match=needle) as info:
        read_run(tmp_path)
    assert "\n" not in str(info.value)
    assert read_previous_run(tmp_path) is None


def test_a_missing_run_json_says_how_to_make_one(tmp_path) -> None:
    with pytest.raises(ReportError, match="probe a model into it first: out_dir="):
        read_run(tmp_path)  # an empty folder: probing into it is the fix
    assert read_previous_run(tmp_path) is None
    (tmp_path / "notes.txt").write_text("the user's")
    with pytest.raises(ReportError, match="give a folder that `probe` wrote"):
        read_run(tmp_path)  # a folder of the user's: probing into it would be refused
