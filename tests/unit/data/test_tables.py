"""read_table: every format round-trips through pandas' own writers; every bad input fails
with the right error class and a one-line message that names the problem and the fix."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from probe_rnn.data import check_table, label_names, read_table
from probe_rnn.errors import DataError, InputFileError, ProbeRnnError

TEXTS = ["a cat sat", 'he said "hi", then left', "tab\tinside", "  padded  ", "123", "NA"]
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg"]


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"sentence": TEXTS, "y": LABELS, "extra": range(len(TEXTS))})


def _write(df: pd.DataFrame, path: Path) -> Path:
    name = path.name
    if name.endswith(".csv") or name.endswith(".csv.gz"):
        df.to_csv(path, index=False)
    elif name.endswith(".tsv"):
        df.to_csv(path, sep="\t", index=False)
    elif name.endswith(".jsonl") or name.endswith(".json"):
        df.to_json(path, orient="records", lines=True, force_ascii=False)
    elif name.endswith(".parquet"):
        df.to_parquet(path, index=False)
    return path


def _one_line_error(exc_info: pytest.ExceptionInfo) -> str:
    message = str(exc_info.value)
    assert "\n" not in message and message.strip() == message and len(message) > 20
    assert isinstance(exc_info.value, ProbeRnnError)
    return message


@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.jsonl", "t.json", "t.parquet", "t.csv.gz"])
def test_each_format_round_trips(tmp_path: Path, name: str) -> None:
    path = _write(_frame(), tmp_path / name)
    df = read_table(path, text="sentence", label="y")
    assert list(df.columns) == ["text", "label"]
    assert df["text"].tolist() == TEXTS  # kept exactly: quotes, tabs, spaces, "NA", digits
    assert df["label"].tolist() == LABELS
    assert isinstance(df.index, pd.RangeIndex)


def test_json_array_file(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps([{"text": "x", "label": 1}, {"text": "y", "label": 2}]))
    assert read_table(path)["label"].tolist() == ["1", "2"]


def test_utf8_with_bom_and_non_ascii(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes("\ufefftext,label\nçà va,fr\nhello,en\n".encode())
    df = read_table(path)
    assert df["text"].tolist() == ["çà va", "hello"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_int_and_integral_float_labels_become_decimal_strings(tmp_path: Path, suffix: str) -> None:
    df = pd.DataFrame({"text": ["a", "b", "c"], "label": [1.0, 0.0, 10.0]})
    df2 = pd.DataFrame({"text": ["a", "b", "c"], "label": [1, 0, 10]})
    for frame in (df, df2):
        out = read_table(_write(frame, tmp_path / f"t{suffix}"))
        assert out["label"].tolist() == ["1", "0", "10"]


def test_label_names_numeric_then_string_order() -> None:
    assert label_names(pd.Series(["10", "2", "1", "2"])) == ["1", "2", "10"]
    assert label_names(pd.Series(["b", "a", "10", "2"])) == ["10", "2", "a", "b"]
    assert label_names([3, 1.0, None]) == ["1", "3"]


def test_split_column_kept_and_aliases_normalised(tmp_path: Path) -> None:
    df = pd.DataFrame({"text": list("abcd"), "label": list("xyxy"),
                       "split": ["train", "Validation", " test", "dev"]})
    out = read_table(_write(df, tmp_path / "t.csv"))
    assert out["split"].tolist() == ["train", "dev", "test", "dev"]


def test_check_table_on_dataframe() -> None:
    out = check_table(pd.DataFrame({"s": ["a", "b"], "l": [0, 1]}), text="s", label="l")
    assert out.to_dict("list") == {"text": ["a", "b"], "label": ["0", "1"]}


# ------------------------------------------------------------------------------ errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as info:
        read_table(tmp_path / "nope.csv")
    assert "not found" in _one_line_error(info)
    assert isinstance(info.value, FileNotFoundError)


def test_unknown_suffix_lists_supported(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    path.write_text("x")
    with pytest.raises(DataError) as info:
        read_table(path)
    message = _one_line_error(info)
    for suffix in (".csv", ".tsv", ".jsonl", ".json", ".parquet"):
        assert suffix in message


@pytest.mark.parametrize("role", ["text", "label"])
def test_missing_column_lists_present_and_names_option(tmp_path: Path, role: str) -> None:
    path = _write(_frame(), tmp_path / "t.csv")
    kwargs = {"text": "sentence", "label": "y", role: "Sentence_x"}
    with pytest.raises(DataError) as info:
        read_table(path, **kwargs)
    message = _one_line_error(info)
    assert "'sentence'" in message and "'y'" in message and "'extra'" in message
    assert f"--{role}" in message


@pytest.mark.parametrize("content", ["", "text,label\n"])
def test_empty_table(tmp_path: Path, content: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(DataError) as info:
        read_table(path)
    assert "empty" in _one_line_error(info) or "no rows" in str(info.value)


def test_empty_parquet_table(tmp_path: Path) -> None:
    path = _write(pd.DataFrame({"text": pd.Series([], dtype=str),
                                "label": pd.Series([], dtype=str)}), tmp_path / "t.parquet")
    with pytest.raises(DataError, match="no rows"):
        read_table(path)


def test_blank_text_cells_counted_with_rows(tmp_path: Path) -> None:
    df = pd.DataFrame({"text": ["ok", "", "fine", "   ", None, "x"], "label": list("ababab")})
    with pytest.raises(DataError) as info:
        read_table(_write(df, tmp_path / "t.jsonl"))
    message = _one_line_error(info)
    assert "3 rows" in message and "2, 4, 5" in message


def test_nan_labels_counted_with_rows(tmp_path: Path) -> None:
    df = pd.DataFrame({"text": list("abcde"), "label": [1, None, 0, None, 1]})
    with pytest.raises(DataError) as info:
        read_table(_write(df, tmp_path / "t.csv"))
    message = _one_line_error(info)
    assert "2 rows" in message and "2, 4" in message and "NaN" in message


def test_single_class(tmp_path: Path) -> None:
    df = pd.DataFrame({"text": list("abc"), "label": ["x", "x", "x"]})
    with pytest.raises(DataError) as info:
        read_table(_write(df, tmp_path / "t.parquet"))
    assert "single class" in _one_line_error(info) and "'x'" in str(info.value)


def test_non_utf8_reports_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    raw = b"text,label\ncaf\xe9" + b",a\nb,c\n"
    path.write_bytes(raw)
    with pytest.raises(DataError) as info:
        read_table(path)
    message = _one_line_error(info)
    offset = raw.index(0xE9)
    assert f"byte offset {offset}" in message and "UTF-8" in message


def test_non_utf8_inside_gzip(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv.gz"
    path.write_bytes(gzip.compress(b"text\tlabel\n\xff\xfex\ta\n"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_table(path)


def test_bad_split_values(tmp_path: Path) -> None:
    df = pd.DataFrame({"text": list("abcd"), "label": list("xyxy"),
                       "split": ["train", "holdout", "test", ""]})
    with pytest.raises(DataError) as info:
        read_table(_write(df, tmp_path / "t.csv"))
    message = _one_line_error(info)
    assert "'holdout'" in message and "2 values that are not" in message and "2, 4" in message


def test_malformed_csv_and_jsonl(tmp_path: Path) -> None:
    bad_csv = tmp_path / "t.csv"
    bad_csv.write_text('text,label\n"unterminated,a\n')
    with pytest.raises(DataError) as info:
        read_table(bad_csv)
    _one_line_error(info)
    bad_jsonl = tmp_path / "t.jsonl"
    bad_jsonl.write_text('{"text": "a", "label": 1}\n{"text": \n')
    with pytest.raises(DataError, match="line 2"):
        read_table(bad_jsonl)


def test_same_column_for_text_and_label(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="text= and label="):
        read_table(_write(_frame(), tmp_path / "t.csv"), text="y", label="y")
