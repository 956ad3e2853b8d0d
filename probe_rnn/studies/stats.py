"""Small-sample statistics for comparing training runs across seeds.

Runs of a study are paired by seed: the same seed means the same data split, the same
initialisation seed and the same batch order, so the honest comparison between two readouts is
the mean of the per-seed differences with a paired Student-t interval (not two overlapping
marginal intervals).

Where the test set's sampling error comes from
    Every seed draws its own seeded split (:func:`~probe_rnn.studies.compare_readouts`), so the
    spread across seeds holds the initialisation noise *and* the test rows' sampling error.
    Because the splits of different seeds overlap (they are drawn from one table), that spread
    underestimates the variance; the intervals use the Nadeau–Bengio correction
    ``var · (1/n + n_test/n_train)`` (``ratio``), as the probing side does for repeated
    splits. Chosen over a two-stage bootstrap (seeds, then test rows) because it needs no
    per-row scores, so it holds for every objective alike (accuracy, token accuracy, pair ROC
    AUC), and its p-values and intervals come from one formula.
A floor for shares of rows
    A stratified split keeps the class counts of every test set fixed, so a constant predictor
    scores the same on every seed; its between-seed spread is 0 although its score is still a
    share of ``n_test`` sampled rows. Per-readout intervals of a share (``floor_n``) therefore
    never take a variance below the binomial one under the same correction,
    ``p (1 − p) / n_test · (1/n + ratio)``: no zero-width interval. Where the seeds share one
    test set (a table's own split) the seeds' spread holds none of its error, so the binomial
    variance ``p (1 − p) / n_test`` is added instead. Simulated (1,000 studies, 5 seeds,
    ``tests/benchmarks/bench_readouts_stats.py``): the per-readout interval covers the true
    accuracy in 0.995 of studies with own splits (conservative: the floor binds whenever the
    seeds' spread comes out low), seeds on one shared split cover it in 0.80 without the added
    term and in 0.999 with it.
Selection
    "Measurably worse than the best" is tested after the best was picked from the same
    numbers: the p-values of the comparisons with the best are Holm-corrected
    (:func:`probe_rnn.probing.intervals.holm`) and the best itself is only "best by point
    estimate". Simulated with equal readouts on 600-row tables (1,000 studies each): 0.026 of
    studies call one "measurably worse" with 5 readouts × 5 seeds (0.143 uncorrected), 0.056
    with 5 × 3 (0.173), 0.048 with 8 × 5 (0.274); without the Nadeau–Bengio term 5 × 5 gave
    0.093 (2,000 studies).
Power
    Beside every "within noise" stands the minimum detectable difference: the true difference
    the same paired t-test (same n, same spread, same correction) would detect with 80 %
    power at the 5 % level, so "within noise" never reads as "equivalent". Two readouts whose
    scores are equal on every seed are "identical", not "within noise".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from probe_rnn.probing.intervals import holm, t_interval, t_p
from probe_rnn.probing.power import min_detectable
from probe_rnn.probing.verdict_wording import (
    ALPHA,
    BEST,
    IDENTICAL,
    IDENTICAL_TO_BEST,
    WITHIN_NOISE,
    WITHIN_NOISE_OF_BEST,
    better_by,
    decide,
    within_noise,
    worse_by,
)

SUMMARY_COLUMNS = ["readout", "n_seeds", "mean", "std", "ci_low", "ci_high", "min", "max"]
PAIR_COLUMNS = [
    "readout_a", "readout_b", "n_pairs", "mean_diff", "std_diff", "ci_low", "ci_high",
    "p_value", "mdd", "verdict",
]


def summarize_runs(
    runs: pd.DataFrame, metric: str = "test_accuracy", order: Sequence[str] | None = None,
    confidence: float = 0.95, ratio: float = 0.0, floor_n: int | None = None,
) -> pd.DataFrame:
    """Per readout: number of seeds, mean, std, t-interval, min and max of ``metric``.

    ``runs`` has one row per (readout, seed). Rows come out in ``order`` (default: first
    appearance). ``ratio`` and ``floor_n`` as in :func:`~probe_rnn.probing.intervals.t_interval`.
    """
    order = list(order) if order is not None else list(dict.fromkeys(runs["readout"]))
    rows = []
    for readout in order:
        x = runs.loc[runs["readout"] == readout, metric].to_numpy(dtype=float)
        mean, low, high = t_interval(x, confidence, ratio, floor_n)
        rows.append({
            "readout": readout, "n_seeds": int(x.size), "mean": mean,
            "std": float(x.std(ddof=1)) if x.size > 1 else math.nan,
            "ci_low": low, "ci_high": high,
            "min": float(x.min()) if x.size else math.nan,
            "max": float(x.max()) if x.size else math.nan,
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def pair_verdict(a: str, b: str, mean_diff: float, low: float, high: float,
                 mdd: float = math.nan, identical: bool = False) -> str:
    """Plain verdict for the difference ``a − b`` (a fraction) and its interval: the winner,
    ``within noise`` with the minimum detectable difference ``mdd`` beside it, or
    :data:`IDENTICAL` when every paired seed scored the same."""
    if math.isnan(mean_diff):
        return "no paired seeds"
    if identical:
        return IDENTICAL
    if math.isnan(low) or math.isnan(high):
        return "too few seeds to tell (need at least 2)"
    word = decide(mean_diff, low, high)
    if word == WITHIN_NOISE:
        return within_noise(mdd=mdd)
    return better_by(mean_diff, a if mean_diff > 0 else b)


def _pair_row(a: str, b: str, d: np.ndarray, confidence: float, ratio: float
              ) -> dict[str, Any]:
    mean, low, high = t_interval(d, confidence, ratio)
    sd = float(d.std(ddof=1)) if d.size > 1 else math.nan
    identical = d.size > 0 and bool(np.all(d == 0.0))
    p = math.nan
    if d.size > 1:
        p = 1.0 if identical else float(t_p(d, ratio))
    mdd = min_detectable(sd, int(d.size), ratio)
    return {"readout_a": a, "readout_b": b, "n_pairs": int(d.size), "mean_diff": mean,
            "std_diff": sd, "ci_low": low, "ci_high": high, "p_value": p, "mdd": mdd,
            "verdict": pair_verdict(a, b, mean, low, high, mdd, identical)}


def paired_differences(
    runs: pd.DataFrame, metric: str = "test_accuracy", order: Sequence[str] | None = None,
    confidence: float = 0.95, ratio: float = 0.0,
) -> pd.DataFrame:
    """Paired differences ``a − b`` of ``metric`` over the seeds both readouts share.

    One row per unordered pair (a before b in ``order``): number of pairs, mean and std of the
    per-seed differences, the paired t-interval and two-sided p-value (both with the
    Nadeau–Bengio ``ratio``; :func:`probe_rnn.probing.intervals.t_p`), the minimum detectable
    difference (:func:`~probe_rnn.probing.power.min_detectable`) and the verdict of
    :func:`pair_verdict`. Each row is one comparison on its own (uncorrected); :func:`vs_best`
    corrects the comparisons with a selected best.
    """
    order = list(order) if order is not None else list(dict.fromkeys(runs["readout"]))
    wide = runs.pivot_table(index="seed", columns="readout", values=metric, aggfunc="first")
    rows = []
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            if a in wide and b in wide:
                d = (wide[a] - wide[b]).dropna().to_numpy(dtype=float)
            else:
                d = np.empty(0)
            rows.append(_pair_row(a, b, d, confidence, ratio))
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def _p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3g}"


def ties_best(verdict: str) -> bool:
    """Whether a :func:`vs_best` verdict leaves the readout among the best (the best itself,
    identical to it, or not measurably worse)."""
    return str(verdict).startswith((BEST, IDENTICAL_TO_BEST, WITHIN_NOISE_OF_BEST))


def _against(pairs: pd.DataFrame, best: str, readout: str) -> pd.Series | None:
    hit = pairs[((pairs["readout_a"] == best) & (pairs["readout_b"] == readout))
                | ((pairs["readout_a"] == readout) & (pairs["readout_b"] == best))]
    if hit.empty:
        return None
    row = hit.iloc[0].copy()
    if row["readout_a"] != best:
        row["mean_diff"] = -row["mean_diff"]
    return row


def vs_best(summary: pd.DataFrame, pairs: pd.DataFrame, alpha: float = ALPHA) -> pd.Series:
    """Verdict of each readout against the best one (highest mean), indexed like ``summary``.

    The best is "best by point estimate" (nothing tests it); every other readout is
    "measurably worse" only when its paired p-value against the best, Holm-corrected over the
    readouts compared with the best, is at most ``alpha``; otherwise "within noise of best"
    with the minimum detectable difference, or "identical to best".
    """
    if summary.empty or summary["mean"].isna().all():
        return pd.Series([""] * len(summary), index=summary.index, dtype=object)
    best = summary.loc[summary["mean"].idxmax(), "readout"]
    others = [r for r in summary["readout"] if r != best]
    rows = {r: _against(pairs, best, r) for r in others}
    p = [math.nan if row is None else float(row["p_value"]) for row in rows.values()]
    adjusted = dict(zip(others, holm(p), strict=True))
    out = []
    out = [_against_best(readout, best, rows.get(readout), adjusted.get(readout, math.nan),
                         alpha) for readout in summary["readout"]]
    return pd.Series(out, index=summary.index, dtype=object)


def _against_best(readout: str, best: str, row: pd.Series | None, adjusted: float,
                  alpha: float) -> str:
    """One readout's verdict against the best (``row``: best − readout; ``adjusted``: its
    Holm-adjusted p-value)."""
    if readout == best:
        return BEST
    if row is None:
        return ""
    if row["verdict"] == IDENTICAL:
        return IDENTICAL_TO_BEST
    if math.isnan(row["ci_low"]):
        return str(row["verdict"])
    word = decide(row["mean_diff"], p=adjusted, alpha=alpha)
    if word == WITHIN_NOISE:
        return within_noise("best", float(row.get("mdd", math.nan)))
    if row["mean_diff"] > 0:
        return f"{worse_by(row['mean_diff'])} (Holm p {_p_text(adjusted)})"
    return f"{better_by(row['mean_diff'])} on paired seeds"


def statistics_by_loss(runs: pd.DataFrame, names: tuple[str, ...], metric: str,
                       ratio: float = 0.0, floor_n: int | None = None
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summary and paired differences between readouts, within each loss: ``ratio`` is the
    Nadeau–Bengio ``n_test / n_train`` of the per-seed splits, ``floor_n`` the test rows whose
    binomial error floors a share's interval (:func:`~probe_rnn.probing.intervals.t_interval`)."""
    summaries, pairs = [], []
    for loss in dict.fromkeys(runs["loss"]):
        part = runs[runs["loss"] == loss]
        summary = summarize_runs(part, metric=metric, order=names, ratio=ratio, floor_n=floor_n)
        paired = paired_differences(part, metric=metric, order=names, ratio=ratio)
        summary["vs_best"] = vs_best(summary, paired)
        summary.insert(0, "loss", loss)
        paired.insert(0, "loss", loss)
        summaries.append(summary)
        pairs.append(paired)
    return pd.concat(summaries, ignore_index=True), pd.concat(pairs, ignore_index=True)


def _runs_of(study: Any, loss: str | None, readout: str) -> pd.Series:
    runs = study.runs
    keep = runs["readout"] == readout
    if loss is not None:
        keep &= runs["loss"] == loss
    return runs[keep].set_index("seed")[study.objective.metric]


def paired(study: Any, a: tuple[str | None, str], b: tuple[str | None, str]
           ) -> pd.Series | None:
    """Paired difference ``a − b`` of a :class:`~probe_rnn.studies.ReadoutStudy`'s runs over the
    seeds both share (``(loss, readout)`` each, scored by the study's metric), with the
    study's Nadeau–Bengio ratio."""
    x, y = _runs_of(study, *a), _runs_of(study, *b)
    if x.empty or y.empty:
        return None
    names = [" + ".join(x for x in side if x) for side in (a, b)]
    frame = pd.concat([x.rename("a"), y.rename("b")], axis=1).dropna().reset_index()
    long = pd.concat([frame.assign(readout=names[0], value=frame["a"]),
                      frame.assign(readout=names[1], value=frame["b"])])
    return paired_differences(long, metric="value", order=names, ratio=study.ratio).iloc[0]
