"""The attribution findings (``probe_rnn.report.attribution_findings``): the completeness
sentence counts the sentences beyond 5 % error, and the top-token sentence counts, by hand, how
often the most attributed token is the first or the last one."""

from __future__ import annotations

import pandas as pd

from probe_rnn.report.attribution_findings import attribution_findings


def _tokens(per_row: dict[int, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"row": r, "position": p, "attribution": a}
                         for r, values in per_row.items() for p, a in enumerate(values)])


def test_complete_attributions_are_said_to_pass() -> None:
    ex = pd.DataFrame({"completeness_error": [0.01, 0.02, 0.04]})
    [(text, anchor)] = attribution_findings({"examples": ex})
    assert anchor == "attribution-tokens"
    assert "pass their completeness check on all 3 sentences" in text
    assert "median error 2%" in text and "worst 4%" in text


def test_incomplete_attributions_are_counted() -> None:
    ex = pd.DataFrame({"completeness_error": [0.01, 0.2, None, 0.07]})
    [(text, _)] = attribution_findings({"examples": ex})
    assert "miss completeness on 2 of 3 sentences (worst error 20%)" in text


def test_top_token_positions_are_counted() -> None:
    # row 0: top at the first token; row 1: at the last (|-3| is largest); row 2: in the middle;
    # row 3: first
    tok = _tokens({0: [0.9, 0.1, 0.2], 1: [0.1, 0.5, -3.0], 2: [0.1, 0.8, 0.2], 3: [2.0, 1.0]})
    [(text, _)] = attribution_findings({"tokens": tok})
    assert text == ("The most attributed token is the first token in 2 of 4 attributed "
                    "sentences and the last token in 1 of 4.")


def test_too_few_sentences_or_nothing_says_nothing() -> None:
    assert attribution_findings({"tokens": _tokens({0: [1.0], 1: [2.0]})}) == []
    assert attribution_findings({}) == []


def test_two_texts_say_which_text_holds_the_top_token() -> None:
    tok = pd.DataFrame({"row": [0, 0, 1, 1, 2, 2], "which_text": [1, 2, 1, 2, 1, 2],
                        "position": [0, 0, 0, 0, 0, 0],
                        "attribution": [0.9, 0.1, 0.1, -0.5, 0.3, 0.2]})
    [(text, anchor)] = attribution_findings({"tokens": tok})
    assert text == ("The most attributed token lies in the first text in 2 of 3 attributed "
                    "rows and in the second text in 1.") and anchor == "attribution-tokens"
