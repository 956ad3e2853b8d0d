"""Reading the results table for the report (``probe_rnn.report.measures``): which probe leads,
which metric scores a task, one cell's value averaged over matching rows with per-step rows kept
out, view names without their step, and the numbers as sentences write them."""

from __future__ import annotations

import math

import pytest

from probe_rnn.report.measures import (
    Estimate,
    base_view,
    estimate,
    ordered_probes,
    percent,
    primary_probe,
    score_metric,
    short_number,
)
from tests.unit.report.factory import result_row, results_frame


def test_the_logistic_probe_leads_else_the_most_used_one() -> None:
    rows = [result_row("output@last", "accuracy", 0.8, probe=p)
            for p in ("mlp", "centroid", "centroid", "logistic")]
    assert primary_probe(results_frame(rows)) == "logistic"
    assert ordered_probes(results_frame(rows)) == ["logistic", "mlp", "centroid"]
    assert primary_probe(results_frame(rows[:3])) == "centroid"
    assert ordered_probes(results_frame([])) == [None]


def test_score_metric_is_r2_for_regression_tasks() -> None:
    rows = [result_row("output@last", "accuracy", 0.8),
            result_row("output@last", "r2", 0.3, task="length", task_kind="regression")]
    frame = results_frame(rows)
    assert score_metric(frame, "label") == "accuracy"
    assert score_metric(frame, "length") == "r2"


def test_estimate_averages_matching_sentence_rows_only() -> None:
    rows = [result_row("output@last", "accuracy", 0.80, 0.70, 0.90),
            result_row("output@last", "accuracy", 0.90, 0.86, 0.94),      # a second seed
            result_row("output@last", "accuracy", 0.10, t=2),             # a per-step row
            result_row("output@last", "accuracy", 0.20, model="random"),  # another model
            result_row("output@last", "accuracy", 0.30, probe="mlp")]     # another probe
    got = estimate(results_frame(rows), "output@last", "label", "accuracy")
    assert got == Estimate("output@last", "accuracy", pytest.approx(0.85), pytest.approx(0.78),
                           pytest.approx(0.92))
    assert estimate(results_frame(rows), "output@last", "label", "accuracy",
                    probe="mlp").value == pytest.approx(0.30)
    assert estimate(results_frame(rows), "h_n/L0/fwd", "label", "accuracy") is None


def test_an_estimate_describes_itself_and_compares_intervals() -> None:
    a, b = Estimate("a", "accuracy", 0.53, 0.49, 0.57), Estimate("b", "accuracy", 0.6, 0.58, 0.7)
    assert a.describe() == "0.53 [0.49, 0.57]"
    assert Estimate("a", "accuracy", 0.5).describe() == "0.50"
    assert a.overlaps(b) is False and b.overlaps(Estimate("c", "accuracy", 0.6, 0.5, 0.59))
    assert a.overlaps(Estimate("c", "accuracy", 0.5)) is None
    assert not Estimate("a", "bits", 0.1, math.nan, 0.2).has_ci


def test_base_view_drops_the_step() -> None:
    assert base_view("hidden/L0/fwd@3") == "hidden/L0/fwd"
    assert base_view("cell/L1/bwd@-1") == "cell/L1/bwd"
    assert base_view("output@last") == "output@last"
    assert base_view("h_n/L0/fwd") == "h_n/L0/fwd"
    assert base_view("decoder:hidden/L0/fwd@3") == "decoder:hidden/L0/fwd"
    assert base_view("encoder#2:output@last") == "encoder#2:output@last"


@pytest.mark.parametrize(("x", "text"), [(0, "0"), (0.004567, "0.0046"), (0.5, "0.50"),
                                         (-0.0012, "-0.0012"), (12.345, "12.35")])
def test_short_number(x: float, text: str) -> None:
    assert short_number(x) == text


def test_percent_rounds_to_whole_percent() -> None:
    assert [percent(x) for x in (0.0, 0.125, 0.5, 1.0)] == ["0%", "12%", "50%", "100%"]
