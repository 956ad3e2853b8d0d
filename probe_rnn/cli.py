"""The ``probe-rnn`` command line: one Typer app, each command a thin layer over a public function.

Commands parse their arguments, call the library, show progress and print a short result.
Errors the user can fix (:class:`~probe_rnn.errors.ProbeRnnError`) become one line on stderr
and exit code 2; ``--debug`` anywhere on the command line shows the traceback instead.
Heavy imports (torch, sklearn) happen inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from probe_rnn import __version__
from probe_rnn.errors import DataError, ProbeRnnError

if TYPE_CHECKING:
    import pandas as pd

    from probe_rnn.models import ModelBundle

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
    for column in ("kind", "name", "origin", "summary"):
        table.add_column(column)
    for entry in registry.entries():
        doc = (getattr(entry.obj, "__doc__", None) or "").strip().splitlines()
        table.add_row(entry.kind, entry.name, entry.origin, doc[0] if doc else "")
    Console().print(table)


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
    Console().print(table)


def _split_list(value: str | None) -> list[str] | None:
    """``"a,b, c"`` -> ``["a", "b", "c"]``; None stays None."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def _say(line: str) -> None:
    console.print(line, soft_wrap=True)


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
    Console().print(headline_table(result.results))
    typer.echo(f"report: {result.report_path or result.out_dir}")


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option("--out", help="Run folder of the demo.")] = Path(
        "reports/demo"
    ),
    retrain: Annotated[bool, typer.Option(help="Train again even if the model exists.")] = False,
    umap: UmapOpt = True,
    jobs: Annotated[int, typer.Option(help="Parallel probe fits (joblib).")] = 1,
    seed: SeedOpt = 0,
) -> None:
    """Train a 2-layer BiLSTM on bundled names (or reuse it), probe it and write the report."""
    from probe_rnn.demo import run_demo

    _say(f"probe-rnn demo -> {out}")
    result = run_demo(out, seed=seed, umap=umap, retrain=retrain, jobs=jobs, say=_say)
    typer.echo(f"report: {result.report_path or result.out_dir}")


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
