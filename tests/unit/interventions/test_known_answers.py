"""Known answers on the synthetic corpora (issue 30): patching right after the evidence word
moves the prediction, before it does not; erasing the label from the top layer's last state
takes the model to the majority rate, a random subspace of the same rank does not."""

from __future__ import annotations

import pytest

from probe_rnn.catalogue import state_view
from probe_rnn.interventions import intervene
from probe_rnn.interventions.patching import draw_pairs, patching_rows
from tests.unit.interventions.conftest import LENGTH


def _value(table, intervention, view, measure):
    hit = table[(table["intervention"] == intervention) & (table["view"] == view)
                & (table["measure"] == measure)]
    assert len(hit) == 1, (intervention, view, measure)
    return float(hit["value"].iloc[0])


@pytest.fixture(scope="module")
def last_table(last_rule):
    bundle, df = last_rule
    return intervene(bundle, df, seed=0).table


def test_patching_follows_the_source_right_after_the_evidence_word(last_table, first_rule):
    after = state_view("hidden", 0, "fwd", t=LENGTH - 1)
    before = state_view("hidden", 0, "fwd", t=LENGTH - 2)
    assert _value(last_table, "patching", after, "follow_rate") >= 0.90
    assert _value(last_table, "patching", before, "follow_rate") <= 0.10
    bundle, df = first_rule
    found = intervene(bundle, df, interventions=["patching"], conditional=False)
    assert _value(found.table, "patching", "output@last", "follow_rate") >= 0.9
    # the LSTM's whole state right after word 0 (hidden and cell) carries the label on
    whole = patching_rows(found.setup, state_view("hidden", 0, "fwd", t=0),
                          draw_pairs(found.setup.test.pred, 200, 0),
                          together=[state_view("cell", 0, "fwd", t=0)])
    assert whole[0]["value"] >= 0.9 and whole[0]["n"] >= 50


def test_erasing_the_label_from_the_last_state_leaves_the_majority_rate(last_table):
    before = _value(last_table, "erasure", "output@last", "accuracy_before")
    after = _value(last_table, "erasure", "output@last", "accuracy_after")
    majority = _value(last_table, "erasure", "output@last", "majority")
    assert before >= 0.95
    assert abs(after - majority) <= 0.05
    control = _value(last_table, "erasure-control", "output@last", "accuracy_after")
    assert abs(control - before) <= 0.02
    assert _value(last_table, "erasure", "output@last", "probe_after") <= majority + 0.03
    erased = last_table[last_table["intervention"] == "erasure"]
    assert erased["sanity_ok"].all()


def test_every_row_carries_its_check_and_the_model_ignores_a_mean_free_state(last_table):
    assert last_table["sanity"].notna().all() and last_table["sanity_ok"].notna().all()
    assert set(last_table["intervention"]) >= {
        "erasure", "erasure-control", "patching", "ablation-mean", "ablation-resample",
        "ablation-zero", "conditional"}
    # unidirectional: h_n/L0 is output@last itself, so neither adds bits beyond the other
    bits = last_table[last_table["intervention"] == "conditional"]["value"]
    assert len(bits) == 2 and (bits.abs() <= 0.02).all()
