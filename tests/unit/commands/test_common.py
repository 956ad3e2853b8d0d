"""The CLI's shared pieces: parameter errors become option errors, and option groups hand a
command one object while typer sees each option."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated

import pytest
import typer

from probe_rnn.commands.common import TableSource, flag_names, option_group, table_options
from probe_rnn.errors import ConfigError, DataError


@pytest.mark.parametrize(("message", "shown"), [
    ("max_rows must be at least 1, got 0", "--max-rows must be at least 1, got 0"),
    ("folds must be an integer >= 2, got 1", "--folds must be an integer >= 2, got 1"),
    ("cell_timeout must be a positive number", "--cell-timeout must be a positive number"),
    ("every cell failed; the first: boom", "every cell failed; the first: boom"),
    ("rows must be store rows 0..3", "rows must be store rows 0..3"),
])
def test_flag_names_speaks_of_options(message, shown) -> None:
    with pytest.raises(ConfigError) as info, flag_names():
        raise ConfigError(message)
    assert str(info.value) == shown


def test_flag_names_leaves_other_errors_alone() -> None:
    with pytest.raises(DataError, match="^max_rows must"), flag_names():
        raise DataError("max_rows must be here")


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
