"""``intervene``: default views and steps, rows chosen from the splits, the table's schema."""

from __future__ import annotations

import numpy as np
import pytest

from probe_rnn.errors import DataError
from probe_rnn.interventions import COLUMNS, intervene
from probe_rnn.interventions.api import default_steps, default_views


def test_default_views_are_the_top_layers_sentence_views():
    assert default_views(2, 2) == ["output@last", "h_n/L1/fwd", "h_n/L1/bwd", "h_n/L1"]
    assert default_views(1, 1) == ["output@last", "h_n/L0/fwd"]
    assert default_steps(2, 1, np.array([3, 2])) == [
        "hidden/L1/fwd@0", "hidden/L1/fwd@1", "hidden/L1/fwd@2"]
    assert len(default_steps(1, 2, np.array([90]), max_steps=5)) == 10


def test_intervene_on_the_held_out_splits_gives_the_table(tiny_bundle):
    bundle, df = tiny_bundle
    found = intervene(bundle, df, seed=0)
    table = found.table
    assert list(table.columns) == COLUMNS
    held = np.flatnonzero(df["split"].isin(["dev", "test"]).to_numpy())
    assert len(found.setup.test) == len(held)
    per_step = table[table["step"].notna()]
    assert set(per_step["intervention"]) <= {"patching", "erasure", "erasure-control"}
    assert "patching" in set(per_step["intervention"])
    assert all(v.endswith(f"@{s}") for v, s in zip(per_step["view"], per_step["step"],
                                                     strict=True))
    given = table[table["intervention"] == "conditional"]
    assert set(zip(given["view"], given["given"], strict=True)) == {
        ("h_n/L0", "output@last"), ("output@last", "h_n/L0")}
    assert table["sanity"].notna().all()
    assert "<table" in found._repr_html_()


def test_a_table_without_splits_needs_the_rows(tiny_bundle):
    bundle, df = tiny_bundle
    with pytest.raises(DataError, match="rows"):
        intervene(bundle, df.drop(columns="split"))
    with pytest.raises(DataError, match="at least 4"):
        intervene(bundle, df, rows=[0, 1], train_rows=range(10, 20))


def test_a_one_direction_model_s_final_state_adds_nothing_by_definition(last_rule,
                                                                         monkeypatch):
    """On a unidirectional model h_n/L0 is output@last: the conditional rows say 0 bits by
    definition and fit no probe (two probes on duplicated columns read -0.110 bits here)."""
    from probe_rnn.interventions import api

    bundle, df = last_rule
    found = intervene(bundle, df, seed=0, interventions=[])
    a = found.setup.values("test", "output@last")
    b = found.setup.values("test", "h_n/L0")
    assert a.shape == b.shape and bool((a == b).all())  # the premise, read from the model
    given = found.table[found.table["intervention"] == "conditional"]
    assert len(given) == 2
    assert (given["value"] == 0.0).all() and (given["ci_low"] == 0.0).all()
    assert (given["ci_high"] == 0.0).all() and given["sanity_ok"].all()
    assert all("by definition" in s for s in given["sanity"])
    fitted = []
    original = api.conditional_row
    monkeypatch.setattr(api, "conditional_row",
                        lambda *args, **kw: fitted.append(args) or original(*args, **kw))
    api.conditional_rows(found.setup, 1)
    assert fitted == []
