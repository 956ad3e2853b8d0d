"""Bundled datasets, offline and deterministic, selectable by name (``--dataset NAME``).

``names``
    Real US first names (1990 US census lists shipped in the ``names`` package:
    ``dist.female.first``, ``dist.male.first``; each line gives a name and its frequency as a
    percentage of people of that gender). Label ``female`` / ``male``. A name listed under both
    genders takes the gender with the larger frequency when that frequency is at least twice the
    other one; closer calls are near-ties and are dropped (their count is in
    ``df.attrs["ambiguous"]``, 29 names such as Casey, Jessie, Morgan). Extra columns
    ``freq_female`` and ``freq_male`` (census percent, 0 when unlisted).
``names-kind``
    First names (female and male lists together) against surnames (``dist.all.last``), label
    ``first`` / ``surname``, about 92k rows, for scale work (heavily imbalanced: 5% first names).
    A first name's population share is the mean of its female and male percentages (the census
    population is about half each); a string in both lists takes the kind whose share is at least
    twice the other's, otherwise it is dropped (count in ``df.attrs["ambiguous"]``). Extra
    columns ``freq_first``, ``freq_surname`` (percent of all people).
``synthetic``, ``synthetic-first|last|count|negation``
    The generated probing corpus of :mod:`probe_rnn.data.synthetic` (2000 rows, one rule each;
    plain ``synthetic`` is the ``first`` rule, the default), extra columns ``rule`` and
    ``evidence_pos``.

Texts are names in title case as the ``names`` package writes them (``"Mary"``, ``"Mcdonald"``);
rows are sorted by text. Every dataset has a ``split`` column, seeded and stratified 80/10/10
(:func:`~probe_rnn.data.splits.ensure_splits`); ``seed`` changes only the split (and, for the
synthetic corpus, the sentences).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from probe_rnn.errors import DataError, ParameterError

if TYPE_CHECKING:  # pandas and numpy load with a dataset, not with the list of datasets
    import pandas as pd

TIE_FACTOR = 2.0
"""A string listed in two census lists goes to the one whose frequency is >= this times the
other's; otherwise it is a near-tie and is dropped."""

_DESCRIPTIONS: dict[str, str] = {
    "names": "US census first names, female vs male (~5.1k rows; names listed for both genders "
             "go to the gender >=2x more frequent, near-ties dropped)",
    "names-kind": "US census first names vs surnames (~92k rows, 5% first; strings in both lists "
                  "go to the kind >=2x more frequent, near-ties dropped)",
    "synthetic": "synthetic probing corpus, default rule 'first' (2000 rows, pos/neg, 3-40 "
                 "words): the first word decides the label",
    "synthetic-first": "synthetic corpus: the first word's polarity decides; the last word is a "
                       "random-polarity distractor",
    "synthetic-last": "synthetic corpus: the last word's polarity decides; the first word is a "
                      "random-polarity distractor",
    "synthetic-count": "synthetic corpus: pos iff more positive than negative words (5-40 words; "
                       "first and last polarity words independent of the label)",
    "synthetic-negation": "synthetic corpus: one polarity word, flipped by a 'not' up to 3 words "
                          "before it",
}
_CENSUS_FILES = {"female": "dist.female.first", "male": "dist.male.first",
                 "last": "dist.all.last"}


def list_datasets() -> dict[str, str]:
    """Bundled dataset names mapped to a one-line description."""
    return dict(_DESCRIPTIONS)


def load_dataset(name: str, seed: int = 0) -> pd.DataFrame:
    """Load a bundled dataset by name.

    Parameters
    ----------
    name
        One of :func:`list_datasets`.
    seed
        Seed of the split (and of the synthetic sentences).

    Returns
    -------
    pandas.DataFrame
        Columns ``text``, ``label``, ``split`` then dataset-specific extras; ``RangeIndex``.

    Raises
    ------
    ConfigError
        Unknown name (the message lists the valid ones).
    DataError
        The ``names`` package's census files are not installed.
    """
    from probe_rnn.data.splits import ensure_splits
    from probe_rnn.data.synthetic import make_synthetic
    from probe_rnn.validation import shown

    if name not in _DESCRIPTIONS:
        raise ParameterError("dataset", f"one of {', '.join(_DESCRIPTIONS)}", shown(name))
    if name.startswith("synthetic"):
        rule = name.partition("-")[2] or "first"
        return make_synthetic(rule, seed=seed)
    df = _names_gender() if name == "names" else _names_kind()
    ambiguous = df.attrs.get("ambiguous", 0)
    out = ensure_splits(df, seed=seed)
    columns = ["text", "label", "split"] + [c for c in df.columns if c not in ("text", "label")]
    out = out[columns].reset_index(drop=True)
    out.attrs["ambiguous"] = ambiguous
    return out


@functools.cache
def census_table(which: str) -> dict[str, float]:
    """One census list of the ``names`` package as ``{NAME (upper case): percent}``.

    Parameters
    ----------
    which
        ``"female"``, ``"male"`` (first names) or ``"last"`` (surnames).
    """
    path = _census_dir() / _CENSUS_FILES[which]
    table: dict[str, float] = {}
    for number, line in enumerate(path.read_text(encoding="ascii").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise DataError(f"{path}: line {number} is not 'NAME FREQ CUMULATIVE RANK'; "
                            "reinstall the names package (pip install --force-reinstall names)")
        table[parts[0]] = float(parts[1])
    return table


def _census_dir() -> Path:
    spec = importlib.util.find_spec("names")
    if spec is None or spec.origin is None:
        raise DataError("the 'names' package (US census name lists) is not installed; "
                        "pip install names")
    folder = Path(spec.origin).parent
    if not all((folder / f).is_file() for f in _CENSUS_FILES.values()):
        raise DataError(f"census files missing in {folder}; reinstall the names package "
                        "(pip install --force-reinstall names)")
    return folder


def _resolve(a: float, b: float) -> int:
    """0 when ``a`` wins, 1 when ``b`` wins, -1 for a near-tie (within TIE_FACTOR)."""
    if a > 0 and a >= TIE_FACTOR * b:
        return 0
    if b > 0 and b >= TIE_FACTOR * a:
        return 1
    return -1


def _assign(first: dict[str, float], second: dict[str, float],
            labels: tuple[str, str]) -> tuple[pd.DataFrame, int]:
    import pandas as pd

    rows = []
    ambiguous = 0
    for key in sorted(set(first) | set(second)):
        a, b = first.get(key, 0.0), second.get(key, 0.0)
        winner = _resolve(a, b) if key in first and key in second else int(key not in first)
        if winner < 0:
            ambiguous += 1
            continue
        rows.append((key.capitalize(), labels[winner], a, b))
    frame = pd.DataFrame(rows, columns=["text", "label", "freq_a", "freq_b"])
    return frame, ambiguous


def _names_gender() -> pd.DataFrame:
    frame, ambiguous = _assign(census_table("female"), census_table("male"), ("female", "male"))
    frame = frame.rename(columns={"freq_a": "freq_female", "freq_b": "freq_male"})
    frame.attrs["ambiguous"] = ambiguous
    return frame


def _names_kind() -> pd.DataFrame:
    female, male = census_table("female"), census_table("male")
    first = {k: (female.get(k, 0.0) + male.get(k, 0.0)) / 2 for k in set(female) | set(male)}
    frame, ambiguous = _assign(first, census_table("last"), ("first", "surname"))
    frame = frame.rename(columns={"freq_a": "freq_first", "freq_b": "freq_surname"})
    frame.attrs["ambiguous"] = ambiguous
    return frame
