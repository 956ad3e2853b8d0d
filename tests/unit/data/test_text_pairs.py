"""Two text columns (--text a,b): read into text and text_2, fed as pairs."""

from __future__ import annotations

import pandas as pd
import pytest

from probe_rnn.data import model_inputs, read_table
from probe_rnn.data.text_pairs import text_columns
from probe_rnn.errors import DataError


def test_two_columns_are_read_as_text_and_text_2(tmp_path) -> None:
    pd.DataFrame({"q1": ["a b", "c"], "q2": ["d", "e f"], "same": [1, 0]}).to_csv(
        tmp_path / "pairs.csv", index=False)
    df = read_table(tmp_path / "pairs.csv", text="q1, q2", label="same")
    assert list(df.columns) == ["text", "text_2", "label"]
    assert model_inputs(df) == [("a b", "d"), ("c", "e f")]
    assert model_inputs(df.drop(columns="text_2")) == ["a b", "c"]


def test_a_column_named_with_a_comma_is_one_column() -> None:
    assert text_columns("a,b", ["a,b", "label"]) == ["a,b"]
    assert text_columns("a,b", ["a", "b"]) == ["a", "b"]


@pytest.mark.parametrize("bad", ["a,a", "a,", "a,b,c"])
def test_other_comma_lists_are_refused_with_the_fix(bad) -> None:
    with pytest.raises(DataError, match="with text=a,b"):
        text_columns(bad)
