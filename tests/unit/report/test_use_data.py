"""Reading interventions.parquet: absent, damaged, incomplete, and the numbers per view."""

from __future__ import annotations

import math

import pandas as pd

from probe_rnn.report.use_data import (
    INTERVENTION_COLUMNS,
    INTERVENTIONS_FILE,
    conditionals,
    interventions_table,
    number,
    sentence_uses,
)
from tests.unit.report.factory import default_results
from tests.unit.report.use_factory import FAILED_CHECK, use_table, write_use_table

VIEWS = ["output@last", "output@-1", "h_n/L1/fwd", "h_n/L1/bwd", "mean(output)"]


def test_absent_table_is_none_and_says_nothing(tmp_path) -> None:
    notes: dict[str, str] = {}
    assert interventions_table(tmp_path, notes) is None
    assert notes == {}


def test_table_round_trips(tmp_path) -> None:
    planted = use_table()
    table = interventions_table(write_use_table(tmp_path, planted))
    assert list(table.columns) == list(INTERVENTION_COLUMNS)
    assert str(table["step"].dtype) == "Int64"
    pd.testing.assert_series_equal(table["value"], planted["value"].astype(float))


def test_nullable_dtypes_as_the_stage_writes_them(tmp_path) -> None:
    from probe_rnn.report.use_findings import use_finding

    dtypes = {c: "string" for c in ("intervention", "view", "given", "task", "measure",
                                     "sanity")}
    planted = use_table().astype({**dtypes, "sanity_ok": "boolean", "n": "Int64"})
    table = interventions_table(write_use_table(tmp_path, planted))
    assert table["task"].map(type).isin([str, type(None)]).all()
    assert table["sanity_ok"].map(type).isin([bool, type(None)]).all()
    failed = number(table, "erasure", "h_n/L1/fwd", "accuracy_drop", task="label")
    assert failed.failed and failed.sanity == FAILED_CHECK
    assert "depends on `output@last`" in use_finding(table, default_results(VIEWS)).text


def test_damaged_or_incomplete_table_leaves_a_note(tmp_path) -> None:
    (tmp_path / INTERVENTIONS_FILE).write_bytes(b"not a parquet file")
    notes: dict[str, str] = {}
    assert interventions_table(tmp_path, notes) is None
    assert "cannot be read" in notes["use"]
    use_table().drop(columns=["sanity_ok"]).to_parquet(tmp_path / INTERVENTIONS_FILE)
    assert interventions_table(tmp_path, notes) is None
    assert "lacks the columns sanity_ok" in notes["use"]


def test_number_reads_value_interval_and_the_interventions_check() -> None:
    table = use_table()
    drop = number(table, "erasure", "output@last", "accuracy_drop", task="label")
    assert (drop.value, drop.low, drop.high, drop.n) == (0.40, 0.34, 0.46, 200)
    assert drop.sanity_ok is True and not drop.failed
    failed = number(table, "erasure", "h_n/L1/fwd", "accuracy_drop", task="label")
    assert failed.failed and failed.sanity == FAILED_CHECK
    # the check belongs to the intervention: one failing row fails every measure of it
    table.loc[(table["view"] == "output@last") & (table["measure"] == "probe_after"),
              "sanity_ok"] = False
    assert number(table, "erasure", "output@last", "accuracy_drop", task="label").failed
    assert number(table, "erasure", "output@last", "agreement") is None
    at_3 = number(table, "patching", "hidden/L1/fwd@3", "follow_rate", step=3)
    assert math.isclose(at_3.value, 0.7)
    assert number(table, "patching", "hidden/L1/fwd@3", "follow_rate") is None  # no step


def test_sentence_uses_put_output_last_first_with_the_probes_bits() -> None:
    table = use_table()
    table = pd.concat([table[table["view"] != "output@last"],
                       table[table["view"] == "output@last"]], ignore_index=True)
    results = default_results(VIEWS)
    uses = sentence_uses(table, results)
    assert [u.view for u in uses] == ["output@last", "h_n/L1/bwd", "h_n/L1/fwd"]
    bwd = uses[1]
    assert math.isclose(bwd.bits.value, 0.75 - 0.4)  # default_results: bits = acc - 0.4
    assert (bwd.erasure.value, bwd.control.value, bwd.follow.value) == (0.01, 0.0, 0.03)
    assert uses[2].follow is None  # h_n/L1/fwd was not patched


def test_conditionals_name_view_and_given() -> None:
    found = conditionals(use_table())
    assert [(v, g, n.value) for v, g, n in found] == [("h_n/L1", "output@last", 0.02),
                                                       ("output@last", "h_n/L1", 0.30)]
