"""The ``probe-rnn`` command line: one Typer app, each command a thin layer over a public function.

Commands parse their arguments, call the library, show progress and print a short result.
Errors the user can fix (:class:`~probe_rnn.errors.ProbeRnnError`) become one line on stderr
and exit code 2; ``--debug`` anywhere on the command line shows the traceback instead.
Heavy imports (torch, sklearn) happen inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from probe_rnn import __version__
from probe_rnn.errors import DataError, ProbeRnnError

if TYPE_CHECKING:
    import pandas as pd

    from probe_rnn.models import ModelBundle

# torch's OpenMP threads busy-wait by default; on a shared 2-core machine that costs up to 40x.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

app = typer.Typer(
    name="probe-rnn",
    help=(
        "Probe and interpret trained recurrent models (RNN, LSTM, GRU): capture every state "
        "exactly, measure what each carries, attribute, and write an HTML report."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console(stderr=True, highlight=False)

# -- options shared by several commands ------------------------------------------------------
DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="Table with texts and labels (.csv .tsv .jsonl .parquet).",
                 show_default=False),
]
DatasetOpt = Annotated[
    str | None,
    typer.Option("--dataset", help="Bundled dataset instead of --data (see `probe-rnn datasets`).",
                 show_default=False),
]
TextOpt = Annotated[str, typer.Option("--text", help="Column holding the text.")]
LabelOpt = Annotated[str, typer.Option("--label", help="Column holding the label.")]
FactoryOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Foreign model: 'package.module:factory' (or 'file.py:factory') that builds the "
        "architecture; the checkpoint then holds its state_dict.",
        show_default=False,
    ),
]
TrustOpt = Annotated[
    bool,
    typer.Option(
        "--trust-checkpoint",
        help="Allow a checkpoint that is a pickled module. Unpickling runs code: only for "
        "files you trust.",
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for every random choice.")]
UmapOpt = Annotated[
    bool, typer.Option("--umap/--no-umap", help="UMAP pictures (PCA with --no-umap).")
]
MaxRowsOpt = Annotated[
    int | None,
    typer.Option("--max-rows", help="Use at most this many rows (a seeded sample).",
                 show_default=False),
]
PluginsOpt = Annotated[
    list[Path] | None,
    typer.Option("--plugins", help="Folder of plugin files (repeatable); ./probes is always read.",
                 show_default=False),
]


def load_data(
    data: Path | None, dataset: str | None, text: str = "text", label: str = "label"
) -> tuple[pd.DataFrame, str]:
    """Read ``--data`` or ``--dataset`` (exactly one) and return the table and its source name."""
    from probe_rnn.data import load_dataset, read_table

    if (data is None) == (dataset is None):
        raise DataError("give exactly one of --data FILE or --dataset NAME")
    if dataset is not None:
        return load_dataset(dataset), f"dataset:{dataset}"
    return read_table(data, text=text, label=label), str(data)


def load_bundle(path: Path, factory: str | None = None, trust: bool = False) -> ModelBundle:
    """Load a checkpoint (ours, a factory's state_dict, or a trusted pickled module)."""
    from probe_rnn.models import load_model

    return load_model(path, factory=factory, trust_checkpoint=trust)


def load_plugins(folders: list[Path] | None) -> None:
    """Load entry points, ``--plugins`` folders and ``./probes`` into the registry."""
    from probe_rnn.plugins import registry

    registry.load_all(folders or [])


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"probe-rnn {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True,
                     help="Print the version and exit."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
    ] = False,
) -> None:
    """Probe and interpret trained recurrent models."""


# -- commands -----------------------------------------------------------------------------------
@app.command("plugins")
def plugins_cmd(plugins: PluginsOpt = None) -> None:
    """List every registered probe, task and adapter with where it came from."""
    from rich.table import Table

    from probe_rnn.plugins import registry

    load_plugins(plugins)
    table = Table(title="probe-rnn plugins")
    table.add_column("kind", no_wrap=True)
    table.add_column("name", no_wrap=True)
    table.add_column("origin", overflow="fold")  # a path is shown whole, never cut short
    table.add_column("summary", ratio=1, overflow="fold")
    for entry in registry.entries():
        doc = (getattr(entry.obj, "__doc__", None) or "").strip().splitlines()
        table.add_row(entry.kind, entry.name, _short_origin(entry.origin), doc[0] if doc else "")
    _stdout().print(table)


def _short_origin(origin: str) -> str:
    """A plugin file under the working directory is shown relative to it (``probes/x.py``)."""
    path = Path(origin)
    if not path.is_absolute():
        return origin
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return origin


@app.command("datasets")
def datasets_cmd() -> None:
    """List the bundled datasets (usable offline with --dataset NAME)."""
    from rich.table import Table

    from probe_rnn.data import list_datasets

    table = Table(title="bundled datasets")
    table.add_column("name")
    table.add_column("description")
    for name, description in list_datasets().items():
        table.add_row(name, description)
    _stdout().print(table)


@app.command("train")
def train_cmd(
    out: Annotated[Path, typer.Option("--out", help="Checkpoint to write (.pt).")] = Path(
        "model.pt"
    ),
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    text: TextOpt = "text",
    label: LabelOpt = "label",
    tokenizer: Annotated[str, typer.Option(help="Tokens: char or word.")] = "char",
    rnn: Annotated[str, typer.Option(help="Cell: lstm, gru, rnn (tanh) or rnn-relu.")] = "lstm",
    layers: Annotated[int, typer.Option(help="Stacked recurrent layers.")] = 1,
    hidden: Annotated[int, typer.Option(help="Hidden size per direction.")] = 64,
    embedding_dim: Annotated[int, typer.Option("--embedding-dim", help="Embedding size.")] = 64,
    bidirectional: Annotated[bool, typer.Option(
        "--bidirectional/--no-bidirectional", help="Add a backward direction.")] = False,
    readout: Annotated[str, typer.Option(
        help="What the head reads: last, hidden, mean, max or naive-last.")] = "last",
    dropout: Annotated[float, typer.Option(help="Dropout between layers (layers >= 2).")] = 0.0,
    packed: Annotated[bool, typer.Option(
        "--packed/--padded", help="Run the RNN on packed sequences or the padded batch.")] = True,
    epochs: Annotated[int, typer.Option(help="Most epochs (early stopping on dev).")] = 10,
    patience: Annotated[int, typer.Option(help="Epochs without dev gain before stopping.")] = 3,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Rows per batch.")] = 64,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 3e-3,
    seed: SeedOpt = 0,
) -> None:
    """Train a recurrent text classifier (early stopping on dev) and save its checkpoint."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from probe_rnn.models import save_checkpoint, train

    df, source = load_data(data, dataset, text, label)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=console, transient=False) as bar:
        result = train(
            df, tokenizer=tokenizer, rnn=rnn, layers=layers, hidden=hidden,
            embedding_dim=embedding_dim, bidirectional=bidirectional, readout=readout,
            dropout=dropout, packed=packed, epochs=epochs, batch_size=batch_size, lr=lr,
            seed=seed, patience=patience, source=source, progress=_epoch_bars(bar),
        )
    save_checkpoint(out, result.bundle)
    test = "n/a" if result.test_accuracy != result.test_accuracy else f"{result.test_accuracy:.3f}"
    typer.echo(f"dev accuracy {result.dev_accuracy:.3f}  test accuracy {test}  -> {out}")


def _epoch_bars(bar: Any) -> Any:
    """A ``train`` progress callback drawing one Rich bar per epoch."""
    tasks: dict[int, Any] = {}

    def on_event(event: Any) -> None:
        if event.epoch not in tasks:
            tasks[event.epoch] = bar.add_task(
                f"epoch {event.epoch}/{event.epochs}", total=event.batches or None, info=""
            )
        info = f"loss {event.train_loss:.3f}"
        if event.dev_accuracy is None:
            bar.update(tasks[event.epoch], completed=event.batch, info=info)
        else:
            bar.update(tasks[event.epoch], info=f"{info}  dev acc {event.dev_accuracy:.3f}")

    return on_event


@app.command("inspect")
def inspect_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="The checkpoint (.pt) to summarise.")],
    factory: FactoryOpt = None,
    trust_checkpoint: TrustOpt = False,
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    text: TextOpt = "text",
    label: LabelOpt = "label",
    batch_size: Annotated[int, typer.Option(
        "--batch-size", help="Rows per forward pass of the diagnosis (padding depends on it).")
    ] = 256,
    max_rows: MaxRowsOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Summarise a checkpoint: recurrent modules, tokenizer, labels, how it was trained.

    With --data or --dataset, also print the output-vs-hidden diagnosis measured on that data.
    """
    bundle = load_bundle(checkpoint, factory, trust_checkpoint)
    _print_model_card(bundle.card())
    if data is not None or dataset is not None:
        from probe_rnn.capture import diagnose

        df, source = load_data(data, dataset, text, label)
        df = sample_rows(df, max_rows, seed)
        _print_diagnosis(diagnose(bundle, df, batch_size=batch_size), source)


def _print_diagnosis(table: pd.DataFrame, source: str) -> None:
    """One Rich table per recurrent module, then the diagnosis in plain sentences."""
    from rich.table import Table

    from probe_rnn.capture import format_diagnosis

    out = _stdout()
    for module, group in table.groupby("module", sort=False):
        view = Table(title=f"output vs hidden: {module} on {source}")
        for column in ("check", "value", "unit"):
            view.add_column(column, justify="right" if column == "value" else "left")
        for row in group.itertuples():
            view.add_row(str(row.check), f"{row.value:.4g}", str(row.unit))
        out.print(view)
    out.print(format_diagnosis(table), soft_wrap=True, markup=False)


def _print_model_card(card: dict[str, Any]) -> None:
    """Rich tables for a model card (:meth:`probe_rnn.models.ModelBundle.card`)."""
    from rich.table import Table

    # plain text (paths, labels and config values may hold "[...]", which is not markup here),
    # one line per fact whatever the terminal width
    out = _stdout(soft_wrap=True)
    out.print(f"{card['source']}  format: {card['format']}  "
              f"parameters: {card['parameters']:,}  sha256: {card['checksum'][:16]}")
    if card["config"]:
        out.print("config: " + ", ".join(f"{k}={v}" for k, v in card["config"].items()))
    modules = Table(title="recurrent modules")
    keys = ("name", "type", "layers", "directions", "hidden", "proj_size", "parameters")
    for key in keys:
        modules.add_column(key)
    for module in card["recurrent_modules"]:
        modules.add_row(*(f"{module[k]:,}" if k == "parameters" else str(module[k]) for k in keys))
    out.print(modules if card["recurrent_modules"] else "recurrent modules: none found")
    tok = card["tokenizer"]
    out.print("tokenizer: " + (f"{tok['kind']}, vocabulary {tok['vocab_size']}" if tok else
                               f"none (adapter {card['adapter']})"))
    out.print(f"labels ({len(card['labels'])}): {', '.join(card['labels'])}")
    if card["meta"]:
        meta = Table(title="how it was trained", show_header=False)
        for key, value in card["meta"].items():
            if isinstance(value, float):
                value = f"{value:.4g}"
            elif isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            elif isinstance(value, list):
                value = ", ".join(map(str, value))
            meta.add_row(str(key), str(value))
        out.print(meta)
    else:
        out.print("how it was trained: no training metadata in this file")


def _split_list(value: str | None) -> list[str] | None:
    """``"a,b, c"`` -> ``["a", "b", "c"]``; None stays None."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def _stdout(soft_wrap: bool = False) -> Console:
    """Where results go: plain text, since names, labels and paths may hold "[...]", which is
    data here, not Rich markup."""
    return Console(highlight=False, markup=False, soft_wrap=soft_wrap)


def _say(line: str) -> None:
    console.print(line, soft_wrap=True, markup=False)


@app.command("probe")
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
    jobs: Annotated[int, typer.Option(help="Parallel probe fits (joblib).")] = 1,
    mdl: Annotated[bool, typer.Option("--mdl/--no-mdl", help="MDL online codelength.")] = True,
    random_baseline: Annotated[bool, typer.Option(
        "--random-baseline/--no-random-baseline",
        help="Also probe the same architecture with random weights.")] = True,
    attribution_rows: Annotated[int, typer.Option(
        "--attribution-rows", help="Sentences to attribute (0 skips attribution).")] = 24,
    umap: UmapOpt = True,
    plugins: PluginsOpt = None,
    factory: FactoryOpt = None,
    trust_checkpoint: TrustOpt = False,
    seed: SeedOpt = 0,
) -> None:
    """Capture every state, probe what each carries, attribute, and write the HTML report."""
    from probe_rnn.pipeline import run_pipeline
    from probe_rnn.probing import headline_table

    load_plugins(plugins)
    bundle = load_bundle(checkpoint, factory, trust_checkpoint)
    df, source = load_data(data, dataset, text, label)
    arguments = {"command": "probe", "checkpoint": str(checkpoint), "folds": folds,
                 "seeds": seeds, "max_rows": max_rows, "probes": probes, "tasks": tasks,
                 "views": views}
    result = run_pipeline(
        bundle, df, out, source=source, views=_split_list(views), tasks=_split_list(tasks),
        probes=_split_list(probes) or ["logistic"], folds=folds, seeds=seeds, max_rows=max_rows,
        jobs=jobs, mdl=mdl, random_baseline=random_baseline, attribution_rows=attribution_rows,
        umap=umap, seed=seed, arguments=arguments, say=_say,
    )
    _stdout().print(headline_table(result.results))
    typer.echo(f"report: {result.report_path or result.out_dir}")


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option("--out", help="Run folder of the demo.")] = Path(
        "reports/demo"
    ),
    retrain: Annotated[bool, typer.Option(help="Train again even if the model exists.")] = False,
    umap: UmapOpt = True,
    jobs: Annotated[int, typer.Option(help="Parallel probe fits (joblib).")] = 2,
    seed: SeedOpt = 0,
) -> None:
    """Train a 2-layer BiLSTM on bundled names (or reuse it), probe it and write the report."""
    from probe_rnn.demo import run_demo

    _say(f"probe-rnn demo -> {out}")
    result = run_demo(out, seed=seed, umap=umap, retrain=retrain, jobs=jobs, say=_say)
    typer.echo(f"report: {result.report_path or result.out_dir}")


@app.command("report")
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


@app.command("compare-readouts")
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
    df, source = load_data(data, dataset, text, label)
    df = sample_rows(df, max_rows, seed)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("training", total=len(names) * max(seeds, 1))

        def _progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=f"trained {what}")

        study = compare_readouts(
            df, rnn=rnn, layers=layers, hidden=hidden, bidirectional=bidirectional,
            readouts=names, seeds=seeds, epochs=epochs or DEFAULT_EPOCHS, packed=packed,
            jobs=jobs, seed=seed, probe=probe, progress=_progress, tokenizer=tokenizer,
            embedding_dim=embedding_dim, batch_size=batch_size, lr=lr, patience=patience,
        )
    study.settings["source"] = source
    path = write_readout_report(study, out)
    table = Table(title=f"test accuracy over {seeds} seed(s), {source}")
    for column in ("readout", "mean test acc", "95% CI", "verdict vs best"):
        table.add_column(column)
    for row in study.summary.itertuples():
        ci = "–" if row.ci_low != row.ci_low else f"{row.ci_low:.1%} to {row.ci_high:.1%}"
        table.add_row(row.readout, f"{row.mean:.1%}", ci, row.vs_best)
    _stdout().print(table)
    typer.echo(study.answer()[-1])
    typer.echo(f"wall time: {time.perf_counter() - started:.1f} s")
    typer.echo(f"report: {path}")


# -- capture (state store) --------------------------------------------------------------------
def sample_rows(df: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """``--max-rows``: the pipeline's seeded sample, so every command picks the same rows."""
    from probe_rnn.pipeline import sample_rows as pick

    return pick(df, max_rows, seed)


def _disk_size(path: Path) -> str:
    size = float(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()))
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


@app.command("capture")
def capture_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="The trained model (.pt).")],
    out: Annotated[Path, typer.Option("--out", help="Folder of the state store.")],
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    text: TextOpt = "text",
    label: LabelOpt = "label",
    views: Annotated[str | None, typer.Option(
        help="Comma-separated views (default: every sentence view of the catalogue and every "
        "per-token hidden/cell/output state).", show_default=False)] = None,
    dtype: Annotated[str, typer.Option(help="Storage dtype: float16 or float32.")] = "float16",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Rows per forward pass.")] = 256,
    max_rows: MaxRowsOpt = None,
    verify: Annotated[str, typer.Option(
        help="Check recomputed states against the fused kernel on the 'first' batch or "
        "'every' batch.")] = "first",
    module: Annotated[str | None, typer.Option(
        "--module", help="Recurrent module to capture (default: the first).",
        show_default=False)] = None,
    factory: FactoryOpt = None,
    trust_checkpoint: TrustOpt = False,
    seed: SeedOpt = 0,
) -> None:
    """Capture every state of a model over a table into a state store (memory-mapped arrays)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from probe_rnn.capture import capture

    bundle = load_bundle(checkpoint, factory, trust_checkpoint)
    df, _ = load_data(data, dataset, text, label)
    df = sample_rows(df, max_rows, seed)
    done = {"batches": 0}
    columns = ("capture", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("capture", total=len(df))

        def progress(rows: int, total: int) -> None:
            done["batches"] += 1
            bar.update(task, completed=rows)

        store = capture(bundle, df, out, views=_split_list(views), dtype=dtype,
                        batch_size=batch_size, verify=verify, progress=progress, module=module)
    reused = " (reused: same model, data and options)" if done["batches"] == 0 else ""
    typer.echo(f"captured {store.n_rows} rows, {len(store.views)} views, "
               f"{_disk_size(store.path)} on disk -> {store.path}{reused}")


# -- attribution ------------------------------------------------------------------------------
@app.command("attribute")
def attribute_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="The trained model (.pt).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the attribution files.")],
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    text: TextOpt = "text",
    label: LabelOpt = "label",
    method: Annotated[str, typer.Option(
        help="Token method: ig, saliency, ixg, deeplift, occlusion.")] = "ig",
    rows: Annotated[int, typer.Option(
        "--rows", help="Sentences to attribute (seeded sample, stratified by label).")] = 24,
    ids: Annotated[str | None, typer.Option(
        "--ids", help="Row numbers to attribute instead, e.g. 3,17,42.", show_default=False)
    ] = None,
    steps: Annotated[int, typer.Option("--steps", help="Integration steps (IG).")] = 50,
    target: Annotated[str, typer.Option(
        help="Attribute the 'prediction' or the gold 'label' logit.")] = "prediction",
    factory: FactoryOpt = None,
    trust_checkpoint: TrustOpt = False,
    seed: SeedOpt = 0,
) -> None:
    """Attribute predictions to tokens, per-step states and neurons; check completeness."""
    from probe_rnn.attribution import attribute
    from probe_rnn.errors import ConfigError

    picked: int | list[int] = rows
    if ids is not None:
        try:
            picked = [int(v) for v in _split_list(ids) or []]
        except ValueError:
            raise ConfigError(f"--ids must be comma-separated row numbers; got {ids!r}") from None
    bundle = load_bundle(checkpoint, factory, trust_checkpoint)
    df, _ = load_data(data, dataset, text, label)
    result = attribute(bundle, df, out, method=method, rows=picked, n_steps=steps, seed=seed,
                       target=target, progress=lambda done, total, what: _say(
                           f"[{done}/{total}] {what} done"))
    worst = result.worst_completeness_error
    tok = "n/a for this method" if worst != worst else f"{worst:.2e}"
    typer.echo(f"attributed {len(result.examples)} sentences ({method}); worst completeness "
               f"error: tokens {tok}, steps {result.worst_step_error:.2e}; "
               f"twin max difference {result.manifest['twin_max_difference']:.1e}")
    typer.echo(f"files: {result.path}")


# -- entry point --------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; turn user errors into one line and exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args = ["--debug"] + [a for a in args if a != "--debug"]
    try:
        app(args=args, prog_name="probe-rnn")
    except ProbeRnnError as exc:
        if debug:
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except (OSError, MemoryError) as exc:
        if debug:
            raise
        print(f"error: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:
        if debug:
            raise
        print(
            f"error: internal error ({type(exc).__name__}: {_one_line(exc)}); "
            "run again with --debug for the traceback and please report it",
            file=sys.stderr,
        )
        sys.exit(1)
