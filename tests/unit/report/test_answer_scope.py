"""The site the opening answer speaks of, and its rows without prefix."""

from __future__ import annotations

import pandas as pd

from probe_rnn.report.answer_scope import answer_scope, answer_site


def _results(views: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"view": views, "task": "label", "value": range(len(views))})


def test_one_site_is_left_alone() -> None:
    results = _results(["output@last", "h_n/L0"])
    scoped, values, eq, site = answer_scope(results, None, None, None, None)
    assert site is None and scoped is results


def test_a_two_text_model_answers_for_its_first_site_and_a_stack_for_its_last() -> None:
    results = _results(["encoder:output@last", "encoder:h_n/L0", "decoder:output@last"])
    assert answer_site(results, {"texts": 2}) == "encoder"
    assert answer_site(results, {"texts": 1}) == "decoder"
    scoped, _, _, site = answer_scope(results, results, None, None, {"texts": 2})
    assert site == "encoder" and scoped["view"].tolist() == ["output@last", "h_n/L0"]
    assert scoped["value"].tolist() == [0, 1]
