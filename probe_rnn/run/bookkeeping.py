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

from probe_rnn.interventions.table import INTERVENTIONS_PARQUET
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
from probe_rnn.run_record import RunRecord, StageRecord

if TYPE_CHECKING:
    from probe_rnn.data.probed_rows import ProbedRows
    from probe_rnn.models import ModelBundle
    from probe_rnn.progress import Progress
    from probe_rnn.run.settings import RunSettings

Say = Callable[[str], None]

@dataclass
class RunContext:
    """What every stage of one run reads: the model, the sampled rows, the folder, the
    settings, ``run.json``'s record (``record``) and the previous run's, the reusable stages.

    The record is replaced, never edited: :meth:`save` sets the new one and writes run.json.
    """

    bundle: ModelBundle
    df: pd.DataFrame
    out: Path
    settings: RunSettings
    probed: ProbedRows
    record: RunRecord
    previous: RunRecord | None
    reusable: set[str]
    say: Say
    progress: Progress
    client: Any = None

    def stage(self, name: str, reuse: bool = True) -> StageTimer:
        """The :class:`StageTimer` timer of ``name`` (``reuse=False``: always computed)."""
        return StageTimer(self, name, self.reusable if reuse else set())

    def save(self, record: RunRecord, *, in_place: bool = False) -> None:
        """Make ``record`` the run's record and write it as run.json (``in_place``: best
        effort on a full disk, :func:`~probe_rnn.run_folder.overwrite_run`)."""
        self.record = record
        (overwrite_run if in_place else write_run)(self.out, record)


#: The files a finished stage leaves (all must be there for the stage to be reused).
STAGE_FILES = {
    "diagnosis": (DIAGNOSIS_CSV,),
    "probing": (f"{RESULTS}.parquet", f"{RESULTS}.csv", CELLS_CSV, VALUES_PARQUET),
    "interventions": (INTERVENTIONS_PARQUET,),
    "attribution": (f"{ATTRIBUTION_DIR}/manifest.json",),
}
#: Outputs a stage writes only in some runs (removed with the stage's other outputs).
_OPTIONAL_FILES = {"probing": (f"{TRAIN_ROWS}.parquet", f"{TRAIN_ROWS}.csv")}


def reusable_stages(previous: RunRecord | None, fingerprint: str, out: Path) -> set[str]:
    """Stages a previous run with the same fingerprint finished and whose files are there
    (probing with failed cells is redone: its finished cells come back from the journal and
    the failed ones are tried again, as the journal never keeps them)."""
    if previous is None or previous.fingerprint != fingerprint:
        return set()
    done = {n for n, s in (previous.stages or {}).items() if s.finished}
    if previous.probing is not None and previous.probing.failed:
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

    def __init__(self, ctx: RunContext, name: str,
                 reusable: set[str] | frozenset[str] = frozenset()) -> None:
        self.ctx, self.name, self.say = ctx, name, ctx.say
        self.note = StageNote(cached=name in reusable)

    def __enter__(self) -> StageNote:
        self.start = time.perf_counter()
        self.ctx.save(self.ctx.record.with_stage(self.name, StageRecord(0.0, "running", "")))
        return self.note

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        seconds = round(time.perf_counter() - self.start, 2)
        status = "failed" if exc_type is not None else "reused" if self.note.cached else "done"
        record = self.ctx.record.with_stage(self.name,
                                            StageRecord(seconds, status, self.note.detail))
        try:
            self.ctx.save(record)
        except OSError:
            if exc_type is None:
                raise
            self.ctx.save(record, in_place=True)  # a full disk: the stage's error is reported
        if exc_type is None:
            suffix = " (reused)" if self.note.cached else ""
            self.say(f"{self.name:<12} {seconds:7.1f} s  {self.note.detail}{suffix}")
