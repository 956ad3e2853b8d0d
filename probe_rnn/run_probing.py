"""The probing stage of a run: every cell (:func:`~probe_rnn.probing.run_probes`), the label
probe on training rows, and what the stage writes (results, ``values.parquet``, ``cells.csv``)
and records in ``run.json``; also the fitted label probes it leaves for attribution."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from probe_rnn.atomic import replacing
from probe_rnn.run_folder import (
    CELLS_CSV,
    JOURNAL_DIR,
    RESULTS,
    TRAIN_ROWS,
    VALUES_PARQUET,
    jsonable,
)
from probe_rnn.run_stages import RunContext, reread

if TYPE_CHECKING:
    from probe_rnn.data.probed_rows import ProbedRows
    from probe_rnn.run_settings import RunSettings

__all__ = ["probe_states", "measured_probes"]


def probe_states(ctx: RunContext, stores: dict[str, Any]) -> pd.DataFrame:
    """The probing stage: reuse the previous run's results when they are reusable and
    readable, else probe every cell (reusing finished cells from the journal) and save."""
    out = ctx.out
    with ctx.stage("probing") as note:
        results = reread(note, ctx.say, f"{RESULTS}.parquet",
                         lambda: pd.read_parquet(out / f"{RESULTS}.parquet"))
        if results is not None:
            ctx.run["probing"] = (ctx.previous or {}).get("probing", {})
            results.attrs.update(ctx.run["probing"])  # failed cells, protocol: as computed
        else:
            results = _probe_and_save(ctx, stores)
            ctx.run["probing"] = _probing_card(results)
        note(_probing_note(results))
    return results


def _probe_and_save(ctx: RunContext, stores: dict[str, Any]) -> pd.DataFrame:
    from probe_rnn.probing import run_probes, save_results

    s, out = ctx.settings, ctx.out
    shared = dict(folds=s.folds, seeds=s.seeds, jobs=s.jobs, seed=s.seed,
                  precision=s.precision, journal=out / JOURNAL_DIR,
                  cell_timeout=s.cell_timeout, client=ctx.client)
    with ctx.progress.stage("probing", 0, "cells") as bar:
        results, values = run_probes(
            stores, views=_names(s.views), tasks=_names(s.tasks), probes=s.probes, mdl=s.mdl,
            rows=ctx.probed.index, progress=bar, return_values=True, **shared)
        training = _training_rows_probe(stores["trained"], ctx.probed, s, **shared)
    if training is not None:
        save_results(training, out, TRAIN_ROWS)
    save_results(results, out, RESULTS)
    with replacing(out / VALUES_PARQUET) as tmp:  # the long table, for paired differences
        values.to_parquet(tmp, index=False)
    table = pd.DataFrame(results.attrs.get("cell_records", []))
    with replacing(out / CELLS_CSV) as tmp:  # one row per cell: status, reason, seconds
        table.to_csv(tmp, index=False)
    return results


def _names(values: tuple[str, ...] | None) -> list[str] | None:
    return None if values is None else list(values)


def _training_rows_probe(store: Any, probed: ProbedRows, settings: RunSettings,
                         **shared: Any) -> pd.DataFrame | None:
    """The label probe (first probe, sentence views, no control or MDL) on as many training
    rows as there are held-out ones (a seeded sample), so the report can set held-out and
    training-row accuracy side by side; None when not probing held-out rows or no label task.
    """
    from probe_rnn.probing import run_probes

    tasks = settings.tasks
    label = "label" if tasks is None or "label" in tasks else None
    if probed.choice != "heldout" or label is None or len(probed.train_index) < 2:
        return None
    names = list(settings.views) if settings.views is not None else store.views
    sentence = [v for v in names if store.kind(v) == "sentence"]
    if not sentence:
        return None
    n = min(len(probed.train_index), len(probed.index))
    rng = np.random.default_rng(shared["seed"])
    rows = np.sort(rng.choice(probed.train_index, size=n, replace=False))
    return run_probes({"trained": store}, views=sentence, tasks=[label],
                      probes=(settings.first_probe(),), rows=rows, mdl=False, control=False,
                      **shared)


def measured_probes(out: Path, probe: str) -> dict[str, Any]:
    """The label probes the probing stage measured (trained model, ``probe``), by view, rebuilt
    from their journal records (:mod:`probe_rnn.probing.exported`); cells.csv, written by the
    probing stage whether it ran or was reused, names the cells and their journal keys."""
    from probe_rnn.probing.exported import import_probe
    from probe_rnn.probing.journal import Journal

    try:
        cells = pd.read_csv(out / CELLS_CSV)
    except (OSError, ValueError):
        return {}
    if "key" not in cells:
        return {}  # a probing stage from before cells kept their probes
    chosen = cells[(cells["model"] == "trained") & (cells["task"] == "label")
                   & (cells["probe"] == probe) & (cells["status"] == "done")]
    book, found = Journal(out / JOURNAL_DIR), {}
    for view, key in zip(chosen["view"], chosen["key"], strict=True):
        record = book.get(str(key))
        if record and record.get("fitted_probe"):
            found[str(view)] = import_probe(record["fitted_probe"])
    return found


def _probing_card(results: pd.DataFrame) -> dict[str, Any]:
    """What run.json records of the probing stage: method, protocol and the cells' fate."""
    attrs = dict(results.attrs)
    records = attrs.pop("cell_records", [])
    card = jsonable(attrs)
    card["protocols"] = {p: sum(r.get("protocol") == p for r in records)
                         for p in sorted({r.get("protocol") or "" for r in records} - {""})}
    return card


def _probing_note(results: pd.DataFrame) -> str:
    a = results.attrs
    text = f"{len(results)} result rows, {a.get('cells', 0)} cells"
    if a.get("reused_cells"):
        text += f" ({a['reused_cells']} reused from the journal)"
    if a.get("unreadable_journal"):
        text += f", {a['unreadable_journal']} unreadable journal file(s) recomputed"
    if a.get("failed_cells"):
        text += f", {len(a['failed_cells'])} FAILED (see cells.csv)"
    return text
