"""Reading labelled text tables: csv, tsv, jsonl / json, parquet.

:func:`read_table` turns a user's file into the one table shape every later stage expects:
columns ``text`` (str), ``label`` (str) and, when the file has one, ``split`` (one of
``train``, ``dev``, ``test``). Other columns are dropped. :func:`check_table` applies the same
validation and normalisation to a DataFrame already in memory.

Formats are chosen by suffix: ``.csv``, ``.tsv``, ``.jsonl``, ``.json`` (JSON Lines, or one JSON
array of objects), ``.parquet``; the text formats may also be compressed (``.csv.gz``,
``.jsonl.bz2``, ``.tsv.xz``). Text files must be UTF-8 (a byte-order mark is accepted).

Normalisation:

* text cells are kept exactly as written (no stripping, no case change); numbers become their
  string form;
* labels may be strings or numbers: integers become their decimal string (``1`` -> ``"1"``),
  integral floats too (``1.0`` -> ``"1"``, which is what an int column with a gap turns into),
  other strings are stripped of surrounding whitespace; empty cells and the spellings ``nan``,
  ``NaN``, ``NA``, ``N/A``, ``null``, ``<NA>`` are missing labels (an error, with row numbers);
* ``split`` values are matched case-insensitively; ``training``, ``validation``/``valid``/``val``
  /``development`` and ``testing`` are accepted as aliases of ``train``, ``dev`` and ``test``.

Every problem raises :class:`~probe_rnn.errors.DataError` (or
:class:`~probe_rnn.errors.InputFileError` for a missing file) with a one-line message that names
the problem and the fix.
"""

from __future__ import annotations

import bz2
import csv
import difflib
import gzip
import io
import json
import lzma
import math
import re
from collections.abc import Callable, Iterable
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from probe_rnn.data.table_checks import DuplicateKey, check_header, unique_keys
from probe_rnn.data.text_pairs import SECOND_TEXT, text_columns
from probe_rnn.errors import DataError, InputFileError, Mention

SUPPORTED_SUFFIXES: tuple[str, ...] = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
"""Table formats :func:`read_table` understands (text formats also as .gz, .bz2, .xz)."""

SPLIT_NAMES: tuple[str, ...] = ("train", "dev", "test")
"""Allowed values of the ``split`` column, in their canonical order."""

_COMPRESSION: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.decompress,
    ".bz2": bz2.decompress,
    ".xz": lzma.decompress,
}
_SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "dev": "dev", "validation": "dev", "valid": "dev", "val": "dev", "development": "dev",
    "test": "test", "testing": "test",
}
_MISSING_LABELS = frozenset({"", "nan", "NaN", "NAN", "NA", "N/A", "n/a", "null", "NULL", "<NA>"})
_INTEGRAL_FLOAT = re.compile(r"^[+-]?\d+\.0*$")
_MAX_ROWS_SHOWN = 5


def read_table(path: str | Path, text: str = "text", label: str = "label") -> pd.DataFrame:
    """Read a labelled text table from a file.

    Parameters
    ----------
    path
        File ending in ``.csv``, ``.tsv``, ``.jsonl``, ``.json`` or ``.parquet`` (text formats
        optionally compressed: ``.gz``, ``.bz2``, ``.xz``).
    text, label
        Names of the text and label columns in the file (the CLI's ``--text`` / ``--label``);
        ``text="a,b"`` names two text columns (a pair model's texts, an encoder-decoder's source
        and target), read into ``text`` and ``text_2``.

    Returns
    -------
    pandas.DataFrame
        Columns ``text`` (str), ``text_2`` with two text columns, ``label`` (str) and ``split``
        when the file has a ``split``
        column; a fresh ``RangeIndex`` in file order, shape ``(rows, 2 or 3)``.

    Raises
    ------
    InputFileError
        The file does not exist or is a folder.
    DataError
        Unknown suffix, unparsable or non-UTF-8 content, missing columns, no rows, blank texts,
        missing labels, a single class, or unknown split values.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"data file not found: {path}; check the path")
    if path.is_dir():
        raise InputFileError(f"{path} is a folder, not a table file; pass a .csv, .tsv, "
                             ".jsonl, .json or .parquet file")
    fmt, compression = _format_of(path)
    if fmt == ".parquet":
        frame = _read_parquet(path)
    else:
        content = _decode(path, _read_bytes(path, compression))
        frame = _parse_text(path, fmt, content)
    return check_table(frame, text=text, label=label, source=path.name)


def check_table(
    df: pd.DataFrame, text: str = "text", label: str = "label", source: str = "table"
) -> pd.DataFrame:
    """Validate and normalise an in-memory table (the rules of :func:`read_table`).

    Parameters
    ----------
    df
        Any DataFrame holding the text and label columns (and optionally ``split``).
    text, label
        Column names of the text (or two, ``"a,b"``) and the label.
    source
        Name used in error messages (a file name, ``"dataset:names"``, ...).

    Returns
    -------
    pandas.DataFrame
        A new frame with columns ``text``, ``label`` (+ ``split``), ``RangeIndex``.
    """
    columns = text_columns(text, df.columns)
    if label in columns:
        raise DataError(f"{source}: text and label are both the column {label!r}; "
                        "pass different ", Mention("text"), " and ", Mention("label"),
                        " columns")
    for role, column in [*(("text", c) for c in columns), ("label", label)]:
        if column not in df.columns:
            raise DataError(_missing_column_message(source, role, column, df.columns))
    if len(df) == 0:
        raise DataError(f"{source} has no rows; add rows with a text and a label")
    out = pd.DataFrame({
        "text": _normalise_texts(df[columns[0]].tolist(), source, columns[0]),
        "label": _normalise_labels(df[label].tolist(), source, label),
    })
    if len(columns) == 2:  # a pair (a, b), or an encoder-decoder's source and target
        out.insert(1, SECOND_TEXT, _normalise_texts(df[columns[1]].tolist(), source,
                                                    columns[1]))
    if "split" in df.columns and "split" not in (text, label):
        out["split"] = normalise_splits(df["split"].tolist(), source)
    return out


def label_names(series: pd.Series | Iterable[Any]) -> list[str]:
    """Distinct labels in a stable order.

    Numeric order when every label is an integer written in decimal (``"2"`` before ``"10"``),
    otherwise sorted as strings. Missing values are ignored.

    Parameters
    ----------
    series
        Labels, shape ``(rows,)``.

    Returns
    -------
    list[str]
        The distinct labels as strings.
    """
    names = [v for v in {_label_to_str(v) for v in series} if v is not None]
    if names and all(re.fullmatch(r"[+-]?\d+", v) for v in names):
        return sorted(names, key=lambda v: (int(v), v))
    return sorted(names)


def normalise_splits(values: list[Any], source: str = "table") -> list[str]:
    """Map split values to ``train``/``dev``/``test`` (aliases accepted) or raise DataError.

    Parameters
    ----------
    values
        Raw split cells, shape ``(rows,)``.
    source
        Name used in error messages.
    """
    out: list[str] = []
    bad: list[int] = []
    bad_values: list[str] = []
    for row, value in enumerate(values):
        key = None if _is_missing(value) else str(value).strip().lower()
        split = _SPLIT_ALIASES.get(key) if key is not None else None
        if split is None:
            bad.append(row)
            if repr(value) not in bad_values:
                bad_values.append(repr(value))
        out.append(split or "")
    if bad:
        shown = ", ".join(bad_values[:_MAX_ROWS_SHOWN])
        count = f"{len(bad)} value" + ("s that are" if len(bad) > 1 else " that is")
        raise DataError(f"{source}: column 'split' has {count} not train, dev or test ({shown}; "
                        f"{_rows_text(bad)}); use train, dev or test, or drop the split column")
    return out


# --------------------------------------------------------------------------- reading files


def _format_of(path: Path) -> tuple[str, str | None]:
    suffixes = [s.lower() for s in path.suffixes]
    compression = suffixes[-1] if suffixes and suffixes[-1] in _COMPRESSION else None
    core = suffixes[:-1] if compression else suffixes
    fmt = core[-1] if core else ""
    if fmt not in SUPPORTED_SUFFIXES or (compression and fmt == ".parquet"):
        shown = "".join(path.suffixes) or "no suffix"
        raise DataError(f"cannot tell the format of {path.name} ({shown}); supported suffixes: "
                        f"{', '.join(SUPPORTED_SUFFIXES)} (text formats also .gz, .bz2, .xz); "
                        "rename the file")
    return fmt, compression


def _read_bytes(path: Path, compression: str | None) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}; check its permissions") from exc
    if compression is None:
        return raw
    try:
        return _COMPRESSION[compression](raw)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise DataError(f"{path.name} is not valid {compression} data ({exc}); "
                        "re-compress it or give the uncompressed file") from exc


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start]
        utf16 = raw[:2] in (b"\xff\xfe", b"\xfe\xff")
        hint, source = ("it looks like UTF-16; ", "utf-16") if utf16 else ("", "latin1")
        raise DataError(f"{path.name} is not UTF-8 text (byte 0x{bad:02x} at byte offset "
                        f"{exc.start}); {hint}re-encode it as UTF-8, e.g. "
                        f"`iconv -f {source} -t utf-8 {path.name} > fixed{path.suffix}`") from exc


def _parse_text(path: Path, fmt: str, content: str) -> pd.DataFrame:
    if fmt in (".csv", ".tsv"):
        kind = "CSV" if fmt == ".csv" else "TSV"
        if not content.strip():
            raise DataError(f"{path.name} is empty; add a header line and rows")
        check_header(path, content, "," if fmt == ".csv" else "\t")
        try:
            return pd.read_csv(io.StringIO(content), sep="," if fmt == ".csv" else "\t",
                               dtype=str, keep_default_na=False, quoting=csv.QUOTE_MINIMAL)
        except (pd.errors.ParserError, csv.Error, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"{path.name}: cannot parse as {kind} ({first}); check the "
                            "delimiter and quoting") from exc
    if fmt == ".json" and content.lstrip().startswith("["):
        return _records_frame(path, _json_array(path, content))
    return _records_frame(path, _json_lines(path, content))


def _json_array(path: Path, content: str) -> list[Any]:
    try:
        return json.loads(content, object_pairs_hook=unique_keys)
    except DuplicateKey as exc:
        raise DataError(f"{path.name}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path.name}: invalid JSON at line {exc.lineno} column {exc.colno} "
                        f"({exc.msg}); fix the file or write one JSON object per line") from exc


def _json_lines(path: Path, content: str) -> list[Any]:
    records = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line, object_pairs_hook=unique_keys))
        except DuplicateKey as exc:
            raise DataError(f"{path.name}: line {number}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"{path.name}: line {number} is not valid JSON ({exc.msg}); "
                            "write one JSON object per line (JSON Lines)") from exc
    return records


def _records_frame(path: Path, records: list[Any]) -> pd.DataFrame:
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise DataError(f"{path.name}: record {number} is a {type(record).__name__}, not an "
                            "object; write each row as {\"text\": ..., \"label\": ...}")
    if not records:
        raise DataError(f"{path.name} has no rows; add rows with a text and a label")
    return pd.DataFrame.from_records(records)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for broken files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path.name}: cannot read as parquet ({first}); check that the file "
                        "is a complete parquet file") from exc


# --------------------------------------------------------------------------- normalising


def _missing_column_message(source: str, role: str, column: str, present: Iterable[Any]) -> str:
    names = [str(c) for c in present]
    close = difflib.get_close_matches(column, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    shown = ", ".join(repr(n) for n in names[:20]) + (", ..." if len(names) > 20 else "")
    return (f"{source}: no {role} column {column!r}{hint}; columns present: {shown or 'none'}; "
            f"pass --{role} NAME to choose the {role} column")


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _rows_text(rows: list[int]) -> str:
    shown = ", ".join(str(r + 1) for r in rows[:_MAX_ROWS_SHOWN])
    more = ", ..." if len(rows) > _MAX_ROWS_SHOWN else ""
    word = "data row" if len(rows) == 1 else "data rows"
    return f"{word} {shown}{more}, counted from 1"


def _normalise_texts(values: list[Any], source: str, column: str) -> list[str]:
    out: list[str] = []
    blank: list[int] = []
    for row, value in enumerate(values):
        if isinstance(value, bytes):
            value = _bytes_text(value, source, row)
        if isinstance(value, dict | list | tuple | np.ndarray):
            raise DataError(f"{source}: the text in column {column!r} of data row {row + 1} is "
                            f"a {type(value).__name__}, not text; give each row's text as a string")
        if _is_missing(value) or not str(value).strip():
            blank.append(row)
            out.append("")
        else:
            out.append(value if isinstance(value, str) else str(value))
    if blank:
        count = f"{len(blank)} row" + ("s have" if len(blank) > 1 else " has")
        raise DataError(f"{source}: {count} empty text in column {column!r} "
                        f"({_rows_text(blank)}); fill in or remove those rows")
    return out


def _bytes_text(value: bytes, source: str, row: int) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: text in row {row + 1} is not UTF-8 (byte offset {exc.start} "
                        "in that cell); re-encode the data as UTF-8") from exc


def _label_to_str(value: Any) -> str | None:
    """One label as its canonical string, or None when missing."""
    if _is_missing(value):
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = str(value).strip()
    if text in _MISSING_LABELS:
        return None
    if _INTEGRAL_FLOAT.match(text):
        return str(int(float(text)))
    return text


def _normalise_labels(values: list[Any], source: str, column: str) -> list[str]:
    out = [_label_to_str(v) for v in values]
    missing = [row for row, v in enumerate(out) if v is None]
    if missing:
        count = f"{len(missing)} row" + ("s have" if len(missing) > 1 else " has")
        raise DataError(f"{source}: {count} no label (NaN or empty) in column {column!r} "
                        f"({_rows_text(missing)}); fill in or remove those rows")
    classes = sorted(set(out))  # type: ignore[arg-type]
    if len(classes) < 2:
        raise DataError(f"{source}: column {column!r} has a single class ({classes[0]!r}) in "
                        f"{len(out)} rows; a classifier needs at least 2 classes: check ",
                        Mention("label"), " or add rows of another class")
    return out  # type: ignore[return-value]
