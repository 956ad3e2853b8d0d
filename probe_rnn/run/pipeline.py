"""The whole run: capture -> diagnosis -> probing -> attribution -> report, into one run folder.

:func:`probe` is the run in one call (a model or its path, a table, a dataset name or a file),
what ``probe-rnn probe`` and ``probe-rnn demo`` call too, with one
:class:`~probe_rnn.run.settings.RunSettings` that every stage reads. Each stage writes its
output into the run folder (:mod:`probe_rnn.run_folder`) before the next starts, so a crash
late loses nothing earlier and ``probe-rnn report DIR`` can re-render without recomputing.
Probing writes every finished cell to the journal as it finishes, so an interrupted run
(Ctrl-C, kill -9) resumes with the cells it has. ``run.json`` records the model card, the data
card, the settings, the arguments, the probing protocol, the cells (reused, failed) and each
stage's wall time; it is rewritten after every stage (:mod:`probe_rnn.run.bookkeeping`). Long
stages report to a :class:`~probe_rnn.progress.Progress`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from probe_rnn import __version__
from probe_rnn.atomic import jsonable
from probe_rnn.data import ensure_splits, list_datasets, load_dataset, model_inputs, read_table
from probe_rnn.data.probed_rows import choose_rows, split_source
from probe_rnn.data.sampling import sample_table
from probe_rnn.errors import ConfigError, Mention
from probe_rnn.models import ModelBundle, load_model
from probe_rnn.models.batch_dependence import check_batch_dependence
from probe_rnn.probing.code import run_code
from probe_rnn.probing.timelimit import checked_timeout
from probe_rnn.progress import Progress
from probe_rnn.report.compiled_umap import warm_in_background
from probe_rnn.report.opening import Answer
from probe_rnn.run import stages
from probe_rnn.run.bookkeeping import RunContext, clear_stale, reusable_stages
from probe_rnn.run.inputs import (
    check_labels,
    check_names,
    data_card,
    model_card,
    setting_tasks,
)
from probe_rnn.run.lock import run_lock
from probe_rnn.run.out_folder import claimed_folder
from probe_rnn.run.settings import RunSettings
from probe_rnn.run_folder import read_previous_run, write_run
from probe_rnn.run_record import RunRecord, StageRecord

Say = Callable[[str], None]


@dataclass
class RunResult:
    """What a run produced: the folder, the results table, the report path (if built), each
    stage's record (seconds, status, detail) and the report's opening answer (``answer.plain``
    in plain words; None without a report)."""

    out_dir: Path
    results: pd.DataFrame
    diagnosis: pd.DataFrame
    report_path: Path | None
    stages: dict[str, StageRecord] = field(default_factory=dict)
    answer: Answer | None = None

    def _repr_html_(self) -> str:
        """The answer (`view` names as ``<code>``) and a ``file:`` link to the report."""
        from probe_rnn.report.build import file_link
        from probe_rnn.report.page import codespans

        where = file_link(self.report_path or self.out_dir)
        answer = f"<p>{codespans(self.answer.text)}</p>" if self.answer else ""
        label = "report" if self.report_path else "run folder"
        return (f"<div><b>probe-rnn run</b>: {len(self.results)} result rows; {label} "
                f"{where}{answer}</div>")


def probe(
    model: ModelBundle | str | Path,
    data: pd.DataFrame | str | Path,
    out: str | Path,
    settings: RunSettings | None = None,
    *,
    progress: bool | Progress = False,
    client: Any = None,
    force_out: bool = False,
    name: str | None = None,
    source: str | None = None,
    arguments: dict[str, Any] | None = None,
    say: Say | None = None,
    **options: Any,
) -> RunResult:
    """Capture, diagnose, probe, attribute and report ``model`` on ``data`` into the run
    folder ``out``: ``probe-rnn probe`` (and the demo's run) in Python.

    Parameters
    ----------
    model : ModelBundle or path
        A loaded model (:func:`probe_rnn.load_model`, with its flags for a foreign model), or a
        probe-rnn checkpoint's path.
    data : DataFrame, str or path
        A table with columns ``text``, ``label`` and optionally ``split``; the name of a bundled
        dataset (:func:`probe_rnn.list_datasets`); or a table file (csv, tsv, jsonl, parquet).
    out : path
        The run folder; complete stores and reusable stages in it are reused. It is locked for
        the run (:mod:`probe_rnn.run.lock`); a folder holding files probe-rnn did not write is
        refused unless ``force_out`` (:mod:`probe_rnn.run.out_folder`).
    settings : RunSettings, optional
        What to compute (default ``RunSettings()``), or its fields as keywords:
        ``probe(m, df, "runs/m", tasks=["label"], folds=3)`` (not both).
    progress : bool or Progress
        Show each stage's progress (done/total, ETA) on stderr; default: quiet.
    client : distributed.Client, optional
        Capture shards and probing cells run on its Dask cluster (:mod:`probe_rnn.cluster`),
        with the results of a local run; the folder must be one its workers see.
    name, source, arguments, say : optional
        The run's name (default: the folder's); the data's origin for the data card (default:
        the dataset's name or the file's path, ``"table"`` for a DataFrame); how the run was
        asked for, for run.json (the CLI's command line); a callable that receives one short
        line per finished stage (the CLI prints them).

    Returns
    -------
    RunResult
        The folder, the tidy results table, the diagnosis, the report's path and its answer.
    """
    settings = _settings_of(settings, options)
    bundle, model_name = _as_bundle(model)
    df, origin = _as_table(data)
    source = source or origin
    shown = progress if isinstance(progress, Progress) else Progress(quiet=not progress)
    asked = {"function": "probe", "model": model_name, "data": source} if arguments is None \
        else arguments
    # a new folder left with nothing written is removed again when the run fails
    with claimed_folder(out, force_out) as folder, run_lock(folder):
        return _run_stages(_start_run(bundle, df, folder, settings, source, name, asked, say,
                                      shown, client))


def _settings_of(settings: RunSettings | None, options: dict[str, Any]) -> RunSettings:
    """The settings object, or one made of its fields given as keywords (not both)."""
    if settings is not None and options:
        raise ConfigError("give either ", Mention("settings"), " or its fields as keywords, not "
                          f"both (got settings and {', '.join(sorted(options))})")
    return settings if settings is not None else RunSettings.from_json(options)


def _as_bundle(model: Any) -> tuple[ModelBundle, str]:
    if isinstance(model, str | Path):
        return load_model(model), str(model)
    if not hasattr(model, "adapter") or not hasattr(model, "model"):
        raise ConfigError(f"model must be a ModelBundle (probe_rnn.load_model(...)) or a "
                          f"checkpoint's path, got {type(model).__name__}: load it with "
                          "probe_rnn.load_model")
    return model, type(model.model).__name__


def _as_table(data: Any) -> tuple[pd.DataFrame, str]:
    if isinstance(data, pd.DataFrame):
        return data, "table"
    if isinstance(data, str | Path):
        if isinstance(data, str) and data in list_datasets():
            return load_dataset(data), f"dataset:{data}"
        return read_table(data), str(data)
    raise ConfigError(f"data must be a DataFrame, a bundled dataset's name or a table file, "
                      f"got {type(data).__name__}")


def _start_run(bundle: ModelBundle, df: pd.DataFrame, out: Path, settings: RunSettings,
               source: str, name: str | None, arguments: dict[str, Any] | None,
               say: Say | None, progress: Progress | None, client: Any) -> RunContext:
    """Check every input, sample the rows, write the new run.json and clear stale stages."""
    if getattr(bundle, "output_kind", "logits") is None:  # a collate's model: its first batch
        bundle.settle_output_kind(model_inputs(df))
    check_names(bundle, settings)
    settings = setting_tasks(bundle, settings)
    checked_timeout(settings.cell_timeout, settings.jobs, client)  # before any capture
    say = say or (lambda line: None)
    seed = settings.seed
    split = ensure_splits(df, seed=seed)  # checks the table (label column, split values)
    source_of_split, trusted = split_source(df, getattr(bundle, "meta", None), seed)
    df = sample_table(split, settings.max_rows, seed)
    check_labels(bundle, df, say)
    probed = choose_rows(df, settings.probe_rows, source_of_split, trusted,
                         settings.keep_duplicates)
    if getattr(bundle, "batch_check", None) is None:  # the CLI checked with its own flag
        check_batch_dependence(bundle, model_inputs(df))
    model, data = model_card(bundle), data_card(df, source)
    code = run_code(settings.probes, settings.tasks)  # plugin files: edited ones recompute
    record = RunRecord(
        name=name or out.name,
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        probe_rnn_version=__version__, seed=seed, model=model, data=data,
        probed_rows=probed.card(), settings=settings.to_json(),
        arguments=jsonable(arguments or {}), stages={}, plugin_code=code or None,
        fingerprint=settings.fingerprint(model["checksum"], data["checksum"], code),
    )
    previous = read_previous_run(out)
    reusable = reusable_stages(previous, record.fingerprint or "", out)
    clear_stale(out, reusable)
    write_run(out, record)
    say(f"{'rows':<12} {probed.describe()}")
    if probed.duplicates_warning():
        say(probed.duplicates_warning())
    return RunContext(bundle, df, out, settings, probed, record, previous, reusable, say,
                      progress or Progress(quiet=True), client)


def _run_stages(ctx: RunContext) -> RunResult:
    """The stages in order (:mod:`probe_rnn.run.stages`), each reading the run's settings from
    ``ctx`` and writing its output into the run folder before the next starts."""
    if ctx.settings.report and ctx.settings.umap:
        warm_in_background()  # umap-learn's compile, on a spare core, before the report
    stores = stages.capture(ctx)
    diagnosis = stages.diagnosis(ctx, stores["trained"])
    results = stages.probing(ctx, stores)
    stages.interventions(ctx)
    stages.attribution(ctx)
    report = stages.report(ctx)
    return RunResult(ctx.out, results, diagnosis, None if report is None else Path(report.path),
                     dict(ctx.record.stages or {}), None if report is None else report.answer)
