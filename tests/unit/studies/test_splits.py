"""A readout study's splits (``probe_rnn.studies.splits``): each seed draws its own split unless
the table brings one, the probed rows are held-out rows only, and the split card's
Nadeau–Bengio ratio is n_test / n_train exactly when the seeds' splits differ."""

from __future__ import annotations

import pandas as pd
import pytest

from probe_rnn.errors import DataError
from probe_rnn.studies.splits import probe_sample, seed_tables, split_card


def _table(with_split: bool = False) -> pd.DataFrame:
    df = pd.DataFrame({"text": [f"sentence {i}" for i in range(120)],
                       "label": ["a", "b", "c"] * 40})
    if with_split:
        df["split"] = (["train"] * 8 + ["dev", "test"]) * 12
    return df


def test_each_seed_draws_its_own_split_and_probes_held_out_rows() -> None:
    df = _table()
    tables = seed_tables(df, [0, 1], probe_rows=10)
    data0, data1 = tables[0][0], tables[1][0]
    assert not data0["split"].equals(data1["split"])  # seeded: another split per seed
    for data, probe in tables.values():
        assert len(data) == len(df) and len(probe) == 10
        assert (data.loc[probe.index, "split"] != "train").all()
        assert list(probe.index) == sorted(probe.index)
    card = split_card(df, tables)
    n = card["splits"]
    assert sum(n.values()) == len(df) and card["split_per_seed"] is True
    assert card["nb_ratio"] == pytest.approx(n["test"] / n["train"])
    assert card["probe_rows"] == 10


def test_a_tables_own_split_is_shared_by_every_seed() -> None:
    df = _table(with_split=True)
    tables = seed_tables(df, [0, 1, 2], probe_rows=5)
    assert tables[1] is tables[0] and tables[2] is tables[0]
    assert tables[0][0]["split"].tolist() == df["split"].tolist()
    card = split_card(df, tables)
    assert card["split_per_seed"] is False and card["nb_ratio"] == 0.0
    assert card["splits"] == {"train": 96, "dev": 12, "test": 12}
    redrawn = seed_tables(df, [0, 1], probe_rows=5, per_seed=True)
    assert not redrawn[0][0]["split"].equals(redrawn[1][0]["split"])


def test_probe_sample_takes_all_held_out_rows_when_few_and_refuses_none() -> None:
    data = _table(with_split=True)
    assert len(probe_sample(data, 1000, seed=0)) == 24  # every dev and test row
    with pytest.raises(DataError, match="no dev or test rows"):
        probe_sample(data.assign(split="train"), 10, seed=0)
