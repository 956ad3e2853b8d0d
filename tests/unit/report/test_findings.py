"""Findings are written only when the numbers support them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from factory import make_run, result_row, results_frame

from probe_rnn.capture.store import StateStore
from probe_rnn.report.equivalence import Comparison, Equivalence, measure_equivalence
from probe_rnn.report.findings import make_findings


def _eq(fwd_diff: float = 0.0, bidirectional: bool = False) -> Equivalence:
    tol = 2.0**-10
    fwd = Comparison("h_n/L1/fwd", "output@last", fwd_diff, 0 if fwd_diff <= tol else 7, 50,
                     tol)
    naive = Comparison("output@-1", "output@last", 0.9, 30, 50, tol)
    bwd = Comparison("h_n/L1/bwd", "output@last", 0.5, 50, 50, tol) if bidirectional else None
    return Equivalence(1, bidirectional, fwd, bwd, naive, True, 12)


def _texts(results: pd.DataFrame, eq: Equivalence | None = None, run: dict | None = None
           ) -> list[str]:
    return [f.text for f in make_findings(results, eq, run or {})]


def _pair(last: tuple[float, float, float], other: tuple[float, float, float],
          other_view: str = "output@-1", metric: str = "bits") -> pd.DataFrame:
    return results_frame([result_row("output@last", metric, *last),
                          result_row(other_view, metric, *other)])


def test_identical_only_below_tolerance() -> None:
    same = _texts(results_frame([]), _eq(0.0))
    assert any("are identical on all 50 rows" in t for t in same)
    differ = _texts(results_frame([]), _eq(0.01))
    assert not any("identical" in t for t in differ)
    assert any("differ on 7 of 50 rows" in t for t in differ)


def test_overlapping_intervals_are_within_noise() -> None:
    texts = _texts(_pair((0.50, 0.40, 0.60), (0.45, 0.35, 0.55)))
    line = next(t for t in texts if t.startswith("`output@-1`"))
    assert "within noise" in line and "less" not in line


def test_separated_intervals_state_the_difference() -> None:
    texts = _texts(_pair((0.90, 0.85, 0.95), (0.49, 0.44, 0.54)))
    line = next(t for t in texts if t.startswith("`output@-1`"))
    assert "0.41 bits less label information" in line
    assert "within noise" not in line


def test_missing_intervals_leave_the_difference_untested() -> None:
    nan = float("nan")
    texts = _texts(_pair((0.9, nan, nan), (0.5, nan, nan)))
    line = next(t for t in texts if t.startswith("`output@-1`"))
    assert "untested" in line and "less" not in line


def test_recommendation_lists_views_within_noise_and_own_readout() -> None:
    rows = [result_row("output@last", "bits", 0.80, 0.70, 0.90),
            result_row("mean(output)", "bits", 0.75, 0.65, 0.85),
            result_row("output@-1", "bits", 0.20, 0.10, 0.30)]
    run = {"model": {"config": {"readout": "naive-last"}}}
    rec = next(t for t in _texts(results_frame(rows), run=run) if "Which state" in t)
    assert "`output@last` has the highest estimate of label information" in rec
    assert "`mean(output)` is within noise of it" in rec and "do not single out" in rec
    assert "`output@-1`" in rec and "0.60 bits below the best" in rec


def test_clear_winner_and_zero_information() -> None:
    rows = [result_row("output@last", "bits", 0.80, 0.70, 0.90),
            result_row("output@-1", "bits", 0.20, 0.10, 0.30)]
    rec = next(t for t in _texts(results_frame(rows)) if "Which state" in t)
    assert "gives the most label information" in rec and "clearly ahead" in rec
    rows = [result_row("output@last", "bits", 0.05, -0.2, 0.3)]
    rec = next(t for t in _texts(results_frame(rows)) if "Which state" in t)
    assert "no state clearly carries label information" in rec


def test_identical_unidirectional_views_count_as_ties() -> None:
    rows = [result_row("output@last", "bits", 0.80, 0.78, 0.82),
            result_row("h_n/L1/fwd", "bits", 0.70, 0.68, 0.72)]
    texts = _texts(results_frame(rows), _eq(0.0))
    rec = next(t for t in texts if "Which state" in t)
    assert "`h_n/L1/fwd` is within noise of it" in rec
    assert not any(t.startswith("`h_n/L1/fwd` carries") for t in texts)


def test_random_baseline_within_noise_does_not_credit_training() -> None:
    rows = [result_row("output@last", "accuracy", 0.70, 0.60, 0.80),
            result_row("output@last", "accuracy", 0.66, 0.56, 0.76, model="random-init")]
    line = next(t for t in _texts(results_frame(rows)) if "random-weight" in t)
    assert "within noise" in line and "Training matters" not in line
    rows[1] = result_row("output@last", "accuracy", 0.50, 0.45, 0.55, model="random-init")
    line = next(t for t in _texts(results_frame(rows)) if "random-weight" in t)
    assert line.startswith("Training matters")


def test_majority_baseline_not_beaten() -> None:
    rows = [result_row("output@last", "accuracy", 0.56, 0.50, 0.62),
            result_row("output@last", "majority_accuracy", 0.55)]
    assert any(t.startswith("No view is clearly above the majority-class baseline")
               for t in _texts(results_frame(rows)))


def test_timestep_never_above_baseline() -> None:
    rows = []
    for t in range(4):
        rows += [result_row("hidden/L1/fwd", "accuracy", 0.56, 0.50, 0.62, t=t,
                            view_kind="token"),
                 result_row("hidden/L1/fwd", "majority_accuracy", 0.55, t=t, view_kind="token")]
    line = next(t for t in _texts(results_frame(rows)) if "at step t" in t)
    assert "never clearly above" in line


def test_timestep_first_step_above_baseline() -> None:
    rows = []
    for t, acc in enumerate([0.55, 0.56, 0.80, 0.90]):  # CI is value ± 0.02
        rows += [result_row("hidden/L1/fwd", "accuracy", acc, t=t, view_kind="token"),
                 result_row("hidden/L1/fwd", "majority_accuracy", 0.55, t=t, view_kind="token")]
    line = next(t for t in _texts(results_frame(rows)) if "at step t" in t)
    assert "at t=2" in line and "peaks at 90% at t=3" in line


def test_no_label_task_no_claims() -> None:
    rows = [result_row("output@last", "accuracy", 0.9, task="length")]
    assert _texts(results_frame(rows)) == []


def test_completeness_failure_is_reported() -> None:
    ex = pd.DataFrame({"row": [0, 1, 2], "completeness_error": [0.01, 0.2, 0.02]})
    texts = [f.text for f in make_findings(results_frame([]), None, {}, {"examples": ex})]
    assert any("miss completeness on 1 of 3" in t for t in texts)


def test_equivalence_measured_on_a_store(run_dir) -> None:
    eq = measure_equivalence(StateStore(run_dir / "states"))
    meta = pd.read_parquet(run_dir / "states" / "meta.parquet")
    lengths = meta["length"].to_numpy()
    assert eq.top_layer == 1 and eq.bidirectional
    assert eq.last_vs_hn_fwd.identical and eq.last_vs_hn_fwd.max_abs_diff == 0.0
    assert not eq.last_vs_hn_bwd.identical
    # output@-1 was planted as zeros exactly for rows shorter than the longest row
    assert eq.naive_vs_last.differing_rows == int((lengths < lengths.max()).sum())
    assert eq.naive_rows_shorter is True


def test_unidirectional_store(tmp_path) -> None:
    run = make_run(tmp_path / "uni", bidi=False, layers=1)
    eq = measure_equivalence(StateStore(run / "states"))
    assert eq.top_layer == 0 and not eq.bidirectional and eq.last_vs_hn_bwd is None
    values = np.load(run / "states" / "views" / "output_at_last.npy")
    assert values.shape[1] == 8


def test_training_rows_read_better_than_held_out_ones_is_a_memorisation_finding() -> None:
    held = results_frame([result_row("output@last", "accuracy", 0.80, 0.77, 0.83)])
    for train, says in (((0.95, 0.93, 0.97), "part of what the state holds is memorised"),
                        ((0.82, 0.78, 0.86), "within noise, so this run does not show")):
        rows = results_frame([result_row("output@last", "accuracy", *train)])
        texts = [f.text for f in make_findings(held, None, {}, train_rows=rows)]
        line = next(t for t in texts if "rows the model trained on" in t)
        assert says in line and "unpaired difference" in line
