"""The bookkeeping of a run's stages: which files each stage writes, which stages a previous
run with the same fingerprint left reusable, clearing the stale ones before any work, and
:class:`StageTimer`, which times a stage and records it in ``run.json``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from probe_rnn.run_folder import (
    ATTRIBUTION_DIR,
    CELLS_CSV,
    DIAGNOSIS_CSV,
    REPORT_HTML,
    RESULTS,
    TRAIN_ROWS,
    VALUES_PARQUET,
    overwrite_run,
    write_run,
)

if TYPE_CHECKING:
    from probe_rnn.data.probed_rows import ProbedRows
    from probe_rnn.models import ModelBundle
    from probe_rnn.progress import Progress
    from probe_rnn.run.settings import RunSettings

__all__ = ["RunContext", "STAGE_FILES", "StageNote", "StageTimer", "reusable_stages", "clear_stale",
           "reread"]

Say = Callable[[str], None]

@dataclass
class RunContext:
    """What every stage of one run reads: the model, the sampled rows, the folder, the
    settings, ``run.json``'s record (``run``) and the previous run's, the reusable stages."""

    bundle: ModelBundle
    df: pd.DataFrame
    out: Path
    settings: RunSettings
    probed: ProbedRows
    run: dict[str, Any]
    previous: dict[str, Any] | None
    reusable: set[str]
    say: Say
    progress: Progress
    client: Any = None

    def stage(self, name: str, reuse: bool = True) -> StageTimer:
        """The :class:`StageTimer` timer of ``name`` (``reuse=False``: always computed)."""
        return StageTimer(self.run, self.out, name, self.say, self.reusable if reuse else set())


#: The files a finished stage leaves (all must be there for the stage to be reused).
STAGE_FILES = {
    "diagnosis": (DIAGNOSIS_CSV,),
    "probing": (f"{RESULTS}.parquet", f"{RESULTS}.csv", CELLS_CSV, VALUES_PARQUET),
    "attribution": (f"{ATTRIBUTION_DIR}/manifest.json",),
}
#: Outputs a stage writes only in some runs (removed with the stage's other outputs).
_OPTIONAL_FILES = {"probing": (f"{TRAIN_ROWS}.parquet", f"{TRAIN_ROWS}.csv")}


def reusable_stages(previous: dict[str, Any] | None, fingerprint: str, out: Path) -> set[str]:
    """Stages a previous run with the same fingerprint finished and whose files are there
    (probing with failed cells is redone: its finished cells come back from the journal and
    the failed ones are tried again, as the journal never keeps them)."""
    if not previous or previous.get("fingerprint") != fingerprint:
        return set()
    stages = previous.get("stages", {})
    done = {n for n, s in stages.items() if s.get("status") in ("done", "reused")}
    if (previous.get("probing") or {}).get("failed_cells"):
        done.discard("probing")
    return {
        stage
        for stage, files in STAGE_FILES.items()
        if stage in done and all((out / f).exists() for f in files)
    }


def clear_stale(out: Path, reusable: set[str]) -> None:
    """Remove the outputs of stages this run will redo, and the old report, before any work:
    a run that fails half-way never leaves earlier results presented under its new run.json.
    (Finished probing cells stay in the journal, keyed on their own settings.)"""
    stale = [f for stage, files in (*STAGE_FILES.items(), *_OPTIONAL_FILES.items())
             if stage not in reusable for f in files]
    for name in [*stale, REPORT_HTML]:
        (out / name).unlink(missing_ok=True)


class StageNote:
    """Handed to a stage body: call it with a detail line; ``cached`` says to reuse files."""

    def __init__(self, cached: bool) -> None:
        self.cached = cached
        self.detail = ""

    def __call__(self, detail: str) -> None:
        self.detail = detail


def reread(note: StageNote, say: Say, name: str, read: Callable[[], pd.DataFrame]
           ) -> pd.DataFrame | None:
    """A reusable stage's saved table, or None (not reusable, or it does not parse: then the
    stage is recomputed, with a one-line notice, instead of failing on a damaged file)."""
    if not note.cached:
        return None
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - pyarrow/pandas raise many types on bad files
        say(f"{name} cannot be read ({type(exc).__name__}); recomputing it")
        note.cached = False
        return None


class StageTimer:
    """Time one stage, record it in run.json, and report a line when it ends.

    run.json says ``running`` while the stage runs, then ``done``/``reused`` or ``failed``; a
    run that dies (kill -9, or a disk too full even for run.json) leaves ``running``, which is
    never taken for finished.
    """

    def __init__(self, run: dict[str, Any], out: Path, name: str, say: Say,
                 reusable: set[str] | frozenset[str] = frozenset()) -> None:
        self.run, self.out, self.name, self.say = run, out, name, say
        self.note = StageNote(cached=name in reusable)

    def __enter__(self) -> StageNote:
        self.start = time.perf_counter()
        self.run["stages"][self.name] = {"seconds": 0.0, "status": "running", "detail": ""}
        write_run(self.out, self.run)
        return self.note

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        seconds = round(time.perf_counter() - self.start, 2)
        status = "failed" if exc_type is not None else "reused" if self.note.cached else "done"
        self.run["stages"][self.name] = {
            "seconds": seconds, "status": status, "detail": self.note.detail,
        }
        try:
            write_run(self.out, self.run)
        except OSError:
            if exc_type is None:
                raise
            overwrite_run(self.out, self.run)  # a full disk: the stage's error is reported
        if exc_type is None:
            suffix = " (reused)" if self.note.cached else ""
            self.say(f"{self.name:<12} {seconds:7.1f} s  {self.note.detail}{suffix}")
