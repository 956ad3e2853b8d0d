"""StageTimer records each stage in run.json through the typed record: running while it runs,
then done/reused/failed with its seconds and detail; on a disk too full for the atomic write
the failure is still recorded in place."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from probe_rnn.progress import Progress
from probe_rnn.run import bookkeeping
from probe_rnn.run.bookkeeping import RunContext
from probe_rnn.run_record import RunRecord


def _ctx(tmp_path, said: list[str], reusable: set[str]) -> RunContext:
    return RunContext(bundle=None, df=pd.DataFrame(), out=tmp_path, settings=None,
                      probed=None, record=RunRecord(name="x", stages={}), previous=None,
                      reusable=reusable, say=said.append, progress=Progress(quiet=True))


def _on_disk(tmp_path) -> dict:
    return json.loads((tmp_path / "run.json").read_text())["stages"]


def test_a_stage_is_running_then_done_or_reused(tmp_path) -> None:
    said: list[str] = []
    ctx = _ctx(tmp_path, said, {"probing"})
    with ctx.stage("diagnosis") as note:
        assert _on_disk(tmp_path)["diagnosis"] == {"seconds": 0.0, "status": "running",
                                                   "detail": ""}
        note("3 checks")
    with ctx.stage("probing") as note:
        assert note.cached
        note("9 cells")
    stages = _on_disk(tmp_path)
    assert list(stages) == ["diagnosis", "probing"]
    assert (stages["diagnosis"]["status"], stages["diagnosis"]["detail"]) == ("done", "3 checks")
    assert stages["probing"]["status"] == "reused" and said[-1].endswith("9 cells (reused)")
    assert ctx.record.stage("probing").status == "reused"
    assert {n: s.to_dict() for n, s in ctx.record.stages.items()} == stages


def test_a_failing_stage_is_recorded_failed_even_on_a_full_disk(tmp_path, monkeypatch) -> None:
    ctx = _ctx(tmp_path, [], set())
    with pytest.raises(RuntimeError, match="boom"), ctx.stage("capture"):
        def full(folder, run) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(bookkeeping, "write_run", full)  # the atomic write has no room
        raise RuntimeError("boom")
    assert _on_disk(tmp_path)["capture"]["status"] == "failed"  # written in place
    assert ctx.record.stage("capture").status == "failed"
