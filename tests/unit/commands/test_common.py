"""The CLI's shared pieces: parameter errors become option errors (a ParameterError from its
fields, other errors where they name a parameter), and option groups hand a command one
object while typer sees each option."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated

import pytest
import typer

from probe_rnn.cli import app
from probe_rnn.commands.common import (
    TableSource,
    cli_options,
    in_cli_words,
    option_group,
    option_of,
    table_options,
)

OPTIONS = cli_options(typer.main.get_command(app))


@pytest.mark.parametrize(("parameter", "option"), [
    ("max_rows", "--max-rows"), ("cell_timeout", "--cell-timeout"), ("out_dir", "--out"),
    ("factory", "--model"), ("n_steps", "--steps"), ("tolerance", "tolerance"),  # no option
])
def test_a_parameter_maps_to_its_option(parameter, option) -> None:
    assert option_of(parameter, OPTIONS) == option


@pytest.mark.parametrize(("parameter", "option"), [("folds", "--folds"), ("out_dir", "--out"),
                                                   ("internal_batch_size", None)])
def test_a_parameter_error_is_rendered_from_its_fields(parameter, option) -> None:
    from probe_rnn.cli import _in_cli_words
    from probe_rnn.errors import ParameterError

    exc = ParameterError(parameter, "whatever the library says today", "'x'", "the fix")
    line = _in_cli_words(exc)
    assert line == exc.render(option or parameter)
    assert line.split()[0] == (option or parameter) and "'x'" in line and "the fix" in line


@pytest.mark.parametrize(("message", "parameters", "shown"), [
    ("pass vocab=FILE (the vocabulary)", ("vocab",), "pass --vocab FILE (the vocabulary)"),
    ("pass trust_checkpoint=True to load it", ("trust_checkpoint",),
     "pass --trust-checkpoint to load it"),
    ("use factory=package.module:function", ("factory",), "use --model package.module:function"),
    ("tokenizer=, pad_id= describe a file: pass vocab= (the file) too",
     ("vocab", "tokenizer", "pad_id"), "--tokenizer, --pad-id describe a file: pass --vocab "
     "(the file) too"),
    ("give another out_dir=", ("out_dir",), "give another --out"),
    ("2 labels (a, b): pass labels= with one name", ("labels",),
     "2 labels (a, b): pass --labels with one name"),  # the bare word stays a word
    ("read it with read_table(..., text=, label=)", (), "read it with read_table(..., text=, "
     "label=)"),  # not named as parameters: left alone
    ("max_rows must be here", (), "max_rows must be here"),  # no parameter named: as it is
])
def test_library_messages_speak_of_options_on_the_command_line(message, parameters,
                                                               shown) -> None:
    assert in_cli_words(message, parameters, OPTIONS) == shown


def test_the_cli_says_its_options_where_the_library_names_parameters(tmp_path, capsys) -> None:
    from probe_rnn.cli import main
    from probe_rnn.errors import ReportError
    from probe_rnn.report import build_report

    with pytest.raises(ReportError, match="out_dir="):  # the library speaks of its parameter
        build_report(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1
    assert f"--out {tmp_path}" in err and "out_dir" not in err


@dataclass
class Pair:
    left: int = 1
    right: str = "r"


def test_an_option_group_hands_one_object_and_shows_every_option() -> None:
    options = {"left": Annotated[int, typer.Option("--left")],
               "right": Annotated[str, typer.Option("--right")]}

    @option_group(Pair, options, "pair")
    def command(name: str, pair: Pair = Pair()) -> tuple[str, Pair]:
        return name, pair

    params = inspect.signature(command).parameters
    assert list(params) == ["name", "left", "right"]
    assert params["left"].default == 1 and params["right"].default == "r"
    assert command(name="n", left=5, right="x") == ("n", Pair(5, "x"))


def test_table_options_give_a_table_source() -> None:
    @table_options
    def command(table: TableSource = TableSource()) -> TableSource:
        return table

    assert list(inspect.signature(command).parameters) == ["data", "dataset", "text", "label"]
    got = command(data=None, dataset="names", text="t", label="l")
    assert got == TableSource(None, "names", "t", "l")


LONG = ("capture      400 rows × 2 models (trained + random-init), 14 views; kernel check "
        "(largest |difference| from the fused kernel): trained 2.98e-08, random-init 1.49e-08 "
        "reports/demo/index.html")


@pytest.mark.parametrize("where", ["stderr", "stdout"])
def test_long_lines_wrap_at_word_boundaries_on_a_terminal(monkeypatch, where) -> None:
    import io

    from rich.console import Console

    from probe_rnn.commands import common

    shown = io.StringIO()
    terminal = Console(file=shown, force_terminal=True, width=40, highlight=False,
                       color_system=None, markup=False)
    if where == "stderr":
        monkeypatch.setattr(common, "console", terminal)
        common.say(LONG)
    else:
        monkeypatch.setattr(common, "stdout", lambda soft_wrap=False: terminal)
        common.print_wrapped(LONG)
    lines = shown.getvalue().splitlines()
    assert len(lines) > 3 and all(len(line) <= 40 for line in lines)
    # no word is cut: the lines' words are the text's words, in order
    assert " ".join(lines).split() == LONG.split()


def test_piped_lines_stay_whole(capsys) -> None:
    from probe_rnn.commands import common

    common.say(LONG + " :smile: [bold]x[/bold]")  # nor markup nor emoji codes are read
    common.print_wrapped(LONG)
    captured = capsys.readouterr()
    assert captured.err == LONG + " :smile: [bold]x[/bold]\n" and captured.out == LONG + "\n"
