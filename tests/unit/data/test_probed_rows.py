"""Which rows a run probes: held-out by default, and an honest account of where the split came
from (the table's column, the model's own reproduced split, or an unknown one)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from probe_rnn.data import ensure_splits
from probe_rnn.data.probed_rows import choose_rows, split_source
from probe_rnn.errors import DataError, ParameterError
from probe_rnn.hashing import data_checksum


def _table(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"text": [f"w{i}" for i in range(n)],
                         "label": rng.choice(["a", "b"], size=n)})


def test_heldout_rows_are_exactly_the_dev_and_test_rows() -> None:
    df = ensure_splits(_table(), seed=3)
    rows = choose_rows(df, "heldout", "the table's split column", True)
    expected = np.flatnonzero(df["split"].isin(["dev", "test"]).to_numpy())
    np.testing.assert_array_equal(rows.index, expected)
    np.testing.assert_array_equal(rows.train_index, np.flatnonzero(df["split"] == "train"))
    assert rows.splits == {"dev": int((df["split"] == "dev").sum()),
                           "test": int((df["split"] == "test").sum())}
    assert not rows.may_include_training_rows
    assert rows.describe().startswith(f"{len(expected)} held-out (dev + test) rows probed")
    every = choose_rows(df, "all", "the table's split column", True)
    assert len(every.index) == len(df) and every.may_include_training_rows
    assert "include rows the model trained on" in every.describe()


def test_the_split_is_the_models_only_when_it_can_be_reproduced() -> None:
    table = _table()
    meta = {"data_checksum": data_checksum(table["text"], table["label"]), "seed": 0}
    assert split_source(table, meta, seed=0) == (
        "the model's own training split (same table, seed 0)", True)
    for other_meta, seed in ((meta, 1), ({**meta, "data_checksum": "x"}, 0), ({}, 0)):
        text, trusted = split_source(table, other_meta, seed)
        assert not trusted and "need not share" in text
    rows = choose_rows(ensure_splits(table, seed=1), "heldout", text, trusted)
    assert rows.may_include_training_rows and "may include rows it trained on" in rows.describe()
    with_column = ensure_splits(table, seed=5)
    assert split_source(with_column, {}, seed=0) == ("the table's split column", True)


def test_bad_choices_and_tables_without_heldout_rows_are_one_line_errors() -> None:
    df = ensure_splits(_table(), seed=0)
    with pytest.raises(ParameterError) as refused:
        choose_rows(df, "dev", "x", True)
    assert refused.value.parameter == "probe_rows"
    only_train = df.assign(split="train")
    with pytest.raises(DataError, match=r"only 0 held-out .* pass probe_rows=all"):
        choose_rows(only_train, "heldout", "x", True)


def test_held_out_rows_with_a_training_rows_text_are_counted_and_removed_unless_kept() -> None:
    df = ensure_splits(_table(120), seed=2)
    train_texts = df.loc[df["split"] == "train", "text"].to_numpy()
    held = np.flatnonzero(df["split"].isin(["dev", "test"]).to_numpy())
    copied = held[::2]  # every other held-out row repeats a training sentence verbatim
    df.loc[copied, "text"] = train_texts[: len(copied)]
    rows = choose_rows(df, "heldout", "the table's split column", True)
    np.testing.assert_array_equal(rows.index, np.setdiff1d(held, copied))
    assert rows.card()["duplicates"] == {"held_out_rows_with_training_text": len(copied),
                                         "removed": True}
    warning = rows.duplicates_warning()
    assert warning.startswith(f"warning: {len(copied)} held-out rows repeat the text of a "
                              "training row; removed") and "\n" not in warning
    kept = choose_rows(df, "heldout", "the table's split column", True, keep_duplicates=True)
    np.testing.assert_array_equal(kept.index, held)
    assert kept.card()["duplicates"] == {"held_out_rows_with_training_text": len(copied),
                                         "removed": False}
    assert "probed as held-out" in kept.duplicates_warning()
    clean = choose_rows(ensure_splits(_table(120), seed=2), "heldout", "x", True)
    assert clean.duplicates == 0 and clean.duplicates_warning() == ""
    assert clean.card()["duplicates"]["removed"] is False
    everything = df.assign(text=df["text"].where(df["split"] == "train", train_texts[0]))
    with pytest.raises(DataError, match=r"only 0 held-out .* keep_duplicates=True keeps them"):
        choose_rows(everything, "heldout", "x", True)
