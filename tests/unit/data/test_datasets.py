"""Bundled census datasets against an independent reading of the `names` package's files."""

from __future__ import annotations

from pathlib import Path

import names
import pandas as pd
import pytest

from probe_rnn.data import list_datasets, load_dataset
from probe_rnn.errors import ConfigError

CENSUS = Path(names.__file__).parent


def _read(file: str) -> dict[str, float]:
    out = {}
    with open(CENSUS / file) as handle:
        for line in handle:
            name, freq, _cumulative, _rank = line.split()
            out[name.title()] = float(freq)
    return out


def _expected(a: dict[str, float], b: dict[str, float], labels: tuple[str, str]):
    """Hand-written reference of the documented rule: the side >= 2x the other wins."""
    kept, dropped = {}, 0
    for key in set(a) | set(b):
        fa, fb = a.get(key, 0.0), b.get(key, 0.0)
        if key not in b:
            kept[key] = labels[0]
        elif key not in a:
            kept[key] = labels[1]
        elif fa > 0 and fa >= 2 * fb:
            kept[key] = labels[0]
        elif fb > 0 and fb >= 2 * fa:
            kept[key] = labels[1]
        else:
            dropped += 1
    return kept, dropped


@pytest.fixture(scope="module")
def names_df() -> pd.DataFrame:
    return load_dataset("names")


def test_names_matches_census_rule(names_df: pd.DataFrame) -> None:
    expected, dropped = _expected(_read("dist.female.first"), _read("dist.male.first"),
                                  ("female", "male"))
    assert dict(zip(names_df["text"], names_df["label"], strict=True)) == expected
    assert len(names_df) == len(expected) and names_df.attrs["ambiguous"] == dropped == 29
    assert names_df["text"].is_unique


def test_names_label_sanity(names_df: pd.DataFrame) -> None:
    label = dict(zip(names_df["text"], names_df["label"], strict=True))
    assert label["Mary"] == "female" and label["Patricia"] == "female"
    assert label["John"] == "male" and label["James"] == "male"
    assert "Casey" not in label and "Jessie" not in label  # near-ties dropped
    assert set(names_df["label"]) == {"female", "male"}
    assert list(names_df.columns[:3]) == ["text", "label", "split"]


@pytest.mark.parametrize("name", ["names", "synthetic-count"])
def test_splits_are_stratified_80_10_10_and_seeded(name: str) -> None:
    df = load_dataset(name, seed=0)
    for _, group in df.groupby("label"):
        counts = group["split"].value_counts()
        assert abs(counts["test"] - 0.1 * len(group)) <= 1
        assert abs(counts["dev"] - 0.1 * len(group)) <= 1
    again = load_dataset(name, seed=0)
    pd.testing.assert_frame_equal(df, again)
    other = load_dataset(name, seed=1)
    assert not other["split"].equals(df["split"])


def test_names_kind_against_census() -> None:
    df = load_dataset("names-kind")
    female, male = _read("dist.female.first"), _read("dist.male.first")
    first = {k: (female.get(k, 0.0) + male.get(k, 0.0)) / 2 for k in set(female) | set(male)}
    expected, dropped = _expected(first, _read("dist.all.last"), ("first", "surname"))
    assert len(df) == len(expected) and 85_000 < len(df) < 95_000
    assert df.attrs["ambiguous"] == dropped
    label = dict(zip(df["text"], df["label"], strict=True))
    assert label == expected
    assert label["Smith"] == "surname" and label["Mary"] == "first" and label["James"] == "first"
    assert set(df["split"]) == {"train", "dev", "test"}


def test_list_and_unknown_dataset() -> None:
    catalogue = list_datasets()
    assert {"names", "names-kind", "synthetic", "synthetic-first", "synthetic-last",
            "synthetic-count", "synthetic-negation"} == set(catalogue)
    assert all(isinstance(v, str) and "\n" not in v and v for v in catalogue.values())
    with pytest.raises(ConfigError, match="names-kind"):
        load_dataset("imdb")
