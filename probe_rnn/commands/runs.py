"""Commands that run studies and write reports: ``probe``, ``demo``, ``report``,
``compare-readouts``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from probe_rnn.commands.common import (
    CheckpointArg,
    JobsOpt,
    MaxRowsOpt,
    PluginsOpt,
    QuietOpt,
    SchedulerOpt,
    SeedOpt,
    TableSource,
    UmapOpt,
    cluster,
    console,
    load_plugins,
    option_group,
    print_failed_cells,
    print_wrapped,
    say,
    split_list,
    stdout,
    table_options,
    writes_out,
)
from probe_rnn.commands.model_source import ModelSource, model_options
from probe_rnn.errors import ConfigError, ParameterError
from probe_rnn.progress import Progress

KeepDuplicatesOpt = Annotated[bool, typer.Option(
    "--keep-duplicates", help="Keep held-out rows whose text is also a training row's (removed "
    "by default).")]

CaptureBatchOpt = Annotated[int, typer.Option(
    "--batch-size", help="Rows per forward pass of the capture (a model that reads its padding "
    "sees the same batches).")]

InterventionsOpt = Annotated[bool, typer.Option(
    "--interventions/--no-interventions",
    help="Does the model use its states: erasure, patching, ablation and conditional "
         "information on the probed rows.")]


@writes_out()
@model_options
@table_options
def probe_cmd(
    checkpoint: CheckpointArg,
    out: Annotated[Path, typer.Option("--out", help="Run folder for stores, results, report.")],
    tasks: Annotated[str | None, typer.Option(help="Comma-separated tasks (default: label and "
                     "sentence tasks; see `probe-rnn plugins`).", show_default=False)] = None,
    views: Annotated[str | None, typer.Option(help="Comma-separated state views (default: the "
                     "state catalogue).", show_default=False)] = None,
    probes: Annotated[str, typer.Option(help="Comma-separated probes.")] = "logistic",
    folds: Annotated[int, typer.Option(help="Cross-validation folds (split by sentence).")] = 5,
    seeds: Annotated[int, typer.Option(help="Repeats with different fold seeds.")] = 1,
    max_rows: MaxRowsOpt = None,
    jobs: JobsOpt = -1,
    precision: Annotated[float, typer.Option(
        help="Wanted half-width of each probe's 95% accuracy interval (worst case): decides "
             "K-fold vs one held-out split and the most sentences a probe reads.")] = 0.01,
    probe_rows: Annotated[str, typer.Option(
        help="Rows to probe: heldout (dev + test, rows the model did not train on), train or "
             "all. With heldout, the label probe also runs on as many training rows, to show "
             "the gap (memorisation).")] = "heldout",
    keep_duplicates: KeepDuplicatesOpt = False,
    cell_timeout: Annotated[float, typer.Option(
        help="Seconds one probe (a cell: model, view, task, probe) may run before it is "
             "stopped and reported failed, e.g. a hung plugin; 0 = no limit.")] = 0,
    mdl: Annotated[bool, typer.Option("--mdl/--no-mdl", help="MDL online codelength.")] = True,
    random_baseline: Annotated[bool, typer.Option(
        "--random-baseline/--no-random-baseline",
        help="Also probe the same architecture with random weights.")] = True,
    attribution_rows: Annotated[int, typer.Option(
        "--attribution-rows", help="Sentences to attribute (0 skips attribution).")] = 24,
    interventions: InterventionsOpt = True,
    umap: UmapOpt = True,
    batch_size: CaptureBatchOpt = 256,
    scheduler: SchedulerOpt = None,
    source: ModelSource = ModelSource(),
    table: TableSource = TableSource(),
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Capture every state, probe what each carries, attribute, and write the HTML report."""
    from probe_rnn.probing import headline_table
    from probe_rnn.run.pipeline import probe
    from probe_rnn.run.settings import RunSettings
    settings = RunSettings(
        views=split_list(views, "--views"), tasks=split_list(tasks, "--tasks"),
        probes=split_list(probes, "--probes"), folds=folds, seeds=seeds, max_rows=max_rows,
        precision=precision, probe_rows=probe_rows, mdl=mdl, random_baseline=random_baseline,
        attribution_rows=attribution_rows, seed=seed, jobs=jobs, cell_timeout=cell_timeout,
        umap=umap, keep_duplicates=keep_duplicates, batch_size=batch_size,
        interventions=interventions)
    arguments = {"command": "probe", "checkpoint": str(checkpoint), "folds": folds, "seeds":
                 seeds, "max_rows": max_rows, "probes": probes, "tasks": tasks, "views": views,
                 "probe_rows": probe_rows}
    with cluster(scheduler) as client:
        bundle = source.load(checkpoint, table.texts)  # loads --plugins and ./probes first
        df, origin = table.load()
        source.check_rows(bundle, df)
        result = probe(bundle, df, out, settings, source=origin, arguments=arguments,
                              say=say, progress=Progress(quiet=quiet), client=client)
    stdout().print(headline_table(result.results))
    _print_ending(result)


@writes_out()
def demo_cmd(
    out: Annotated[Path, typer.Option("--out", help="Run folder of the demo.")] = Path(
        "reports/demo"
    ),
    retrain: Annotated[bool, typer.Option(
        help="Train the model and the readouts study again even if they exist.")] = False,
    umap: UmapOpt = True,
    jobs: JobsOpt = -1,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Train a 2-layer BiLSTM on bundled names (or reuse it), run a small readouts study,
    probe it and write the report."""
    from probe_rnn.run.demo import run_demo

    say(f"probe-rnn demo -> {out}")
    result = run_demo(out, seed=seed, umap=umap, retrain=retrain, jobs=jobs, say=say,
                      progress=Progress(quiet=quiet))
    _print_ending(result)


def _print_ending(result: Any) -> None:
    """How ``probe`` and ``demo`` end: the failed cells (stderr), the report's opening answer
    in plain words and the report's path."""
    print_failed_cells(result.results)
    if result.answer is not None:
        print_wrapped(result.answer.plain)
    typer.echo(f"report: {result.report_path or result.out_dir}")


@writes_out("html")
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `probe` or `demo`.")],
    umap: UmapOpt = True,
    out: Annotated[Path | None, typer.Option(
        "--out", help="HTML file to write (default: RUN_DIR/index.html).", show_default=False)
    ] = None,
    plugins: PluginsOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Re-render the HTML report from a run folder's files, without recomputing anything."""
    from probe_rnn.report import build_report

    load_plugins(plugins)  # as every command does: plugin probes and tasks are known
    report = build_report(run_dir, umap=umap, out=out, seed=seed)
    typer.echo(f"report: {report.path}")


@dataclass
class StudyTraining:
    """How ``compare-readouts`` trains each model: architecture and budget (the options)."""

    rnn: str = "lstm"
    layers: int = 2
    hidden: int = 64
    bidirectional: bool = True
    tokenizer: str = "char"
    embedding_dim: int = 64
    epochs: int | None = None
    packed: bool = True
    batch_size: int = 64
    lr: float = 3e-3
    patience: int = 3

    def objects(self) -> dict[str, Any]:
        """The study's ``tokenizer``, ``architecture`` and ``budget`` keywords."""
        from probe_rnn.models.config import split_settings

        architecture, budget, rest = split_settings(asdict(self))
        return {"architecture": architecture, "budget": budget, **rest}


_STUDY_TRAINING_OPTIONS: dict[str, Any] = {
    "rnn": Annotated[str, typer.Option(help="Recurrent cell: lstm, gru, rnn, rnn-relu.")],
    "layers": Annotated[int, typer.Option(help="Stacked recurrent layers.")],
    "hidden": Annotated[int, typer.Option(help="Hidden size per direction.")],
    "bidirectional": Annotated[bool, typer.Option(
        "--bidirectional/--no-bidirectional", help="Add a backward direction.")],
    "tokenizer": Annotated[str, typer.Option(help="Tokens: char or word.")],
    "embedding_dim": Annotated[int, typer.Option("--embedding-dim", help="Embedding size.")],
    "epochs": Annotated[int | None, typer.Option(
        help="Epochs per run (early stopping on the dev score); default 8, 15 for "
             "autoencode.", show_default=False)
    ],
    "packed": Annotated[bool, typer.Option(
        "--packed/--padded", help="Run the RNN on packed sequences or the padded batch.")],
    "batch_size": Annotated[int, typer.Option("--batch-size", help="Rows per batch.")],
    "lr": Annotated[float, typer.Option(help="Adam learning rate.")],
    "patience": Annotated[int, typer.Option(help="Epochs without dev gain before stopping.")],
}


@writes_out()
@option_group(StudyTraining, _STUDY_TRAINING_OPTIONS, "training")
@table_options
def compare_readouts_cmd(
    out: Annotated[Path, typer.Option("--out", help="Report folder (index.html + csv tables).")],
    objective: Annotated[str, typer.Option(
        help="Setting(s) of the question, comma-separated: classify (the head reads the "
             "readout), autoencode (a decoder starts from it), siamese (pairs scored by the "
             "cosine of readouts), or all. Several write one answer page above one study "
             "page each.")] = "classify",
    loss: Annotated[str | None, typer.Option(
        "--loss", help="Siamese losses, comma-separated: mse, contrastive (default both).",
        show_default=False)] = None,
    readouts: Annotated[str | None, typer.Option(
        help="Comma-separated readouts: last, hidden, mean, max, naive-last (and zero for "
             "autoencode); default all of the objective's.", show_default=False)
    ] = None,
    seeds: Annotated[int, typer.Option(help="Training seeds per readout (paired; each seed "
                                             "trains and tests on its own split).")] = 5,
    jobs: Annotated[int, typer.Option(help="Parallel training processes (joblib).")] = 2,
    probe: Annotated[bool, typer.Option(
        "--probe/--no-probe", help="Probe label bits in output@last, h_n, c_n per model.")
    ] = True,
    max_rows: MaxRowsOpt = None,
    scheduler: SchedulerOpt = None,
    table: TableSource = TableSource(),
    training: StudyTraining = StudyTraining(),
    seed: SeedOpt = 0,
) -> None:
    """Train one model per readout and seed in each setting, compare them, write the report."""
    import time

    from rich.progress import Progress

    from probe_rnn.data.sampling import sample_table
    from probe_rnn.studies.question import answer_question

    names, readout_names, losses = _check_study_options(objective, readouts, loss)
    trained_as = training.objects()  # a bad size or budget is refused before any work
    started = time.perf_counter()
    with cluster(scheduler) as client, Progress(console=console, transient=True) as bar:
        df, source = table.load()
        df = sample_table(df, max_rows, seed)
        from probe_rnn.data.splits import check_splittable

        check_splittable(df)  # before any training: a seeded split must give dev rows
        answer = answer_question(
            df, objectives=names, losses=losses, readouts=readout_names, seeds=seeds, jobs=jobs,
            seed=seed, probe=probe, progress=study_progress(bar, names), client=client,
            **trained_as,
            # a bundled dataset's split is a seeded draw: every seed draws its own
            split_per_seed=True if table.dataset is not None else None)
    for study in answer.studies.values():
        study.settings["source"] = source
    path = _write_studies(answer, out, source)
    _print_studies(answer, seeds, source)
    typer.echo(f"wall time: {time.perf_counter() - started:.1f} s")
    typer.echo(f"report: {path}")


def study_progress(bar: Any, settings: list[str]) -> Callable[[str, int, int, str], None]:
    """The study's progress callback on a Rich ``bar``: an overall line (``setting k/N``, the
    settings done plus the current one's share) above the current setting's trained runs."""
    overall = bar.add_task(f"setting 1/{len(settings)}", total=len(settings))
    runs = bar.add_task("training", total=None)

    def progress(setting: str, done: int, total: int, what: str) -> None:
        k = settings.index(setting) if setting in settings else 0
        bar.update(overall, completed=k + done / max(total, 1),
                   description=f"setting {k + 1}/{len(settings)} ({setting})")
        bar.update(runs, completed=done, total=total, description=f"{setting}: trained {what}")

    return progress


def _names(value: str | None) -> list[str] | None:
    """The names of a comma-separated option, blanks dropped and repeats kept (the study
    refuses repeats itself); None stays None."""
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _check_study_options(objective: str, readouts: str | None, loss: str | None
                         ) -> tuple[list[str], list[str] | None, list[str] | None]:
    """The objectives, readouts and losses the options name, as lists (the Python API takes
    lists), with every option error raised before any training (``--readouts`` for each
    objective, ``--loss`` for siamese only)."""
    from probe_rnn.studies import parse_losses, parse_readouts
    from probe_rnn.studies.question import parse_objectives

    split_list(objective, "--objective")  # "," names nothing: the option, not "objective "
    with _as_option("objective", objective):
        names = list(parse_objectives(_names(objective) or []))
    readout_names, losses = _names(readouts), _names(loss)
    for name in names:
        if readout_names is not None:
            with _as_option("readouts", readouts):
                parse_readouts(readout_names, name)
    if losses is not None:
        if "siamese" not in names:
            raise ConfigError("--loss applies to the siamese objective only: add "
                              "--objective siamese or drop --loss")
        with _as_option("loss", loss):
            parse_losses(losses, "siamese")
    return names, readout_names, losses


@contextmanager
def _as_option(parameter: str, typed: str | None) -> Iterator[None]:
    """A study's refusal of the names of an option, as that option's: its ``parameter``
    (rendered as ``--objective``, ``--readouts``, ``--loss``) and the text typed."""
    try:
        yield
    except ParameterError as exc:
        from probe_rnn.validation import shown

        allowed = exc.allowed.replace("a list of names", "comma-separated names")
        raise ParameterError(parameter, allowed, shown(typed), exc.hint) from None


def _print_studies(answer: Any, seeds: int, source: str) -> None:
    """Each setting's table (mean, interval and verdict per readout) and its recommendation."""
    from rich.table import Table

    for name, study in answer.studies.items():
        obj = study.objective
        several = len(study.losses) > 1
        table = Table(title=f"{name}: {obj.metric_label} over {seeds} seed(s), {source}")
        for column in (*(["loss"] if several else []), "readout", f"mean {obj.short}",
                       "95% CI", "verdict vs best"):
            table.add_column(column)
        for row in study.summary.itertuples():
            shown = (lambda x: f"{x:.1%}") if obj.percent else (lambda x: f"{x:.3f}")
            ci = "–" if row.ci_low != row.ci_low else f"{shown(row.ci_low)} to {shown(row.ci_high)}"
            table.add_row(*([str(row.loss)] if several else []), row.readout, shown(row.mean),
                          ci, row.vs_best)
        stdout().print(table)
        from probe_rnn.studies import study_answer
        from probe_rnn.studies.answer import budget_sentence

        for line in (budget_sentence(study), study_answer(study)[-1]):  # caveat, answer
            if line:
                typer.echo(line)


def _write_studies(answer: Any, out: Path, source: str) -> Path:
    """One study: its page in ``out``; several: the answer page above one folder each."""
    from probe_rnn.report.answer_page import write_answer_page
    from probe_rnn.report.readouts import write_readout_report

    if len(answer.studies) == 1:
        return write_readout_report(next(iter(answer.studies.values())), out)
    return write_answer_page(answer, out, source)
