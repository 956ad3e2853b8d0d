"""The run folder: the names of its files, ``run.json`` and the columns of its results table.

This module is the one place that writes and reads ``run.json`` (:func:`write_run`,
:func:`read_run`, :func:`read_previous_run`), as a :class:`~probe_rnn.run_record.RunRecord`;
the file carries :data:`RUN_SCHEMA`, and a ``run.json`` of a newer schema is refused with a
one-line error (by :meth:`RunRecord.from_dict <probe_rnn.run_record.RunRecord.from_dict>`)
rather than misread. A ``run.json`` without a schema number is from before schemas were
recorded and reads as schema 1.

A run folder knows it is one: every command that writes a folder (``probe``, ``demo``,
``capture``, ``attribute``, ``compare-readouts``) first writes :data:`RUN_MARKER` into it, and
only a folder holding that marker (or an empty or new one) is written into;
:mod:`probe_rnn.run.out_folder` holds the checks (``--force-out`` writes into another folder).
"""

from __future__ import annotations

import json
from pathlib import Path

from probe_rnn.atomic import write_text
from probe_rnn.errors import Mention, ReportError
from probe_rnn.run_record import RunRecord

#: The run marker, written first into every folder probe-rnn writes
#: (:mod:`probe_rnn.run.out_folder`).
RUN_MARKER = ".probe-rnn-run"
#: The run's record: cards, settings, probing protocol, stages (rewritten after each stage).
RUN_JSON = "run.json"
#: Stem of the probing results (``results.parquet`` and ``results.csv``).
RESULTS = "results"
#: One row per probing cell (status, reason, protocol, seconds, journal key).
CELLS_CSV = "cells.csv"
#: The model's own diagnosis (one row per module and check).
DIAGNOSIS_CSV = "diagnosis.csv"
#: The long table: every per-split value and bootstrap resample behind the intervals.
VALUES_PARQUET = "values.parquet"
#: Stem of the label probe's results on training rows (beside the held-out ones).
TRAIN_ROWS = "train-rows"
#: Finished probing cells, one JSON file each, keyed on their settings.
JOURNAL_DIR = "journal"
#: The state stores of the trained model and of its random-weights baseline.
STATES_DIR = "states"
RANDOM_STATES_DIR = "states-random"
#: Attribution tables and their ``manifest.json``.
ATTRIBUTION_DIR = "attribution"
#: The HTML report.
REPORT_HTML = "index.html"

#: Column order of the tidy probing results table (CONTRACTS.md "Results table").
RESULT_COLUMNS: list[str] = [
    "model", "view", "view_kind", "layer", "direction", "t", "task", "task_kind", "probe",
    "metric", "value", "ci_low", "ci_high", "chance", "n_train", "n_test", "folds", "seeds",
    "seed",
]
#: The columns a results table must have to be read at all.
REQUIRED_RESULT_COLUMNS = frozenset({"model", "view", "task", "probe", "metric", "value"})


def write_run(folder: Path, run: RunRecord) -> None:
    """Write ``run`` (with :data:`RUN_SCHEMA`) atomically as the folder's ``run.json``."""
    write_text(Path(folder) / RUN_JSON, json.dumps(run.to_dict(), indent=2))


def overwrite_run(folder: Path, run: RunRecord) -> None:
    """Best effort, after a failure on a full disk: rewrite ``run.json`` in place (the atomic
    write needs room for a second copy); if even that fails it keeps its last content."""
    try:
        with open(Path(folder) / RUN_JSON, "r+", encoding="utf-8") as handle:
            handle.write(json.dumps(run.to_dict(), indent=2))
            handle.truncate()
    except OSError:
        pass


def read_run(folder: Path) -> RunRecord:
    """The folder's ``run.json``.

    Raises
    ------
    ReportError
        It is missing, unreadable, not a JSON object, or of a newer schema than this version
        of probe-rnn reads.
    """
    path = Path(folder) / RUN_JSON
    if not path.is_file():
        if not Path(folder).is_dir() or not any(Path(folder).iterdir()):  # free to probe into
            raise ReportError(f"{path} is missing: {folder} is not a probe run folder (probe a "
                              "model into it first: ", Mention("out_dir", str(folder)), ")")
        raise ReportError(f"{path} is missing: {folder} is not a probe run folder: give a folder "
                          "that `probe` wrote (or probe a model into a new folder first)")
    try:
        parsed = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path} cannot be read ({exc}): re-run the probe stage") from exc
    return RunRecord.from_dict(parsed, str(path))


def read_previous_run(folder: Path) -> RunRecord | None:
    """The folder's ``run.json`` if it can be read (else None: nothing is reused from it)."""
    try:
        return read_run(folder)
    except ReportError:
        return None

