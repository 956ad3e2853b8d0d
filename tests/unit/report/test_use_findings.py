"""The "decodable vs used" finding and opening sentence on hand-built tables: the state the
head depends on, the unused label-carrying state, and no claim on a failed sanity check."""

from __future__ import annotations

import re

import pandas as pd

from probe_rnn.report.use_data import sentence_uses
from probe_rnn.report.use_findings import (
    FAILED,
    LEAD,
    UNTESTED,
    USED,
    WITHIN,
    erasure_verdict,
    judge,
    use_finding,
    use_parts,
    use_sentence,
)
from tests.unit.report.factory import default_results
from tests.unit.report.use_factory import FAILED_CHECK, erasure, patching, row, use_table

RESULTS = default_results(["output@last", "output@-1", "h_n/L1/fwd", "h_n/L1/bwd",
                           "mean(output)"])


def _numbers(text: str) -> list[str]:
    return re.findall(r"-?\d+\.\d\d \[-?\d+\.\d\d, -?\d+\.\d\d\]|\d+% \[\d+%, \d+%\]", text)


def test_the_head_depends_on_the_state_with_the_largest_valid_drop_and_follow_rate() -> None:
    verdict = judge(sentence_uses(use_table(), RESULTS))
    # h_n/L1/fwd has the largest drop (0.50) but its erasure failed its check: refused
    assert verdict.by_erasure.view == "output@last"
    assert verdict.by_patching.view == "output@last"
    assert [u.view for u in verdict.unused] == ["h_n/L1/bwd"]
    text = "".join(s.text for s in use_sentence(use_table(), RESULTS))
    assert text.startswith(LEAD)
    assert "head depends on `output@last` (by both erasure and patching)" in text
    assert "h_n/L1/fwd" not in text  # no claim, and no number, on the failed erasure
    # every number as the table holds it, in order: drop, control, follow; then conditional
    assert _numbers(text)[:5] == ["0.40 [0.34, 0.46]", "0.01 [-0.01, 0.03]",
                                  "95% [90%, 98%]", "0.02 [-0.01, 0.05]", "0.30 [0.20, 0.40]"]
    assert "`h_n/L1/bwd` carries 0.35 [0.33, 0.37] bits of label information, yet the head " \
           "does not use it" in text


def test_a_failed_check_is_said_next_to_its_number_in_the_finding() -> None:
    finding = use_finding(use_table(), RESULTS)
    assert finding.anchor == "use" and finding.kind == "use"
    assert (f"`h_n/L1/fwd` drops the model's accuracy by 0.50 [0.45, 0.55] (its sanity check "
            f"failed: {FAILED_CHECK}; no claim rests on this number)") in finding.text
    assert "depends on `h_n/L1/fwd`" not in finding.text
    assert "depends most on `h_n/L1/fwd`" not in finding.text


def test_erasure_and_patching_pointing_to_different_states_are_both_said() -> None:
    text = use_finding(use_table(fwd_ok=True), RESULTS).text
    assert ("by erasure the head depends most on `h_n/L1/fwd`, by patching on `output@last`"
            in text)
    assert "sanity check failed" not in text


def test_no_state_singled_out_when_every_erasure_failed_and_patches_are_low() -> None:
    table = pd.DataFrame(
        erasure("output@last", (0.4, 0.3, 0.5), (0.0, -0.01, 0.01), ok=False, sanity="bad")
        + patching("output@last", (0.05, 0.02, 0.08))
        + erasure("h_n/L1/bwd", (0.3, 0.2, 0.4), (0.0, -0.01, 0.01), ok=False, sanity="bad"))
    text = use_finding(table, RESULTS).text
    assert "no single state is shown to be the one the head depends on: " in text
    assert text.count("its sanity check failed: bad; no claim rests on this number") == 2
    assert "does not use it" not in text  # a failed erasure never makes a state "unused"


def test_a_label_carrying_state_patched_often_is_not_called_unused() -> None:
    table = use_table()
    table.loc[(table["view"] == "h_n/L1/bwd") & (table["measure"] == "follow_rate"),
              ["value", "ci_low", "ci_high"]] = [0.4, 0.3, 0.5]
    verdict = judge(sentence_uses(table, RESULTS))
    assert verdict.unused == ()


def test_other_used_states_are_named_and_small_numbers_keep_their_digits() -> None:
    table = pd.DataFrame(
        erasure("output@last", (0.40, 0.34, 0.46), (0.0, 0.0, 0.0))
        + patching("output@last", (1.0, 1.0, 1.0))
        + erasure("h_n/L1/fwd", (0.04, 0.01, 0.08), (0.0, 0.0, 0.0))
        + patching("h_n/L1/fwd", (1.0, 1.0, 1.0))
        + [row("conditional", "h_n/L1", "bits", 0.0012, 0.0005, 0.002, given="output@last")])
    verdict = judge(sentence_uses(table, RESULTS))
    assert verdict.by_erasure.view == verdict.by_patching.view == "output@last"
    assert [u.view for u in verdict.also_used] == ["h_n/L1/fwd"]
    text = "".join(s.text for s in use_sentence(table, RESULTS))
    assert "; by the same tests it also depends on `h_n/L1/fwd`." in text
    assert ("`h_n/L1` adds 0.0012 [0.0005, 0.002] bits of label information beyond "
            "`output@last` (clearly above 0)") in text


def test_erasure_verdicts() -> None:
    table = pd.DataFrame(
        erasure("a", (0.10, 0.05, 0.15), (0.02, 0.0, 0.04))      # above its control
        + erasure("b", (0.05, 0.01, 0.09), (0.04, 0.0, 0.08))    # overlaps its control
        + erasure("c", (0.3, 0.2, 0.4), (0.0, 0.0, 0.0), ok=False)
        + [row("erasure", "d", "accuracy_drop", 0.2, None, None)])
    verdicts = {u.view: erasure_verdict(u) for u in sentence_uses(table, RESULTS)}
    assert verdicts == {"a": USED, "b": WITHIN, "c": FAILED, "d": UNTESTED}


def test_nothing_to_say_without_erasure_or_patching() -> None:
    table = pd.DataFrame([row("conditional", "h_n/L1", "bits", 0.1, 0.0, 0.2,
                              given="output@last")])
    assert use_sentence(table, RESULTS) is None and use_finding(table, RESULTS) is None
    assert use_parts(None, RESULTS, "logistic")["sentence"] is None


def test_parts_link_numbers_to_the_section() -> None:
    parts = use_parts(use_table(), RESULTS, "logistic", "-2")
    assert parts["ids"] == {"sentence": "fig-use-2", "steps": "fig-use-steps-2"}
    assert all(f is not None for f in parts["specs"].values())
    linked = [s for s in parts["sentence"] if s.href]
    assert linked and {s.href for s in linked} == {"#use"}
    assert all(_numbers(s.text) for s in linked)
