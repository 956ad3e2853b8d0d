"""The output-versus-hidden relations the report states (``probe_rnn.report.equivalence``):
the top layer of a run's views, when two comparisons count as the same vector, which views are
one vector in a unidirectional model, and the comparisons read back from a real diagnosis of
planted states (the forward half of ``output@last`` is ``h_n`` of the top layer; the padded
batch's ``output@-1`` differs on exactly the short rows)."""

from __future__ import annotations

import numpy as np

from probe_rnn.report.equivalence import Comparison, Equivalence, equivalence_of, same_vectors
from probe_rnn.report.equivalence import top_layer as top_layer_of
from tests.unit.report.factory import planted_diagnosis


def test_top_layer_is_the_highest_h_n_layer() -> None:
    assert top_layer_of(["output@last", "h_n/L0/fwd", "h_n/L2/bwd", "c_n/L3/fwd"]) == 2
    assert top_layer_of(["output@last", "mean(output)"]) is None


def test_a_comparison_is_identical_at_or_below_its_tolerance() -> None:
    assert Comparison("a", "b", 1e-7, 0, 10, tolerance=1e-6).identical
    assert Comparison("a", "b", 1e-6, 0, 10, tolerance=1e-6).identical
    assert not Comparison("a", "b", 2e-6, 1, 10, tolerance=1e-6).identical


def _eq(identical: bool, bidirectional: bool = False) -> Equivalence:
    fwd = Comparison("h_n/L1/fwd", "output@last", 0.0 if identical else 0.5, 0, 8)
    return Equivalence(1, bidirectional, fwd, None, None)


def test_same_vectors_in_a_unidirectional_model() -> None:
    eq = _eq(identical=True)
    assert same_vectors(eq, eq.hn_fwd) == {eq.hn_cat, "output@last"}
    assert same_vectors(eq, "output@last") == {eq.hn_fwd, eq.hn_cat}
    assert same_vectors(_eq(identical=False), "output@last") == set()  # measured different
    assert same_vectors(_eq(identical=True, bidirectional=True), "h_n/L1/fwd") == set()
    assert same_vectors(None, "output@last") == set()
    assert same_vectors(eq, "mean(output)") == set()


def test_equivalence_read_back_from_a_planted_diagnosis() -> None:
    rng = np.random.default_rng(0)
    rows, width = 12, 3
    lengths = rng.integers(2, 6, size=rows)
    h_top = rng.normal(size=(rows, width))
    views = {"h_n/L0/fwd": rng.normal(size=(rows, width)), "h_n/L1/fwd": h_top,
             "output@last": h_top.copy()}
    eq = equivalence_of(planted_diagnosis(views, lengths, layers=2, bidi=False))
    assert eq is not None and eq.top_layer == 1 and not eq.bidirectional
    assert eq.last_vs_hn_fwd.identical and eq.last_vs_hn_fwd.rows == rows
    assert eq.hn_fwd == "h_n/L1/fwd"
    assert eq.naive_vs_last is not None
    short = int((lengths < lengths.max()).sum())  # padding sits at step -1 of these rows
    assert eq.naive_vs_last.differing_rows == short


def test_each_site_of_a_diagnosis_is_read_back_under_its_name() -> None:
    import pandas as pd

    from probe_rnn.report.equivalence import equivalences_of

    rng = np.random.default_rng(1)
    rows, width = 10, 3
    lengths = rng.integers(2, 6, size=rows)
    h_top = rng.normal(size=(rows, width))
    same = {"h_n/L0/fwd": h_top, "output@last": h_top.copy()}
    other = {"h_n/L0/fwd": h_top, "output@last": h_top + 1.0}  # differs from h_n
    tables = []
    for site, views in (("encoder", same), ("encoder#2", other)):
        table = planted_diagnosis(views, lengths, layers=1, bidi=False)
        tables.append(table.assign(module=site))
    found = equivalences_of(pd.concat(tables, ignore_index=True))
    assert [eq.site for eq in found] == ["encoder", "encoder#2"]
    assert found[0].last_vs_hn_fwd.identical and not found[1].last_vs_hn_fwd.identical
    assert found[1].hn_fwd == "encoder#2:h_n/L0/fwd"
    assert found[1].last_vs_hn_fwd.b == "encoder#2:output@last"
    assert same_vectors(found[0], "encoder:h_n/L0/fwd") == {"encoder:h_n/L0",
                                                           "encoder:output@last"}
    assert equivalence_of(pd.concat(tables, ignore_index=True)) == found[0]
    one = equivalences_of(tables[0].assign(module="rnn"))
    assert len(one) == 1 and one[0].site is None and one[0].hn_fwd == "h_n/L0/fwd"
