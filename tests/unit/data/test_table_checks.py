"""Raw-text checks that pandas and json let pass (``probe_rnn.data.table_checks``): a header
naming a column twice is refused (pandas would rename it ``text.1``), and a JSON record naming a
key twice is refused (``json`` keeps the last)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from probe_rnn.data.table_checks import DuplicateKey, check_header, unique_keys
from probe_rnn.errors import DataError


@pytest.mark.parametrize(("content", "sep"), [("text,label,text\na,b,c\n", ","),
                                             ('"text"\tlabel\ttext\na\tb\tc\n', "\t")])
def test_a_header_naming_a_column_twice_is_refused(content: str, sep: str) -> None:
    assert list(pd.read_csv(io.StringIO(content), sep=sep).columns)[-1] == "text.1"  # silent
    with pytest.raises(DataError, match=r"dev\.csv: the header names column 'text' more than"):
        check_header(Path("dev.csv"), content, sep)


def test_a_header_of_distinct_names_passes() -> None:
    check_header(Path("dev.csv"), 'text,label,"text, again"\n', ",")  # quoted comma: 3 names
    check_header(Path("empty.csv"), "", ",")


def test_a_json_record_naming_a_key_twice_is_refused() -> None:
    record = '{"text": "first", "label": "x", "text": "second"}'
    assert json.loads(record)["text"] == "second"  # what json does silently
    with pytest.raises(DuplicateKey, match=r"key 'text' twice"):
        json.loads(record, object_pairs_hook=unique_keys)
    assert json.loads('{"a": {"b": 1}, "c": 2}', object_pairs_hook=unique_keys) == \
        {"a": {"b": 1}, "c": 2}
