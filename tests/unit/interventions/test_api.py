"""``intervene``: default views and steps, rows chosen from the splits, the table's schema."""

from __future__ import annotations

import numpy as np
import pytest

from probe_rnn.errors import DataError, ParameterError
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


def _picked(bundle, df, found) -> list[int]:
    """The table rows (of the first 30) whose token ids the setup's held-out rows hold."""
    test = found.setup.test
    ids = [tuple(test.ids[i, :int(test.lengths[i])].tolist()) for i in range(len(test))]
    encoded = bundle.adapter.encode(df["text"].iloc[:30].tolist())
    own = {tuple(encoded["ids"][r, :int(encoded["lengths"][r])].tolist()): r for r in range(30)}
    assert len(own) == 30  # every candidate row is told apart by its tokens
    return [own[i] for i in ids]


def test_past_max_rows_a_seeded_sample_of_the_held_out_rows_is_intervened_on(tiny_bundle):
    bundle, df = tiny_bundle
    kwargs = {"rows": range(30), "train_rows": range(30, 70), "steps": False,
              "interventions": [], "conditional": False}
    every = _picked(bundle, df, intervene(bundle, df, seed=0, max_rows=None, **kwargs))
    assert every == list(range(30))
    assert _picked(bundle, df, intervene(bundle, df, seed=0, max_rows=30, **kwargs)) == every
    sample = _picked(bundle, df, intervene(bundle, df, seed=0, max_rows=10, **kwargs))
    assert len(sample) == 10 == len(set(sample)) and sample == sorted(sample)
    again = _picked(bundle, df, intervene(bundle, df, seed=0, max_rows=10, **kwargs))
    other = _picked(bundle, df, intervene(bundle, df, seed=1, max_rows=10, **kwargs))
    assert again == sample and other != sample
    numpy_int = _picked(bundle, df, intervene(bundle, df, seed=0, max_rows=np.int64(10),
                                              **kwargs))
    assert numpy_int == sample
    for bad in (3, 10.0, True):
        with pytest.raises(ParameterError, match="max_rows"):
            intervene(bundle, df, max_rows=bad, **kwargs)


def test_the_report_states_the_interventions_row_cap():
    from importlib.resources import files

    from probe_rnn.interventions.api import MAX_ROWS

    page = files("probe_rnn.report").joinpath("templates/index.html.j2").read_text("utf-8")
    assert f"a seeded sample of {MAX_ROWS:,} where there are more" in page
