"""The whole run: capture -> diagnosis -> probing -> attribution -> report, into one run folder.

``run_pipeline`` is what ``probe-rnn probe`` and ``probe-rnn demo`` call, with one
:class:`~probe_rnn.run_settings.RunSettings` that every stage reads. Each stage writes its
output into the run folder (:mod:`probe_rnn.run_folder`) before the next starts, so a crash
late loses nothing earlier and ``probe-rnn report DIR`` can re-render without recomputing.
Probing writes every finished cell to the journal as it finishes, so an interrupted run
(Ctrl-C, kill -9) resumes with the cells it has. ``run.json`` records the model card, the data
card, the settings, the arguments, the probing protocol, the cells (reused, failed) and each
stage's wall time; it is rewritten after every stage (:mod:`probe_rnn.run_stages`). Long
stages report to a :class:`~probe_rnn.progress.Progress`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from probe_rnn import __version__
from probe_rnn.atomic import replacing
from probe_rnn.run_folder import (
    ATTRIBUTION_DIR,
    DIAGNOSIS_CSV,
    RANDOM_STATES_DIR,
    STATES_DIR,
    jsonable,
    read_previous_run,
    write_run,
)
from probe_rnn.run_inputs import check_labels, check_names, data_card, model_card, sample_rows
from probe_rnn.run_probing import measured_probes, probe_states
from probe_rnn.run_settings import RunSettings
from probe_rnn.run_stages import RunContext, clear_stale, reread, reusable_stages

if TYPE_CHECKING:
    from probe_rnn.models import ModelBundle
    from probe_rnn.progress import Progress

__all__ = ["RunResult", "run_pipeline"]

Say = Callable[[str], None]


@dataclass
class RunResult:
    """What a run produced: the folder, the results table and the report path (if built)."""

    out_dir: Path
    results: pd.DataFrame
    diagnosis: pd.DataFrame
    report_path: Path | None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        where = self.report_path or self.out_dir
        return f"<p>probe-rnn run in <code>{where}</code>: {len(self.results)} result rows</p>"


def run_pipeline(
    bundle: ModelBundle,
    df: pd.DataFrame,
    out_dir: str | Path,
    settings: RunSettings | None = None,
    *,
    source: str = "table",
    name: str | None = None,
    arguments: dict[str, Any] | None = None,
    say: Say | None = None,
    progress: Progress | None = None,
    client: Any = None,
    force_out: bool = False,
) -> RunResult:
    """Capture, diagnose, probe, attribute and report ``bundle`` on ``df`` into ``out_dir``.

    Parameters
    ----------
    bundle : ModelBundle
        The trained model with its tokenizer/adapter.
    df : DataFrame
        Columns ``text``, ``label`` and optionally ``split``.
    out_dir : path
        The run folder; complete state stores and reusable stages already in it are reused.
        It is locked for the run (:mod:`probe_rnn.runlock`): a second run into it fails at
        once naming this one's PID.
    settings : RunSettings, optional
        What to compute and how (views, tasks, probes, folds, ...); default
        ``RunSettings()``, e.g. ``RunSettings(tasks=["label"], folds=3)``.
    source, name : str
        The data's origin (for the data card) and the run's name (default: the folder's).
    arguments : dict, optional
        The command line as given (recorded in run.json).
    say : callable, optional
        Receives one short line per finished stage (the CLI prints them).
    progress : Progress, optional
        Shows capture, probing and attribution progress (default: none).
    client : distributed.Client, optional
        Capture shards and probing cells run as tasks on its Dask cluster
        (:mod:`probe_rnn.cluster`); the run folder must be on a filesystem its workers see.
        The results are those of a local run.
    force_out : bool
        Write into ``out_dir`` even when it is an existing folder that holds files and is not
        a probe-rnn run (:mod:`probe_rnn.out_folder`); without it such a folder is refused.
    """
    from probe_rnn.out_folder import claimed_folder
    from probe_rnn.runlock import run_lock

    # a new folder left with nothing written is removed again when the run fails
    with claimed_folder(out_dir, force_out) as out, run_lock(out):
        ctx = _start_run(bundle, df, out, settings or RunSettings(), source, name,
                         arguments, say, progress, client)
        return _run_stages(ctx)


def _start_run(bundle: ModelBundle, df: pd.DataFrame, out: Path, settings: RunSettings,
               source: str, name: str | None, arguments: dict[str, Any] | None,
               say: Say | None, progress: Progress | None, client: Any) -> RunContext:
    """Check every input, sample the rows, write the new run.json and clear stale stages."""
    from probe_rnn.data import ensure_splits
    from probe_rnn.data.probed_rows import choose_rows, split_source
    from probe_rnn.probing.code import run_code
    from probe_rnn.probing.runner import checked_timeout
    from probe_rnn.probing.timelimit import check_timeout
    from probe_rnn.progress import Progress

    check_names(bundle, settings)
    check_timeout(settings.cell_timeout)
    checked_timeout(settings.cell_timeout, settings.jobs, client)  # before any capture
    say = say or (lambda line: None)
    seed = settings.seed
    split = ensure_splits(df, seed=seed)  # checks the table (label column, split values)
    source_of_split, trusted = split_source(df, getattr(bundle, "meta", None), seed)
    df = sample_rows(split, settings.max_rows, seed)
    check_labels(bundle, df, say)
    probed = choose_rows(df, settings.probe_rows, source_of_split, trusted,
                         settings.keep_duplicates)
    if getattr(bundle, "batch_check", None) is None:  # the CLI checked with its own flag
        from probe_rnn.models.batch_dependence import check_batch_dependence

        check_batch_dependence(bundle, df["text"].tolist())
    run = {
        "name": name or out.name,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "probe_rnn_version": __version__,
        "seed": seed,
        "model": model_card(bundle),
        "data": data_card(df, source),
        "probed_rows": probed.card(),
        "settings": settings.to_json(),
        "arguments": jsonable(arguments or {}),
        "stages": {},
    }
    code = run_code(settings.probes, settings.tasks)  # plugin files: edited ones recompute
    if code:
        run["plugin_code"] = code
    run["fingerprint"] = settings.fingerprint(run["model"]["checksum"], run["data"]["checksum"],
                                              code)
    previous = read_previous_run(out)
    reusable = reusable_stages(previous, run["fingerprint"], out)
    clear_stale(out, reusable)
    write_run(out, run)
    say(f"{'rows':<12} {probed.describe()}")
    if probed.duplicates_warning():
        say(probed.duplicates_warning())
    return RunContext(bundle, df, out, settings, probed, run, previous, reusable, say,
                      progress or Progress(quiet=True), client)


def _run_stages(ctx: RunContext) -> RunResult:
    """The stages in order, each reading the run's settings from ``ctx``."""
    stores = _capture_states(ctx)
    diagnosis = _diagnose(ctx, stores["trained"])
    results = probe_states(ctx, stores)
    _attribute(ctx)
    report_path = _build_report(ctx)
    return RunResult(ctx.out, results, diagnosis, report_path, ctx.run["stages"])


def _capture_states(ctx: RunContext) -> dict[str, Any]:
    """The trained model's state store and, with ``random_baseline``, that of the same
    architecture with random weights (a capture reuses a complete store already there)."""
    df, out = ctx.df, ctx.out
    n_models = 2 if ctx.settings.random_baseline else 1
    with ctx.stage("capture", reuse=False) as note, \
            ctx.progress.stage("capture", len(df) * n_models, "rows") as bar:
        stores = {"trained": _capture_in_range(
            ctx, ctx.bundle, out / STATES_DIR, progress=lambda done, total: bar(done))}
        if ctx.settings.random_baseline:
            from probe_rnn.models import build_random_init

            baseline = build_random_init(ctx.bundle, seed=ctx.settings.seed)
            stores["random-init"] = _capture_in_range(
                ctx, baseline, out / RANDOM_STATES_DIR,
                progress=lambda done, total: bar(len(df) + done))
        note(f"{len(df)} rows, {len(stores['trained'].views)} views")
    return stores


def _capture_in_range(ctx: RunContext, bundle: Any, folder: Path, progress: Any) -> Any:
    """:func:`~probe_rnn.capture.capture` into ``folder`` in float16, or in float32, with a
    notice, when the model's states lie beyond float16's range (``probe`` has no dtype option:
    the run stores what it can hold exactly)."""
    from probe_rnn.capture import capture
    from probe_rnn.errors import StorageRangeError

    views = None if ctx.settings.views is None else list(ctx.settings.views)
    options = {"views": views, "notice": ctx.say, "progress": progress, "client": ctx.client,
               "batch_size": ctx.settings.batch_size}
    try:
        return capture(bundle, ctx.df, folder, **options)
    except StorageRangeError as exc:
        ctx.say(f"{'capture':<12} {str(exc).split(':')[0]}: storing float32 instead")
        return capture(bundle, ctx.df, folder, dtype="float32", **options)


def _diagnose(ctx: RunContext, store: Any) -> pd.DataFrame:
    """The model's output-vs-hidden diagnosis, measured by the capture on the states it stored
    (no second pass of the model), written to the run folder for the report (reused when the
    previous run's is reusable)."""
    from probe_rnn.capture.diagnosis import DIAGNOSIS_COLUMNS, stored_diagnosis

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


def _attribute(ctx: RunContext) -> None:
    """Attribute ``attribution_rows`` sentences (a seeded sample), also to the label probes
    the probing stage fitted; with 0 the stage is recorded as skipped."""
    rows = ctx.settings.attribution_rows
    if rows == 0:  # recorded, so the report says it was skipped (not "did not finish")
        ctx.run["stages"]["attribution"] = {"seconds": 0.0, "status": "skipped",
                                            "detail": "attribution_rows=0"}
        write_run(ctx.out, ctx.run)
        return
    from probe_rnn.attribution import attribute

    with ctx.stage("attribution") as note:
        if not note.cached:
            with ctx.progress.stage("attribution", 0, "steps") as bar:
                attribute(ctx.bundle, ctx.df, ctx.out / ATTRIBUTION_DIR, rows=rows,
                          seed=ctx.settings.seed,
                          probes=measured_probes(ctx.out, ctx.settings.first_probe()),
                          progress=lambda done, total, what: bar(done, total))
        note(f"{rows} sentences")


def _build_report(ctx: RunContext) -> Path | None:
    """The HTML report of the run folder (None with ``report=False``)."""
    if not ctx.settings.report:
        return None
    from probe_rnn.report import build_report

    with ctx.stage("report", reuse=False) as note:
        built = build_report(ctx.out, umap=ctx.settings.umap, seed=ctx.settings.seed,
                             progress=ctx.progress)
        report_path = Path(built.path)
        note(str(report_path))
    return report_path
