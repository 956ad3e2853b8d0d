"""Commands that run studies and write reports: ``probe``, ``demo``, ``report``,
``compare-readouts``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from probe_rnn.commands.common import (
    DataOpt,
    DatasetOpt,
    JobsOpt,
    LabelOpt,
    MaxRowsOpt,
    PluginsOpt,
    QuietOpt,
    SchedulerOpt,
    SeedOpt,
    TextOpt,
    UmapOpt,
    cluster,
    console,
    load_data,
    load_plugins,
    print_failed_cells,
    sample_rows,
    say,
    split_list,
    stdout,
)
from probe_rnn.commands.model_source import ModelSource, model_options
from probe_rnn.progress import Progress


@model_options
def probe_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="The trained model (.pt).")],
    out: Annotated[Path, typer.Option("--out", help="Run folder for stores, results, report.")],
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    text: TextOpt = "text",
    label: LabelOpt = "label",
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
    cell_timeout: Annotated[float, typer.Option(
        help="Seconds one probe (a cell: model, view, task, probe) may run before it is "
             "stopped and reported failed, e.g. a hung plugin; 0 = no limit.")] = 0,
    mdl: Annotated[bool, typer.Option("--mdl/--no-mdl", help="MDL online codelength.")] = True,
    random_baseline: Annotated[bool, typer.Option(
        "--random-baseline/--no-random-baseline",
        help="Also probe the same architecture with random weights.")] = True,
    attribution_rows: Annotated[int, typer.Option(
        "--attribution-rows", help="Sentences to attribute (0 skips attribution).")] = 24,
    umap: UmapOpt = True,
    plugins: PluginsOpt = None,
    scheduler: SchedulerOpt = None,
    source: ModelSource = ModelSource(),
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Capture every state, probe what each carries, attribute, and write the HTML report."""
    from probe_rnn.pipeline import run_pipeline
    from probe_rnn.probing import headline_table

    with cluster(scheduler) as client:
        load_plugins(plugins)
        bundle = source.load(checkpoint)
        df, origin = load_data(data, dataset, text, label)
        arguments = {"command": "probe", "checkpoint": str(checkpoint), "folds": folds,
                     "seeds": seeds, "max_rows": max_rows, "probes": probes, "tasks": tasks,
                     "views": views, "probe_rows": probe_rows}
        result = run_pipeline(
            bundle, df, out, source=origin, views=split_list(views, "--views"),
            tasks=split_list(tasks, "--tasks"), probes=split_list(probes, "--probes"),
            folds=folds, seeds=seeds, max_rows=max_rows,
            jobs=jobs, mdl=mdl, precision=precision, probe_rows=probe_rows,
            cell_timeout=cell_timeout or None,
            random_baseline=random_baseline,
            attribution_rows=attribution_rows, umap=umap, seed=seed, arguments=arguments,
            say=say, progress=Progress(quiet=quiet), client=client,
        )
    stdout().print(headline_table(result.results))
    print_failed_cells(result.results)
    typer.echo(f"report: {result.report_path or result.out_dir}")


def demo_cmd(
    out: Annotated[Path, typer.Option("--out", help="Run folder of the demo.")] = Path(
        "reports/demo"
    ),
    retrain: Annotated[bool, typer.Option(help="Train again even if the model exists.")] = False,
    umap: UmapOpt = True,
    jobs: JobsOpt = -1,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Train a 2-layer BiLSTM on bundled names (or reuse it), probe it and write the report."""
    from probe_rnn.demo import run_demo

    say(f"probe-rnn demo -> {out}")
    result = run_demo(out, seed=seed, umap=umap, retrain=retrain, jobs=jobs, say=say,
                      progress=Progress(quiet=quiet))
    print_failed_cells(result.results)
    typer.echo(f"report: {result.report_path or result.out_dir}")


def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `probe` or `demo`.")],
    umap: UmapOpt = True,
    out: Annotated[Path | None, typer.Option(
        "--out", help="HTML file to write (default: RUN_DIR/index.html).", show_default=False)
    ] = None,
    seed: SeedOpt = 0,
) -> None:
    """Re-render the HTML report from a run folder's files, without recomputing anything."""
    from probe_rnn.report import build_report

    report = build_report(run_dir, umap=umap, out=out, seed=seed)
    typer.echo(f"report: {report.path}")


def compare_readouts_cmd(
    out: Annotated[Path, typer.Option("--out", help="Report folder (index.html + csv tables).")],
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    text: TextOpt = "text",
    label: LabelOpt = "label",
    rnn: Annotated[str, typer.Option(help="Recurrent cell: lstm, gru, rnn, rnn-relu.")] = "lstm",
    layers: Annotated[int, typer.Option(help="Stacked recurrent layers.")] = 2,
    hidden: Annotated[int, typer.Option(help="Hidden size per direction.")] = 64,
    bidirectional: Annotated[bool, typer.Option(
        "--bidirectional/--no-bidirectional", help="Add a backward direction.")] = True,
    tokenizer: Annotated[str, typer.Option(help="Tokens: char or word.")] = "char",
    embedding_dim: Annotated[int, typer.Option("--embedding-dim", help="Embedding size.")] = 64,
    readouts: Annotated[str, typer.Option(
        help="Comma-separated readouts: last, hidden, mean, max, naive-last.")
    ] = "last,hidden,mean,max,naive-last",
    seeds: Annotated[int, typer.Option(help="Training seeds per readout (paired).")] = 3,
    epochs: Annotated[int | None, typer.Option(
        help="Epochs per run (early stopping on dev accuracy); default 8.", show_default=False)
    ] = None,
    jobs: Annotated[int, typer.Option(help="Parallel training processes (joblib).")] = 2,
    packed: Annotated[bool, typer.Option(
        "--packed/--padded", help="Run the RNN on packed sequences or the padded batch.")] = True,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Rows per batch.")] = 64,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 3e-3,
    patience: Annotated[int, typer.Option(help="Epochs without dev gain before stopping.")] = 3,
    probe: Annotated[bool, typer.Option(
        "--probe/--no-probe", help="Probe label bits in output@last, h_n, c_n per model.")
    ] = True,
    max_rows: MaxRowsOpt = None,
    scheduler: SchedulerOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Train one model per readout and seed, compare test accuracy, write the report."""
    import time

    from rich.progress import Progress
    from rich.table import Table

    from probe_rnn.report.readouts import write_readout_report
    from probe_rnn.studies import DEFAULT_EPOCHS, compare_readouts, parse_readouts

    names = parse_readouts(readouts)
    started = time.perf_counter()
    with cluster(scheduler) as client, Progress(console=console, transient=True) as bar:
        df, source = load_data(data, dataset, text, label)
        df = sample_rows(df, max_rows, seed)
        task = bar.add_task("training", total=len(names) * max(seeds, 1))

        def _progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=f"trained {what}")

        study = compare_readouts(
            df, rnn=rnn, layers=layers, hidden=hidden, bidirectional=bidirectional,
            readouts=names, seeds=seeds, epochs=epochs or DEFAULT_EPOCHS, packed=packed,
            jobs=jobs, seed=seed, probe=probe, progress=_progress, tokenizer=tokenizer,
            embedding_dim=embedding_dim, batch_size=batch_size, lr=lr, patience=patience,
            client=client,
        )
    study.settings["source"] = source
    path = write_readout_report(study, out)
    table = Table(title=f"test accuracy over {seeds} seed(s), {source}")
    for column in ("readout", "mean test acc", "95% CI", "verdict vs best"):
        table.add_column(column)
    for row in study.summary.itertuples():
        ci = "–" if row.ci_low != row.ci_low else f"{row.ci_low:.1%} to {row.ci_high:.1%}"
        table.add_row(row.readout, f"{row.mean:.1%}", ci, row.vs_best)
    stdout().print(table)
    typer.echo(study.answer()[-1])
    typer.echo(f"wall time: {time.perf_counter() - started:.1f} s")
    typer.echo(f"report: {path}")

