"""ensure_splits: seeded, stratified, deterministic; existing splits are validated, not redrawn."""

from __future__ import annotations

import pandas as pd
import pytest

from probe_rnn.data import ensure_splits
from probe_rnn.errors import ConfigError, DataError


def _table() -> pd.DataFrame:
    labels = ["a"] * 50 + ["b"] * 30 + ["c"] * 1
    return pd.DataFrame({"text": [f"t{i}" for i in range(len(labels))], "label": labels})


def test_stratified_counts_per_class() -> None:
    df = ensure_splits(_table(), seed=0)
    counts = df.groupby("label")["split"].value_counts().unstack(fill_value=0)
    assert counts.loc["a"].to_dict() == {"dev": 5, "test": 5, "train": 40}
    assert counts.loc["b"].to_dict() == {"dev": 3, "test": 3, "train": 24}
    assert counts.loc["c"].to_dict() == {"dev": 0, "test": 0, "train": 1}  # keeps a train row


def test_seeded_and_deterministic_and_pure() -> None:
    table = _table()
    first = ensure_splits(table, seed=7)
    assert "split" not in table.columns  # input untouched
    pd.testing.assert_frame_equal(first, ensure_splits(table, seed=7))
    assert not first["split"].equals(ensure_splits(table, seed=8)["split"])
    assert first.index.equals(table.index) and first["text"].equals(table["text"])


def test_existing_split_validated_not_redrawn() -> None:
    table = _table().assign(split=["test"] * 81)
    assert (ensure_splits(table)["split"] == "test").all()
    with pytest.raises(DataError, match="'holdout'"):
        ensure_splits(table.assign(split=["holdout"] * 81))


@pytest.mark.parametrize("dev,test", [(-0.1, 0.1), (0.5, 0.5), (0.1, 1.0)])
def test_bad_fractions(dev: float, test: float) -> None:
    with pytest.raises(ConfigError):
        ensure_splits(_table(), dev=dev, test=test)


def test_a_table_the_seeded_split_gives_no_dev_row_is_described():
    from probe_rnn.data.splits import check_splittable

    table = pd.DataFrame({"text": [f"t{i}" for i in range(40)],
                          "label": [f"c{i % 10}" for i in range(40)]})
    assert (ensure_splits(table)["split"] == "dev").sum() == 0  # the reference: no dev row
    with pytest.raises(DataError, match=r"no split column and 40 rows in 10 classes, at most 4 "
                       r"per class: .* at least 5 rows"):
        check_splittable(table)
    grown = pd.concat([table, table.head(1)], ignore_index=True)  # c0 now has 5 rows
    check_splittable(grown)
    assert (ensure_splits(grown)["split"] == "dev").sum() >= 1
    check_splittable(table.assign(split=["train", "dev"] * 20))  # a split column: unchecked
