"""The "decodable vs used" figures: bars per view, curves per step, escaping, failed checks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from probe_rnn.report.figures import esc
from probe_rnn.report.use_data import sentence_uses
from probe_rnn.report.use_figures import decodable_vs_used, use_over_time
from tests.unit.report.factory import HOSTILE, default_results
from tests.unit.report.use_factory import FAILED_CHECK, erasure, patching, use_table

RESULTS = default_results(["output@last", "output@-1", "h_n/L1/fwd", "h_n/L1/bwd",
                           "mean(output)"])


def test_bars_per_view_with_intervals_and_hatched_failed_checks() -> None:
    fig = decodable_vs_used(sentence_uses(use_table(), RESULTS))
    names = [t.name for t in fig.data]
    assert names == ["probe", "erasure (LEACE)", "random subspace, same rank", "patching"]
    erased = fig.data[1]
    assert list(erased.x) == ["output@last", "h_n/L1/bwd", "h_n/L1/fwd"]
    assert np.allclose(erased.y, [0.40, 0.01, 0.50])
    assert np.allclose(erased.error_y.array, [0.06, 0.02, 0.05])
    assert list(erased.marker.pattern.shape) == ["", "", "x"]
    assert erased.customdata[2][2] == esc(f"sanity check failed: {FAILED_CHECK}")
    assert np.isnan(fig.data[3].y[2])  # h_n/L1/fwd was not patched: a gap, not a zero
    assert decodable_vs_used([]) is None


def test_view_names_and_checks_are_escaped() -> None:
    view = HOSTILE[0]
    table = pd.DataFrame(erasure(view, (0.1, 0.0, 0.2), (0.0, -0.1, 0.1), ok=False,
                                 sanity=HOSTILE[1]) + patching(view, (0.5, 0.4, 0.6)))
    text = json.dumps(decodable_vs_used(sentence_uses(table, RESULTS)).to_plotly_json(),
                      default=str)
    assert "<script>" not in text and "<img" not in text
    assert esc(view) in text


def test_curves_along_the_sentence_with_a_probe_menu() -> None:
    fig = use_over_time(RESULTS, use_table(), "logistic")
    named = {t.name: t for t in fig.data if t.name}
    follow, drop = named["hidden/L1/fwd follow rate"], named["hidden/L1/fwd erasure drop"]
    assert list(follow.x) == [0, 1, 2, 3, 4]
    assert np.allclose(follow.y, [0.1, 0.3, 0.5, 0.7, 0.9])
    assert list(drop.marker.symbol) == ["circle", "circle", "x", "circle", "circle"]
    # the probe's accuracy along t >= 0, as the results table holds it (factory: 0.55 + 0.1 t)
    accuracy = named["hidden/L1/fwd probe accuracy"]
    assert np.allclose(accuracy.y, [0.55, 0.65, 0.75, 0.85, 0.95])
    assert accuracy.visible is True and named["hidden/L1/fwd probe bits"].visible is False
    buttons = fig.layout.updatemenus[0].buttons
    bits = [i for i, t in enumerate(fig.data) if t.name == "hidden/L1/fwd probe bits"][0]
    shown = buttons[1].args[0]["visible"]
    assert buttons[1].label == "probe: bits" and shown[bits]
    assert all(shown[i] for i, t in enumerate(fig.data) if t.name == follow.name)


def test_no_curves_without_per_step_rows() -> None:
    assert use_over_time(RESULTS, use_table(steps=False), "logistic") is None
