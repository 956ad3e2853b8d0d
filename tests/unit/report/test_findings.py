"""Findings are written only when the numbers support them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from probe_rnn.capture.diagnosis import SAME_TOLERANCE
from probe_rnn.report.equivalence import Equivalence, equivalence_of
from probe_rnn.report.findings import make_findings
from probe_rnn.run_record import RunRecord
from tests.unit.report.factory import make_run, planted_diagnosis, result_row, results_frame


def _eq(fwd_diff: float = 0.0, bidirectional: bool = False) -> Equivalence:
    """The equivalence of 50 planted rows of a 2-layer model, measured by the capture's
    diagnosis: ``output@last``'s forward half is ``h_n/L1/fwd`` plus ``fwd_diff`` on 7 rows."""
    rng = np.random.default_rng(3)
    dirs = ("fwd", "bwd") if bidirectional else ("fwd",)
    views = {f"h_n/L{layer}/{d}": np.tanh(rng.normal(size=(50, 4)))
             for layer in (0, 1) for d in dirs}
    last = [views["h_n/L1/fwd"].copy()] + ([rng.normal(size=(50, 4))] if bidirectional else [])
    last[0][:7, 0] += fwd_diff
    views["output@last"] = np.concatenate(last, axis=1)
    lengths = rng.integers(2, 12, size=50)
    return equivalence_of(planted_diagnosis(views, lengths, 2, bidirectional))


def _texts(results: pd.DataFrame, eq: Equivalence | None = None, run: dict | None = None
           ) -> list[str]:
    return [f.text for f in make_findings(results, eq, RunRecord.from_dict(run or {}))]


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
    # one tolerance, on the float32 states before storage: SAME_TOLERANCE
    assert any("identical" in t for t in _texts(results_frame([]), _eq(SAME_TOLERANCE / 3)))
    assert any("differ on 7 of 50 rows" in t
               for t in _texts(results_frame([]), _eq(SAME_TOLERANCE * 4)))


def test_overlapping_intervals_are_within_noise() -> None:
    texts = _texts(_pair((0.50, 0.40, 0.60), (0.45, 0.35, 0.55)))
    line = next(t for t in texts if t.startswith("`output@-1`"))
    assert "within noise" in line and "less" not in line
    assert "a true difference of about" in line and "detected 80% of the time" in line


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
    assert "`output@last` is the best by point estimate" in rec
    assert "`mean(output)` is within noise of it" in rec and "do not single out" in rec
    assert "Holm-corrected over the 2 views compared with it" in rec
    assert "would detect a true difference of about" in rec  # the minimum detectable one
    assert "measurably worse than it: `output@-1`" in rec
    assert "`output@-1`: measurably below the best (unpaired difference -0.600" in rec
    claims = next(f for f in make_findings(results_frame(rows), None, RunRecord.from_dict(run))
                  if f.kind == "recommendation").claims
    assert {(c.a, c.b, c.verdict) for c in claims} == {
        ("mean(output)", "output@last", "within noise"), ("output@-1", "output@last", "below")}


def test_clear_winner_and_zero_information() -> None:
    rows = [result_row("output@last", "bits", 0.80, 0.70, 0.90),
            result_row("output@-1", "bits", 0.20, 0.10, 0.30)]
    rec = next(t for t in _texts(results_frame(rows)) if "Which state" in t)
    assert "`output@last` is the best by point estimate" in rec and "clearly ahead" in rec
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
    line = next(t for t in _texts(results_frame(rows)) if "at position t" in t)
    assert "never clearly above" in line


def test_timestep_first_step_above_baseline() -> None:
    rows = []
    for t, acc in enumerate([0.55, 0.56, 0.80, 0.90]):  # CI is value ± 0.02
        rows += [result_row("hidden/L1/fwd", "accuracy", acc, t=t, view_kind="token"),
                 result_row("hidden/L1/fwd", "majority_accuracy", 0.55, t=t, view_kind="token")]
    line = next(t for t in _texts(results_frame(rows)) if "at position t" in t)
    assert "first clearly exceeds the majority-class baseline at t=2" in line
    assert "peaks at 90% at t=3" in line and "Holm-corrected over the 4 positions" in line
    # a unidirectional model's forward state has read only tokens 0..t
    assert "available at t=2, after reading only the first 3 tokens" in line


def test_no_label_task_no_claims() -> None:
    rows = [result_row("output@last", "accuracy", 0.9, task="length")]
    assert _texts(results_frame(rows)) == []


def test_completeness_failure_is_reported() -> None:
    ex = pd.DataFrame({"row": [0, 1, 2], "completeness_error": [0.01, 0.2, 0.02]})
    texts = [f.text for f in make_findings(results_frame([]), None, RunRecord(), {"examples": ex})]
    assert any("miss completeness on 1 of 3" in t for t in texts)


def test_equivalence_read_from_the_run_diagnosis(run_dir) -> None:
    eq = equivalence_of(pd.read_csv(run_dir / "diagnosis.csv"))
    meta = pd.read_parquet(run_dir / "states" / "meta.parquet")
    lengths = meta["length"].to_numpy()
    assert eq.top_layer == 1 and eq.bidirectional
    assert eq.last_vs_hn_fwd.identical and eq.last_vs_hn_fwd.max_abs_diff == 0.0
    assert eq.last_vs_hn_fwd.tolerance == SAME_TOLERANCE
    assert not eq.last_vs_hn_bwd.identical and eq.last_vs_hn_bwd.differing_rows == len(meta)
    # output@-1 was planted as zeros exactly for rows shorter than the longest row
    short = int((lengths < lengths.max()).sum())
    assert eq.naive_vs_last.differing_rows == short
    assert any(f"on {short} of {len(meta)} rows" in t and "every one of them is shorter" in t
               for t in eq.sentences)


def test_unidirectional_diagnosis(tmp_path) -> None:
    run = make_run(tmp_path / "uni", bidi=False, layers=1)
    eq = equivalence_of(pd.read_csv(run / "diagnosis.csv"))
    assert eq.top_layer == 0 and not eq.bidirectional and eq.last_vs_hn_bwd is None
    values = np.load(run / "states" / "views" / "output_at_last.npy")
    assert values.shape[1] == 8


def test_no_comparison_without_its_checks() -> None:
    assert equivalence_of(None) is None
    older = pd.DataFrame({"module": ["rnn"], "check": ["max |output@last - h_n top fwd|"],
                          "value": [0.0], "unit": ["max |diff|"], "explanation": ["same"]})
    assert equivalence_of(older) is None


def test_training_rows_read_better_than_held_out_ones_is_a_memorisation_finding() -> None:
    held = results_frame([result_row("output@last", "accuracy", 0.80, 0.77, 0.83)])
    for train, says in (((0.95, 0.93, 0.97), "part of what the state holds is memorised"),
                        ((0.82, 0.78, 0.86), "within noise, so this run does not show")):
        rows = results_frame([result_row("output@last", "accuracy", *train)])
        texts = [f.text for f in make_findings(held, None, RunRecord(), train_rows=rows)]
        line = next(t for t in texts if "rows the model trained on" in t)
        assert says in line and "unpaired difference" in line


def _long(view: str, metric: str, per_split: list[float], t: int | None = None) -> list[dict]:
    return [{"model": "trained", "view": view, "task": "label", "probe": "logistic",
             "protocol": "kfold", "pairing": "p", "seed": 0, "split": k, "draw": -1, "t": t,
             "metric": metric, "value": v} for k, v in enumerate(per_split)]


def _values(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["t"] = df["t"].astype("Int64")
    return df


def test_majority_verdicts_are_paired_and_holm_corrected_as_scipy_computes() -> None:
    from scipy import stats

    maj = [0.78, 0.80, 0.76, 0.79, 0.77]
    accs = {"output@last": [0.86, 0.88, 0.85, 0.87, 0.86],   # clearly above
            "mean(output)": [0.80, 0.81, 0.78, 0.80, 0.79],   # +0.016: marginal
            "output@-1": [0.78, 0.79, 0.77, 0.80, 0.76]}      # nothing
    rows, long = [], []
    for view, acc in accs.items():
        rows += [result_row(view, "accuracy", float(np.mean(acc))),
                 result_row(view, "majority_accuracy", float(np.mean(maj)))]
        long += _long(view, "accuracy", acc) + _long(view, "majority_accuracy", maj)
    findings = make_findings(results_frame(rows), None, RunRecord(), values=_values(long))
    finding = next(f for f in findings if "majority-class baseline" in f.text)
    # independent: Nadeau–Bengio t-test of the per-split differences (n_test/n_train = 20/80),
    # Holm over the three views by hand
    p = {}
    for view, acc in accs.items():
        d = np.subtract(acc, maj)
        se = np.sqrt(d.var(ddof=1) * (1 / 5 + 20 / 80))
        p[view] = 2 * stats.t.sf(abs(d.mean()) / se, 4)
    order = sorted(p, key=p.get)
    adjusted, running = {}, 0.0
    for i, view in enumerate(order):
        running = max(running, min(1.0, p[view] * (3 - i)))
        adjusted[view] = running
    expected = {v: ("above" if adjusted[v] <= 0.05 and np.mean(np.subtract(accs[v], maj)) > 0
                    else "within noise") for v in accs}
    assert {c.a: c.verdict for c in finding.claims} == expected
    assert expected["output@last"] == "above" and expected["output@-1"] == "within noise"
    n_above = sum(v == "above" for v in expected.values())
    assert finding.text.startswith(f"{n_above} of 3 views are clearly above")


def _scan_rows(view: str, accs: list[float], ts: list[int]) -> list[dict]:
    rows = []
    for t, acc in zip(ts, accs, strict=True):
        rows += [result_row(view, "accuracy", acc, t=t, view_kind="token"),
                 result_row(view, "majority_accuracy", 0.55, t=t, view_kind="token")]
    return rows


def test_per_step_wording_follows_direction_and_layer() -> None:
    accs = [0.55, 0.56, 0.80, 0.90]
    upper = results_frame(_scan_rows("hidden/L1/fwd", accs, [0, 1, 2, 3]))
    line = next(t for t in _texts(upper, _eq(0.0, bidirectional=True)) if "position t" in t)
    assert "decodable at position t=2" in line and "already seen the whole sentence" in line
    assert "available at" not in line
    backward = results_frame(_scan_rows("hidden/L0/bwd", accs, [-1, -2, -3, -4]))
    line = next(t for t in _texts(backward, _eq(0.0, bidirectional=True)) if "position t" in t)
    assert "counted from the end" in line
    assert "available at t=-3, after reading only the last 3 tokens" in line
    assert "rows with at least |t| tokens" in line


def test_memorisation_not_concluded_when_the_split_is_not_the_models() -> None:
    rows = [result_row("output@last", "accuracy", 0.80, 0.76, 0.84)]
    train = results_frame([result_row("output@last", "accuracy", 0.97, 0.95, 0.99)])
    run = {"probed_rows": {"split_is_the_models": False,
                           "split_source": "a seeded 60/20/20 split"}}
    texts = [f.text for f in make_findings(results_frame(rows), None, RunRecord.from_dict(run),
                                             train_rows=train)]
    line = next(t for t in texts if "training rows" in t)
    assert "not known to be the one the model was trained with" in line
    assert "memorised" not in line
    run["probed_rows"]["split_is_the_models"] = True
    texts = [f.text for f in make_findings(results_frame(rows), None, RunRecord.from_dict(run),
                                             train_rows=train)]
    assert any("memorised from training sentences" in t for t in texts)
