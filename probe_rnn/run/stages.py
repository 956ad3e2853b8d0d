"""The stages of a run, in the order :func:`~probe_rnn.run.pipeline.probe` calls them.

Each stage is one function of the run's :class:`~probe_rnn.run.bookkeeping.RunContext` (and of
what the stage before it produced) that writes its output into the run folder and records itself
in ``run.json``:

1. :func:`capture` -- the trained model's state store (and the random-init baseline's);
2. :func:`diagnosis` -- the output-vs-hidden diagnosis, measured on the stored states;
3. :func:`probing` -- every probing cell, the label probe on training rows, and what the
   stage writes (results, ``values.parquet``, ``cells.csv``);
4. :func:`interventions` -- does the model use its states: erasure, patching, ablation and
   conditional information on the probed rows (``interventions.parquet``);
5. :func:`attribution` -- Captum attributions, also to the label probes the probing stage fitted
   (:func:`measured_probes`);
6. :func:`report` -- the HTML page.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from probe_rnn.atomic import replacing
from probe_rnn.attribution import attribute
from probe_rnn.capture.diagnosis import DIAGNOSIS_COLUMNS, stored_diagnosis
from probe_rnn.capture.manifest import describe_kernel_check, kernel_error
from probe_rnn.capture.run_capture import capture_states
from probe_rnn.capture.store import StateStore
from probe_rnn.capture.views import views_for
from probe_rnn.catalogue import parse_view
from probe_rnn.errors import ProbeRnnError, StorageRangeError
from probe_rnn.models import ModelBundle, build_random_init
from probe_rnn.models.recurrent import first_recurrent, module_kind, recurrent_modules
from probe_rnn.probing import save_results
from probe_rnn.probing.exported import import_probe
from probe_rnn.probing.journal import Journal
from probe_rnn.probing.probe_results import ProbeResults
from probe_rnn.probing.probe_settings import ProbeSettings
from probe_rnn.probing.runner import probe_stores, view_levels
from probe_rnn.probing.state_source import StateSource
from probe_rnn.probing.tasks import DEFAULT_TASKS, get_task
from probe_rnn.report import build_report
from probe_rnn.run.bookkeeping import RunContext, reread
from probe_rnn.run_folder import (
    ATTRIBUTION_DIR,
    CELLS_CSV,
    DIAGNOSIS_CSV,
    JOURNAL_DIR,
    RANDOM_STATES_DIR,
    RESULTS,
    STATES_DIR,
    TRAIN_ROWS,
    VALUES_PARQUET,
)
from probe_rnn.run_record import ProbingCard, StageRecord

if TYPE_CHECKING:
    from probe_rnn.data.probed_rows import ProbedRows
    from probe_rnn.report.build import Report
    from probe_rnn.run.settings import RunSettings


def capture(ctx: RunContext) -> dict[str, StateStore]:
    """The trained model's state store and, with ``random_baseline``, that of the same
    architecture with random weights (a capture reuses a complete store already there)."""
    df, out = ctx.df, ctx.out
    n_models = 2 if ctx.settings.random_baseline else 1
    rows = f"{len(df)} rows × 2 models (trained + random-init)" if n_models == 2 else \
        f"{len(df)} rows"
    unit = f"rows = {rows}" if n_models == 2 else "rows"
    with ctx.stage("capture", reuse=False) as note, \
            ctx.progress.stage("capture", len(df) * n_models, unit) as bar:
        stores = {"trained": _capture_in_range(
            ctx, ctx.bundle, out / STATES_DIR, progress=lambda done, total: bar(done))}
        if ctx.settings.random_baseline:
            baseline = build_random_init(ctx.bundle, seed=ctx.settings.seed)
            stores["random-init"] = _capture_in_range(
                ctx, baseline, out / RANDOM_STATES_DIR,
                progress=lambda done, total: bar(len(df) + done))
        note(f"{rows}, {len(stores['trained'].views)} views; {kernel_check_note(stores)}")
    return stores


def kernel_check_note(stores: dict[str, StateStore]) -> str:
    """``kernel check: ...``: each store's largest |difference| of its recomputed states from
    the fused kernel, named by model when there are several."""
    checks = {name: store.manifest.kernel_check for name, store in stores.items()}
    if len(checks) == 1 or not any(checks.values()):
        return f"kernel check: {describe_kernel_check(next(iter(checks.values())))}"
    errors = ", ".join(f"{name} {kernel_error(check)}" for name, check in checks.items())
    return f"kernel check (largest |difference| from the fused kernel): {errors}"


def _capture_in_range(ctx: RunContext, bundle: ModelBundle, folder: Path, progress: Any
                      ) -> StateStore:
    """:func:`~probe_rnn.capture.capture_states` into ``folder`` in float16, or in float32, with a
    notice, when the model's states lie beyond float16's range (``probe`` has no dtype option:
    the run stores what it can hold exactly)."""
    options = {"views": views_to_capture(ctx.bundle, ctx.settings), "notice": ctx.say,
               "progress": progress, "client": ctx.client,
               "batch_size": ctx.settings.batch_size}
    try:
        return capture_states(bundle, ctx.df, folder, **options)
    except StorageRangeError as exc:
        ctx.say(f"{'capture':<12} {str(exc).split(':')[0]}: storing float32 instead")
        return capture_states(bundle, ctx.df, folder, dtype="float32", **options)


def views_to_capture(bundle: ModelBundle, settings: RunSettings) -> list[str] | None:
    """The views the run's stores hold: those ``settings.views`` names; by default the
    sentence views of the captured module, which are all that probing reads
    (:func:`~probe_rnn.probing.runner.views_to_probe`), and every view (None) only when a task
    is per-token or the module is no fused one. Per-token views of every layer are most of a
    store (``hidden``, ``cell``, ``output`` at each token), so a default run does not write
    them."""
    if settings.views is not None:
        return list(settings.views)
    tasks = [get_task(t) for t in (DEFAULT_TASKS if settings.tasks is None else settings.tasks)]
    found = first_recurrent(bundle.model)
    if found is None or "token" in view_levels(tasks):
        return None
    every: list[str] = []  # every module's: a bare name is stored at each site that has it
    for module in recurrent_modules(bundle.model).values():
        every += views_for(module.num_layers, 2 if module.bidirectional else 1,
                           module_kind(module) == "lstm")
    return [name for name in dict.fromkeys(every) if parse_view(name).kind == "sentence"]


def diagnosis(ctx: RunContext, store: StateStore) -> pd.DataFrame:
    """The model's output-vs-hidden diagnosis, measured by the capture on the states it stored
    (no second pass of the model), written to the run folder for the report (reused when the
    previous run's is reusable)."""
    path = ctx.out / DIAGNOSIS_CSV
    with ctx.stage("diagnosis") as note:
        diagnosis = reread(note, ctx.say, DIAGNOSIS_CSV, lambda: pd.read_csv(path))
        if diagnosis is None:
            diagnosis = stored_diagnosis(store)
            if diagnosis is None:  # a cell loop: no fused output and h_n to compare
                diagnosis = pd.DataFrame(columns=DIAGNOSIS_COLUMNS)
            with replacing(path) as tmp:
                diagnosis.to_csv(tmp, index=False)
        note(f"{len(diagnosis)} checks")
    return diagnosis


def probing(ctx: RunContext, stores: dict[str, StateSource]) -> pd.DataFrame:
    """The probing stage: reuse the previous run's results when they are reusable and
    readable, else probe every cell (reusing finished cells from the journal) and save.
    Returns the tidy table, its ``attrs`` holding the run's probing card."""
    out = ctx.out
    with ctx.stage("probing") as note:
        results = reread(note, ctx.say, f"{RESULTS}.parquet",
                         lambda: pd.read_parquet(out / f"{RESULTS}.parquet"))
        if results is not None:
            previous = ctx.previous.probing if ctx.previous is not None else None
            card = previous if previous is not None else ProbingCard()
            results.attrs.update(card.to_dict())  # failed cells, protocol: as computed
        else:
            found = _probe_and_save(ctx, stores)
            card, results = found.card(), found.to_pandas()
        ctx.record = ctx.record.with_probing(card)
        note(_probing_note(len(results), card))
    return results


def probe_settings(settings: RunSettings) -> ProbeSettings:
    """The run's settings as probing reads them (built once, handed over whole)."""
    return ProbeSettings(views=settings.views, tasks=settings.tasks, probes=settings.probes,
                         folds=settings.folds, seeds=settings.seeds, seed=settings.seed,
                         mdl=settings.mdl, precision=settings.precision, jobs=settings.jobs,
                         cell_timeout=settings.cell_timeout)


def _probe_and_save(ctx: RunContext, stores: dict[str, StateSource]) -> ProbeResults:
    out, wanted = ctx.out, probe_settings(ctx.settings)
    shared = {"journal": out / JOURNAL_DIR, "client": ctx.client}
    with ctx.progress.stage("probing", 0, "cells") as bar:
        found = probe_stores(stores, wanted, rows=ctx.probed.index, progress=bar, **shared)
        training = _training_rows_probe(stores["trained"], ctx.probed, ctx.settings, wanted,
                                        **shared)
    if training is not None:
        save_results(training.to_pandas(), out, TRAIN_ROWS)
    save_results(found.to_pandas(), out, RESULTS)
    with replacing(out / VALUES_PARQUET) as tmp:  # the long table, for paired differences
        found.values.to_parquet(tmp, index=False)
    with replacing(out / CELLS_CSV) as tmp:  # one row per cell: status, reason, seconds
        found.cells_table().to_csv(tmp, index=False)
    return found


def _training_rows_probe(store: StateSource, probed: ProbedRows, settings: RunSettings,
                         wanted: ProbeSettings, **shared: Any) -> ProbeResults | None:
    """The label probe (first probe, sentence views, no control or MDL) on as many training
    rows as there are held-out ones (a seeded sample), so the report can set held-out and
    training-row accuracy side by side; None when not probing held-out rows or no label task.
    """
    tasks = settings.tasks
    label = "label" if tasks is None or "label" in tasks else None
    if probed.choice != "heldout" or label is None or len(probed.train_index) < 2:
        return None
    names = list(settings.views) if settings.views is not None else store.views
    sentence = [v for v in names if store.kind(v) == "sentence"]
    if not sentence:
        return None
    n = min(len(probed.train_index), len(probed.index))
    rng = np.random.default_rng(wanted.seed)
    rows = np.sort(rng.choice(probed.train_index, size=n, replace=False))
    label_only = replace(wanted, views=sentence, tasks=(label,), probes=(settings.first_probe(),),
                         mdl=False, control=False)
    return probe_stores({"trained": store}, label_only, rows=rows, **shared)


def _probing_note(rows: int, card: ProbingCard) -> str:
    text = f"{rows} result rows, {card.cells or 0} cells"
    if card.reused_cells:
        text += f" ({card.reused_cells} reused from the journal)"
    if card.unreadable_journal:
        text += f", {card.unreadable_journal} unreadable journal file(s) recomputed"
    if card.failed:
        text += f", {len(card.failed)} FAILED (see cells.csv)"
    return text


def interventions(ctx: RunContext) -> None:
    """The interventions (:func:`~probe_rnn.interventions.intervene`) on the probed rows, the
    erasers and ablation values fitted on a seeded sample of training rows, written as
    ``interventions.parquet``; with ``interventions=False`` recorded as skipped, and a model or
    table they cannot run on (too few rows, no module the twin replays) noted as not run."""
    if not ctx.settings.interventions:
        ctx.save(ctx.record.with_stage("interventions",
                                       StageRecord(0.0, "skipped", "interventions=False")))
        return
    with ctx.stage("interventions") as note:
        if note.cached:
            note(_intervened_rows(ctx))
            return
        try:
            table = _intervene(ctx)
        except ProbeRnnError as exc:
            note(f"not run: {exc}")
            return
        note(f"{_intervened_rows(ctx)}, {len(table)} table rows")


def _intervened_rows(ctx: RunContext) -> str:
    """The held-out rows the interventions read: every probed row, or past
    :data:`~probe_rnn.interventions.api.MAX_ROWS` a seeded sample of that many."""
    from probe_rnn.interventions.api import MAX_ROWS

    probed = len(ctx.probed.index)
    return (f"{probed} rows" if probed <= MAX_ROWS else
            f"{MAX_ROWS} of the {probed} rows (a seeded sample)")


def _intervene(ctx: RunContext) -> pd.DataFrame:
    """Run :func:`~probe_rnn.interventions.intervene` for the stage and write its table."""
    from probe_rnn.interventions import api
    from probe_rnn.interventions.table import write_interventions

    pool = ctx.probed.train_index
    rng = np.random.default_rng(ctx.settings.seed)
    train = np.sort(rng.choice(pool, min(api.TRAIN_ROWS, len(pool)), replace=False))
    with ctx.progress.stage("interventions", 0, "views") as bar:
        found = api.intervene(ctx.bundle, ctx.df, ctx.probed.index, train_rows=train,
                              seed=ctx.settings.seed, batch_size=ctx.settings.batch_size,
                              max_rows=api.MAX_ROWS,
                              progress=lambda done, total, what: bar(done, total))
    write_interventions(ctx.out, found.table)
    return found.table


def attribution(ctx: RunContext) -> None:
    """Attribute ``attribution_rows`` sentences (a seeded sample), also to the label probes
    the probing stage fitted; with 0 the stage is recorded as skipped."""
    rows = ctx.settings.attribution_rows
    if rows == 0:  # recorded, so the report says it was skipped (not "did not finish")
        ctx.save(ctx.record.with_stage("attribution",
                                       StageRecord(0.0, "skipped", "attribution_rows=0")))
        return
    from probe_rnn.attribution.targets import attribution_target
    from probe_rnn.errors import NoTargetError

    try:
        attribution_target(ctx.bundle, None)
    except NoTargetError as exc:  # an encoder, a pair model: said, not failed
        ctx.say(f"{'attribution':<12} skipped: {str(exc).removeprefix('attribution skipped: ')}")
        ctx.save(ctx.record.with_stage("attribution", StageRecord(0.0, "skipped", str(exc))))
        return
    with ctx.stage("attribution") as note:
        if not note.cached:
            with ctx.progress.stage("attribution", 0, "parts") as bar:
                attribute(ctx.bundle, ctx.df, ctx.out / ATTRIBUTION_DIR, rows=rows,
                          seed=ctx.settings.seed,
                          probes=measured_probes(ctx.out, ctx.settings.first_probe()),
                          progress=lambda done, total, what: bar(done, total))
        note(f"{rows} sentences")


def measured_probes(out: Path, probe: str) -> dict[str, Any]:
    """The label probes the probing stage measured (trained model, ``probe``), by view, rebuilt
    from their journal records (:mod:`probe_rnn.probing.exported`); cells.csv, written by the
    probing stage whether it ran or was reused, names the cells and their journal keys."""
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


def report(ctx: RunContext) -> Report | None:
    """The HTML report of the run folder, with its opening answer (None with
    ``report=False``)."""
    if not ctx.settings.report:
        return None
    with ctx.stage("report", reuse=False) as note:
        built = build_report(ctx.out, umap=ctx.settings.umap, seed=ctx.settings.seed,
                             progress=ctx.progress)
        note(str(built.path))
    return built
