"""The attribution summary table (``probe_rnn.attribution.summary.build_summary``): its columns
and rows, with shares and worst errors computed by hand from tiny token, example, step, neuron
and probe tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from probe_rnn.attribution.summary import SUMMARY_COLUMNS, build_summary

TOKENS = pd.DataFrame({"row": [0, 0, 0, 1, 1], "position": [0, 1, 2, 0, 1],
                       "attribution": [1.0, -3.0, 0.0, 2.0, 2.0]})
EXAMPLES = pd.DataFrame({"completeness_error": [0.01, 0.04]})
STEPS = pd.DataFrame({"state": ["hidden"] * 3, "layer": [0, 0, 0], "direction": ["fwd"] * 3,
                      "t": [0, 0, 1], "share": [0.2, 0.4, 0.8],
                      "completeness_error": [0.01, 0.03, 0.02]})
NEURONS = pd.DataFrame({"view": ["h_n/L0/fwd"] * 2, "label": ["a", "a"], "share": [0.6, 0.6]})
PROBES = pd.DataFrame({"view": ["output@last"] * 3, "row": [0, 0, 1],
                       "completeness_error": [0.1, 0.2, 0.05]})


def _row(summary: pd.DataFrame, what: str, **where) -> pd.Series:
    rows = summary[summary["what"] == what]
    for column, value in where.items():
        rows = rows[rows[column] == value]
    assert len(rows) == 1, (what, where)
    return rows.iloc[0]


def test_summary_rows_by_hand() -> None:
    summary = build_summary(TOKENS, EXAMPLES, STEPS, NEURONS, PROBES, twin_error=3e-7)
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert list(summary["what"]) == ["tokens", "token-position", "token-position",
                                     "token-position", "state", "state", "neurons",
                                     "probe-tokens", "unrolled-check"]
    tokens = _row(summary, "tokens")
    assert tokens["completeness_error"] == 0.04 and tokens["n"] == 2
    # |attribution| shares within each sentence: row 0 (1, 3, 0)/4, row 1 (2, 2)/4
    position_0 = _row(summary, "token-position", step=0)
    assert position_0["share"] == pytest.approx((0.25 + 0.5) / 2) and position_0["n"] == 2
    assert _row(summary, "token-position", step=1)["share"] == pytest.approx((0.75 + 0.5) / 2)
    assert _row(summary, "token-position", step=2)["share"] == pytest.approx(0.0)
    state_0 = _row(summary, "state", step=0)
    assert state_0["view"] == "hidden/L0/fwd" and state_0["share"] == pytest.approx(0.3)
    assert state_0["completeness_error"] == 0.03 and state_0["n"] == 2
    assert _row(summary, "neurons")["share"] == 0.6
    probe = _row(summary, "probe-tokens")
    assert probe["completeness_error"] == 0.2 and probe["n"] == 2  # two sentences
    assert _row(summary, "unrolled-check")["completeness_error"] == 3e-7


def test_optional_parts_leave_their_rows_out() -> None:
    empty = pd.DataFrame(columns=["view", "label", "share"])
    nothing = pd.DataFrame({"completeness_error": [np.nan]})
    summary = build_summary(TOKENS, nothing, STEPS.iloc[:0], empty,
                            pd.DataFrame(columns=["view", "row", "completeness_error"]), 0.0)
    assert set(summary["what"]) == {"tokens", "token-position", "unrolled-check"}
    assert np.isnan(_row(summary, "tokens")["completeness_error"])
