"""The CLI's shared pieces: library parameters that messages mention become this CLI's
options (read from click's own options, not from message text), and option groups hand a
command one object while typer sees each option."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated

import pytest
import typer

from probe_rnn.cli import _in_cli_words, app
from probe_rnn.commands.common import TableSource, cli_words, option_group, table_options
from probe_rnn.errors import ConfigError, Mention, ParameterError

COMMAND = typer.main.get_command(app)
WORDS = cli_words(COMMAND)


def _options() -> dict[str, list[tuple[list[str], list[str], bool]]]:
    """Every option's (names, off-names, is it a flag), by parameter name, read from the app."""
    found: dict[str, list[tuple[list[str], list[str], bool]]] = {}
    for sub in COMMAND.commands.values():
        for param in sub.params:
            if param.param_type_name == "option":
                found.setdefault(param.name, []).append(
                    (list(param.opts), list(param.secondary_opts), bool(param.is_flag)))
    return found


def test_a_parameter_name_means_one_option_in_every_command() -> None:
    # cli_words maps a parameter to one option for the whole app: that needs this to hold
    for name, spellings in _options().items():
        assert all(s == spellings[0] for s in spellings), name


@pytest.mark.parametrize(("mention", "shown"), [
    (Mention("vocab", "FILE"), "--vocab FILE"),
    (Mention("trust_checkpoint", "True"), "--trust-checkpoint"),  # a flag takes no value
    (Mention("umap", "False"), "--no-umap"),  # a flag's off-switch
    (Mention("quiet", "True"), "--quiet"),  # the long name, not -q
    (Mention("out_dir"), "--out"),  # library names that the CLI spells otherwise
    (Mention("factory", "package.module:function"), "--model package.module:function"),
    (Mention("address", "local:0"), "--scheduler local:0"),
    (Mention("n_steps"), "--steps"),
    (Mention("cell_timeout", "5"), "--cell-timeout 5"),
    (Mention("tolerance"), None),  # no option sets it: the library's words stay
    (Mention("checkpoint"), None),  # an argument, not an option
    (Mention("trust_checkpoint", "False"), None),  # a flag with no off-switch cannot say it
])
def test_a_mention_is_said_as_the_option_that_sets_it(mention, shown) -> None:
    assert WORDS(mention) == shown


@pytest.mark.parametrize(("parameter", "option"), [("folds", "--folds"), ("out_dir", "--out"),
                                                   ("internal_batch_size", None)])
def test_a_parameter_error_is_rendered_from_its_fields(parameter, option) -> None:
    exc = ParameterError(parameter, "whatever the library says today", "'x'", "the fix")
    line = _in_cli_words(exc)
    assert line == exc.render(WORDS)
    assert line.split()[0] == (option or parameter)
    assert (exc.allowed, exc.got, exc.hint) == ("whatever the library says today", "'x'",
                                                "the fix")


def test_an_error_says_each_mention_in_cli_words_and_its_text_as_it_is() -> None:
    exc = ConfigError("a ", Mention("vocab", "FILE"), " b ", Mention("trust_checkpoint", "True"),
                      " c ", Mention("tolerance"), " d")
    assert str(exc) == "a vocab=FILE b trust_checkpoint=True c tolerance= d"
    assert _in_cli_words(exc) == "a --vocab FILE b --trust-checkpoint c tolerance= d"


def test_the_cli_says_its_options_where_the_library_names_parameters(tmp_path, capsys) -> None:
    from probe_rnn.cli import main
    from probe_rnn.errors import ReportError
    from probe_rnn.report import build_report

    with pytest.raises(ReportError) as caught:  # the library speaks of its parameter
        build_report(tmp_path)
    assert Mention("out_dir", str(tmp_path)) in caught.value.parts
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1
    assert f"--out {tmp_path}" in err and "out_dir" not in err and "Traceback" not in err


def test_a_failed_cell_is_listed_with_its_time_limit_as_the_option(capsys) -> None:
    import pandas as pd

    from probe_rnn.commands.common import RUNNING_APP, print_failed_cells
    from probe_rnn.errors import parts_to_json, render
    from probe_rnn.probing.results import failure_summary
    from probe_rnn.probing.timelimit import CellTimeout

    parts = ("probe 'slow' on task 'label' ", *CellTimeout(5).parts)  # as run_cell records it
    cells = [{"model": model, "view": "output@last", "task": "label", "probe": "slow",
              "reason": render(parts), "reason_parts": parts_to_json(parts)}
             for model in ("trained", "random-init")]
    table = pd.DataFrame()
    table.attrs["failed_cells"] = cells
    RUNNING_APP[:] = [app]
    try:
        print_failed_cells(table)
    finally:
        RUNNING_APP.clear()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("2 probing cell(s) failed")
    assert "within --cell-timeout 5 s" in lines[1] and "cell_timeout" not in lines[1]
    assert "trained, random-init" in lines[1]  # one line for the one reason
    (library,) = failure_summary(cells)  # without a front end: the library's words
    assert "within cell_timeout=5 s" in library


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
