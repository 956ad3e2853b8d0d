"""What several commands share: the stderr console, their common options, loading data, models
and plugins, the seeded ``--max-rows`` sample, and printing (results on stdout as plain text,
messages on stderr)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from probe_rnn.errors import DataError, Mention, Words

if TYPE_CHECKING:
    import pandas as pd

console = Console(stderr=True, highlight=False)
"""Progress bars and status lines go to stderr, so stdout holds only results."""

# -- options shared by several commands ------------------------------------------------------
CheckpointArg = Annotated[Path, typer.Argument(help="The trained model (.pt).")]
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
SeedOpt = Annotated[int, typer.Option(
    "--seed", min=0, max=2**32 - 1, help="Seed for every random choice (0 to 2**32 - 1).")]
UmapOpt = Annotated[
    bool, typer.Option("--umap/--no-umap", help="UMAP pictures (PCA with --no-umap).")
]
MaxRowsOpt = Annotated[
    int | None,
    typer.Option("--max-rows", help="Use at most this many rows (a seeded sample).",
                 show_default=False),
]
JobsOpt = Annotated[
    int, typer.Option(help="Probing cells run in parallel processes (-1 = all cores).")
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bars or periodic progress lines.")
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", show_default=False,
                 help="Run on a Dask cluster: its scheduler's address (tcp://HOST:8786), or "
                 "local:N for N worker processes here; default $PROBE_RNN_SCHEDULER, else "
                 "local (see the README's 'Scale out').")]
PluginsOpt = Annotated[
    list[Path] | None,
    typer.Option("--plugins", help="Folder of plugin files (repeatable); ./probes is always read.",
                 show_default=False),
]


ForceOutOpt = Annotated[
    bool, typer.Option("--force-out", help="Write into an existing --out that probe-rnn did not "
                       "write (its files named like probe-rnn's outputs are replaced).")]


def writes_out(kind: str = "folder") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator giving a command ``--force-out`` and checking its ``--out`` before any work
    (:mod:`probe_rnn.run.out_folder`): ``kind`` "folder" claims the run folder for the command,
    "checkpoint" and "html" check the one file it writes (``report``: RUN_DIR/index.html
    when --out is not given)."""
    from probe_rnn.run.out_folder import (
        check_inputs_apart,
        check_out_file,
        claimed_folder,
        is_probe_rnn_checkpoint,
        is_probe_rnn_html,
    )

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        added = inspect.Parameter("force_out", inspect.Parameter.KEYWORD_ONLY, default=False,
                                  annotation=ForceOutOpt)

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            force, out = kwargs.pop("force_out"), kwargs.get("out")
            check_inputs_apart(out, {"--data": kwargs.get("data"), "--vocab": kwargs.get("vocab"),
                                     "checkpoint": kwargs.get("checkpoint")}, kind)
            if kind == "folder":
                with claimed_folder(out, force):
                    return command(**kwargs)
            if kind == "html" and out is None:
                out = Path(kwargs["run_dir"]) / "index.html"
                if not (out.parent / "run.json").is_file():
                    return command(**kwargs)  # the report names the missing run folder/run.json
            ours = is_probe_rnn_html if kind == "html" else is_probe_rnn_checkpoint
            check_out_file(out, force, ours)
            return command(**kwargs)

        parameters = [*signature.parameters.values(), added]
        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        del wrapper.__wrapped__
        return wrapper

    return decorate


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


@dataclass
class TableSource:
    """The table a command reads: ``--data`` or ``--dataset``, and its text/label columns."""

    data: Path | None = None
    dataset: str | None = None
    text: str = "text"
    label: str = "label"

    def load(self) -> tuple[pd.DataFrame, str]:
        """The table and its source name (:func:`load_data`)."""
        return load_data(self.data, self.dataset, self.text, self.label)

    @property
    def texts(self) -> int | None:
        """2 when ``--text`` names two columns (``a,b``), else None (the model decides)."""
        from probe_rnn.data.text_pairs import text_columns

        return 2 if "," in self.text and len(text_columns(self.text)) == 2 else None


_TABLE_OPTIONS: dict[str, Any] = {"data": DataOpt, "dataset": DatasetOpt, "text": TextOpt,
                                  "label": LabelOpt}


def table_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``command`` ``--data``, ``--dataset``, ``--text`` and ``--label``; it receives
    them as ``table: TableSource``."""
    return option_group(TableSource, _TABLE_OPTIONS, "table")(command)


def option_group(group: type, options: dict[str, Any], name: str
                 ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator adding ``options`` (parameter name -> typer annotation; the fields of the
    dataclass ``group``, or the keywords of a ``group`` whose ``DEFAULTS`` names the defaults
    that are not None) to a command, which receives them as one ``group`` object in its
    parameter ``name``; typer sees the options in the command's signature."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        kept = [p for p in signature.parameters.values() if p.name != name]
        defaults = ({name: group.DEFAULTS.get(name) for name in options}
                    if hasattr(group, "DEFAULTS") else {f.name: f.default for f in fields(group)})
        added = [inspect.Parameter(option, inspect.Parameter.KEYWORD_ONLY,
                                   default=defaults[option], annotation=annotation)
                 for option, annotation in options.items()]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            kwargs[name] = group(**{option: kwargs.pop(option) for option in options})
            return command(**kwargs)

        wrapper.__signature__ = signature.replace(parameters=[*kept, *added])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in (*kept, *added)}
        del wrapper.__wrapped__  # typer reads the signature above, not the command's own
        return wrapper

    return decorate


def cluster(scheduler: str | None) -> Any:
    """``--scheduler`` as a context manager giving a Dask client (or None): connected before
    any other work, so an unreachable scheduler fails at once. Dask's own log lines (a lost
    scheduler logs tracebacks while the client tries to reconnect) are kept off the terminal:
    the command says what happened in its one error line."""
    import contextlib
    import logging

    from probe_rnn.cluster import connect, scheduler_address

    address = scheduler_address(scheduler)
    if address is not None:
        with contextlib.suppress(ImportError):  # connect() says how to install it
            import distributed  # noqa: F401 - its import configures its loggers: after it
        for name in ["distributed", *logging.root.manager.loggerDict]:
            if name == "distributed" or name.startswith("distributed."):
                logging.getLogger(name).setLevel(logging.CRITICAL)
    return connect(address)


def load_plugins(folders: list[Path] | None) -> None:
    """Load entry points, ``--plugins`` folders and ``./probes`` into the registry."""
    from probe_rnn.plugins import registry

    registry.load_all(folders or [])



#: Library parameters whose command-line option belongs to a parameter of another name.
CLI_NAME_OF_PARAMETER = {"out_dir": "out", "address": "scheduler", "n_steps": "steps"}


#: The running Typer app (set by :func:`probe_rnn.cli.main`), whose options messages name.
RUNNING_APP: list[typer.Typer] = []


def running_words() -> Words | None:
    """The running CLI's words for library parameters (None outside it)."""
    return cli_words(typer.main.get_command(RUNNING_APP[-1])) if RUNNING_APP else None


def cli_options(command: Any) -> dict[str, Any]:
    """Every option of a (Typer's click) command and its subcommands, by its parameter's name
    (``trust_checkpoint`` -> the ``--trust-checkpoint`` flag, ``factory`` -> ``--model``)."""
    options: dict[str, Any] = {}
    stack = [command]
    while stack:
        cmd = stack.pop()
        for param in cmd.params:
            if param.param_type_name == "option" and param.name:
                options.setdefault(param.name, param)
        stack.extend(getattr(cmd, "commands", {}).values())
    return options


def cli_words(command: Any) -> Words:
    """How the command line says a library parameter a message mentions
    (:class:`~probe_rnn.errors.Mention`): ``vocab=FILE`` -> ``--vocab FILE``,
    ``trust_checkpoint=True`` -> the flag ``--trust-checkpoint`` (``umap=False`` ->
    ``--no-umap``), a bare ``out_dir=`` -> ``--out``; None for a parameter no option sets,
    or a flag value it cannot say, which the message then keeps in the library's words."""
    options = cli_options(command)

    def words(mention: Mention) -> str | None:
        option = options.get(CLI_NAME_OF_PARAMETER.get(mention.parameter, mention.parameter))
        if option is None:
            return None
        name = max(option.opts, key=len)  # the long name (--quiet, not -q)
        if mention.value is None:
            return name
        if not option.is_flag:
            return f"{name} {mention.value}"
        if mention.value == "True":
            return name
        off = max(option.secondary_opts, key=len, default=None)
        return off if mention.value == "False" else None

    return words


def split_list(value: str | None, option: str = "--list") -> list[str] | None:
    """``"a,b, c"`` -> ``["a", "b", "c"]``; None stays None; a value with no names is an error
    (``--tasks ',,'`` must not silently mean the defaults); a name given twice counts once
    (``--tasks label,label`` probed and reported each cell twice)."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise DataError(f"{option} {value!r} names nothing: give comma-separated names, or leave "
                        "the option out for the defaults")
    return list(dict.fromkeys(items))


def stdout(soft_wrap: bool = False) -> Console:
    """Where results go: plain text, since names, labels and paths may hold "[...]", which is
    data here, not Rich markup."""
    return Console(highlight=False, markup=False, soft_wrap=soft_wrap)


def print_failed_cells(results: pd.DataFrame) -> None:
    """Name every probing cell that failed (on stderr), one line each."""
    from probe_rnn.probing.results import failure_summary

    failed = results.attrs.get("failed_cells") or []
    if failed:
        say(f"{len(failed)} probing cell(s) failed (listed in cells.csv); the rest stand:")
    for line in failure_summary(failed, running_words()):
        say(f"  failed: {line}")


def say(line: str) -> None:
    """A progress or status line on stderr, its words verbatim: wrapped by Rich at word
    boundaries on a terminal (a line printed raw broke mid-word at the terminal's edge), one
    line as it is when stderr is piped (logs and tools read it whole)."""
    console.print(line, soft_wrap=not console.is_terminal, markup=False, emoji=False)


def print_wrapped(text: str) -> None:
    """A paragraph of results on stdout (e.g. the report's answer), wrapped like :func:`say`."""
    out = stdout()
    out.print(text, soft_wrap=not out.is_terminal, emoji=False)

