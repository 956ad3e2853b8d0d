"""Commands about models, data and what is registered: ``plugins``, ``datasets``, ``train``,
``inspect``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from probe_rnn.commands.common import (
    DataOpt,
    DatasetOpt,
    LabelOpt,
    MaxRowsOpt,
    PluginsOpt,
    SeedOpt,
    TextOpt,
    console,
    load_data,
    load_plugins,
    stdout,
    writes_out,
)
from probe_rnn.commands.model_source import ModelSource, model_options
from probe_rnn.commands.output import (
    epoch_bars,
    plain_summary,
    print_diagnosis,
    print_model_card,
    short_origin,
)


def plugins_cmd(plugins: PluginsOpt = None) -> None:
    """List every registered probe, task and adapter with where it came from."""
    from rich.table import Table

    from probe_rnn.plugins import registry

    load_plugins(plugins)
    table = Table(title="probe-rnn plugins")
    table.add_column("kind", no_wrap=True)
    table.add_column("name", no_wrap=True)
    # a path and a summary are shown whole (folded if they must), never cut short
    table.add_column("origin", overflow="fold")
    table.add_column("summary", overflow="fold")
    for entry in registry.entries():
        table.add_row(entry.kind, entry.name, short_origin(entry.origin),
                      plain_summary(entry.doc))
    stdout().print(table)


def datasets_cmd() -> None:
    """List the bundled datasets (usable offline with --dataset NAME)."""
    from rich.table import Table

    from probe_rnn.data import list_datasets

    table = Table(title="bundled datasets")
    table.add_column("name")
    table.add_column("description")
    for name, description in list_datasets().items():
        table.add_row(name, description)
    stdout().print(table)


@writes_out("checkpoint")
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
    import warnings

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from probe_rnn.data.tokenizer_choice import WordTableWarning
    from probe_rnn.models import Architecture, TrainBudget, save_checkpoint, train

    architecture = Architecture(rnn=rnn, embedding_dim=embedding_dim, hidden=hidden,
                                layers=layers, bidirectional=bidirectional, dropout=dropout,
                                packed=packed)
    budget = TrainBudget(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience)
    df, source = load_data(data, dataset, text, label)
    _warn_char_on_words(df, tokenizer)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=console, transient=False) as bar, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", WordTableWarning)  # said above, in the CLI's words
        result = train(df, architecture, budget, tokenizer=tokenizer, readout=readout,
                       seed=seed, source=source, progress=epoch_bars(bar))
    save_checkpoint(out, result.bundle)
    test = "n/a" if result.test_accuracy != result.test_accuracy else f"{result.test_accuracy:.3f}"
    typer.echo(f"dev accuracy {result.dev_accuracy:.3f}  test accuracy {test}  -> {out}")



def _warn_char_on_words(df: object, tokenizer: str) -> None:
    """One warning line naming ``--tokenizer word`` when a word-level table is about to be
    trained char by char (:mod:`probe_rnn.data.tokenizer_choice`)."""
    from probe_rnn.commands.common import say
    from probe_rnn.data.tokenizer_choice import char_on_words

    message = char_on_words(df, tokenizer, option="--tokenizer word")
    if message is not None:
        say(f"warning: {message}")


@model_options
def inspect_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="The checkpoint (.pt) to summarise.")],
    source: ModelSource = ModelSource(),
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
    from probe_rnn.data.text_pairs import text_columns

    bundle = source.load(checkpoint, 2 if len(text_columns(text)) == 2 else None)
    if data is None and dataset is None:
        print_model_card(bundle.card())
    else:
        from probe_rnn.capture import diagnose
        from probe_rnn.data.sampling import sample_table

        df, origin = load_data(data, dataset, text, label)
        df = sample_table(df, max_rows, seed)
        source.check_rows(bundle, df)  # a collate's model says what it returns on this data
        print_model_card(bundle.card())
        typer.echo(f"batch check: {bundle.batch_check['sentence']}")
        print_diagnosis(diagnose(bundle, df, batch_size=batch_size), origin)

