"""The ``probe-rnn`` command line: one Typer app, each command a thin layer over a public function.

Commands parse their arguments, call the library, show progress and print a short result.
Errors the user can fix (:class:`~probe_rnn.errors.ProbeRnnError`) become one line on stderr
and exit code 2; ``--debug`` anywhere on the command line shows the traceback instead.
Heavy imports (torch, sklearn) happen inside the commands so ``--help`` stays fast.

This module is the app, its root options and the error contract; the commands themselves live
in :mod:`probe_rnn.commands`, grouped by what they work on, and are registered below in the
order ``--help`` lists them.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Annotated, Any, NoReturn

import typer

from probe_rnn import __version__
from probe_rnn.commands import models, runs, states
from probe_rnn.errors import ProbeRnnError

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


app.command("plugins")(models.plugins_cmd)
app.command("datasets")(models.datasets_cmd)
app.command("train")(models.train_cmd)
app.command("inspect")(models.inspect_cmd)
app.command("probe")(runs.probe_cmd)
app.command("demo")(runs.demo_cmd)
app.command("report")(runs.report_cmd)
app.command("compare-readouts")(runs.compare_readouts_cmd)
app.command("capture")(states.capture_cmd)
app.command("attribute")(states.attribute_cmd)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _in_cli_words(exc: ProbeRnnError) -> str:
    """The error's one line, speaking of this CLI's options: the parameters it mentions
    (a :class:`ParameterError`'s field, the :class:`~probe_rnn.errors.Mention` parts of the
    others) rendered as the options that set them."""
    from probe_rnn.commands.common import cli_words

    return " ".join(exc.render(cli_words(typer.main.get_command(app))).split()) or \
        type(exc).__name__


def _usage_line(exc: Exception, args: list[str]) -> str:
    """A command-line usage error (Typer's click) as one line naming the fix; a list given
    with spaces instead of commas (:func:`_spaced_list`) is the common case."""
    text = " ".join(str(exc.format_message()).split())  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "probe-rnn"
    spaced = _spaced_list(ctx.command, args[args.index(ctx.info_name) + 1:]) \
        if ctx is not None and ctx.info_name in args else None
    if spaced is not None:
        option, values = spaced
        return (f"{text}: lists are comma-separated, e.g. {option} {','.join(values)} "
                f"(see {command} --help)")
    return f"{text} (see {command} --help)"


def _spaced_list(command: Any, args: list[str]) -> tuple[str, list[str]] | None:
    """``(option, words)`` when an option's value in ``args`` (the command's own, after its
    name) is followed by words the command has no argument left for (``--tasks a b c``:
    ``("--tasks", ["a", "b", "c"])``), read as click reads them from the command's own
    parameters: an option takes ``nargs`` values unless it is a flag or says ``--opt=value``,
    any other word fills the next argument; else None."""
    options = {name: p for p in command.params if p.param_type_name == "option"
               for name in (*p.opts, *p.secondary_opts)}
    places = sum(p.nargs if p.nargs > 0 else len(args) for p in command.params
                 if p.param_type_name == "argument")
    i, words = 0, 0
    ended: tuple[str, list[str]] | None = None  # the option whose values end just before i
    while i < len(args) and args[i] != "--":
        word = args[i]
        name, inline, value = word.partition("=")
        option = options.get(name) if word.startswith("-") else None
        if option is not None and not option.is_flag:
            skip = 0 if inline else option.nargs
            ended, i = (name, [value] if inline else args[i + 1:i + 1 + skip]), i + 1 + skip
            continue
        if not word.startswith("-"):
            words += 1
            if words > places and ended is not None:
                end = next((k for k in range(i, len(args)) if args[k].startswith("-")),
                           len(args))
                return ended[0], ended[1] + args[i:end]
        ended = None
        i += 1
    return None


def _lost_work(exc: Exception) -> str | None:
    """What went away when a stage's worker processes or the Dask scheduler were lost."""
    import concurrent.futures

    from probe_rnn.cluster import lost_work

    lost = lost_work(exc)
    if lost is None and isinstance(exc, concurrent.futures.CancelledError):
        return "the work was cancelled (the Dask scheduler was lost)"
    return lost


#: Libraries of the CLI itself whose exits are theirs to make (rich exits 1 on a broken pipe).
_OWN_EXITS = ("rich", "click", "typer")


def _exit_module(exc: BaseException) -> str:
    """The module whose code raised ``exc`` (its traceback's last frame), or ``""``."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return str(tb.tb_frame.f_globals.get("__name__", "")) if tb is not None else ""


def _user_exit_line(exc: SystemExit) -> str:
    """One line for a ``sys.exit()`` (or ``os._exit``) that user code ran inside a command."""
    from probe_rnn.usercode import did, exit_site

    site = exit_site(exc)
    return (f"code at {site or 'an unknown place'} {did(exc)} inside probe-rnn, which stopped "
            "with no result: remove the exit from that code (raise an exception instead); "
            "run again with --debug for the traceback")


def _one_line_warning(message: Warning | str, category: type[Warning], *_: object,
                      **__: object) -> None:
    """A warning as one line on stderr (``warning: ...``), not Python's two-line form."""
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)


def _check_empty_out(args: list[str]) -> None:
    """``--out ''`` (an unset ``$VAR``) is refused before parsing, which would read it as the
    current folder."""
    from probe_rnn.run.out_folder import check_out_path

    for i, arg in enumerate(args):
        if arg == "--out=" or (arg == "--out" and i + 1 < len(args) and not args[i + 1].strip()):
            check_out_path("")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; turn user errors into one line and exit code 2, warnings into one line."""
    import warnings

    from probe_rnn.commands.common import RUNNING_APP

    warnings.showwarning = _one_line_warning
    RUNNING_APP[:] = [app]
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args = ["--debug"] + [a for a in args if a != "--debug"]
    from probe_rnn.caches import use_cache_folder

    use_cache_folder()  # matplotlib's and numba's caches: not under $HOME (README "Caches")
    try:
        try:
            _check_empty_out(args)
            code = app(args=args, prog_name="probe-rnn", standalone_mode=False)
        except SystemExit as exc:  # Typer returns its own exits: this is user code's
            if debug or _exit_module(exc).split(".")[0] in _OWN_EXITS:
                raise
            print(f"error: {_user_exit_line(exc)}", file=sys.stderr)
            sys.exit(1)
        if code == 130:  # Typer turns Ctrl-C into exit code 130
            print(f"error: {_INTERRUPTED}", file=sys.stderr)
        sys.exit(code if isinstance(code, int) else 0)  # as click's standalone mode does
    except typer.Abort:
        print(f"error: {_INTERRUPTED}", file=sys.stderr)
        sys.exit(130)
    except ProbeRnnError as exc:
        if debug:
            raise
        print(f"error: {_in_cli_words(exc)}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print(f"error: {_INTERRUPTED}", file=sys.stderr)
        sys.exit(130)
    except (OSError, MemoryError) as exc:
        if debug:
            raise
        if getattr(exc, "errno", None) == errno.ENOSPC:
            where = f" writing {exc.filename}" if getattr(exc, "filename", None) else ""
            print(f"error: no space left on the device{where}: free some space (or choose "
                  "another --out) and run the same command again; its partial files were "
                  "removed and finished stages are kept", file=sys.stderr)
        else:
            print(f"error: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:
        if debug:
            raise
        _other_error(exc, args)


_INTERRUPTED = ("interrupted: run the same command again to resume (finished stages and probing "
                "cells are kept)")


def _other_error(exc: Exception, args: list[str]) -> NoReturn:
    """Exit for an exception that is neither ours nor the system's: click's usage errors, lost
    workers, or an internal error (a bug of probe-rnn, to report)."""
    if callable(getattr(exc, "format_message", None)):  # click's, e.g. a typo in an option
        ctx = getattr(exc, "ctx", None)
        if not str(exc.format_message()).strip() and ctx is not None:
            print(ctx.get_help())  # no command given: the help, as `--help` prints it
        else:
            print(f"error: {_usage_line(exc, args)}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    lost = _lost_work(exc)
    if lost:
        print(f"error: {lost}: what finished before is kept in the run folder; run the "
              "same command again to resume", file=sys.stderr)
        sys.exit(2)
    print(
        f"error: internal error ({type(exc).__name__}: {_one_line(exc)}); "
        "run again with --debug for the traceback and please report it",
        file=sys.stderr,
    )
    sys.exit(1)
