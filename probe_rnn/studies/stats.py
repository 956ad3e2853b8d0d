"""Small-sample statistics for comparing training runs across seeds.

Runs of a study are paired by seed: the same seed means the same data split and the same
initialisation seed, so the honest comparison between two readouts is the mean of the per-seed
differences with a paired Student-t interval (not two overlapping marginal intervals). The
verdict says "within noise" when that interval contains 0, else which side is better and by how
much, in accuracy points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _st

from probe_rnn.errors import ConfigError

__all__ = ["t_interval", "summarize_runs", "paired_differences", "pair_verdict", "vs_best",
           "paired"]

SUMMARY_COLUMNS = ["readout", "n_seeds", "mean", "std", "ci_low", "ci_high", "min", "max"]
PAIR_COLUMNS = [
    "readout_a", "readout_b", "n_pairs", "mean_diff", "std_diff", "ci_low", "ci_high",
    "p_value", "verdict",
]


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t interval of ``values``.

    Parameters
    ----------
    values : sequence of float, shape (n,)
        Independent observations (one per seed).
    confidence : float
        Coverage of the interval, in (0, 1).

    Returns
    -------
    (mean, low, high) : tuple of float
        ``low``/``high`` are NaN when fewer than two values are given; with zero spread the
        interval collapses to the mean.
    """
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must lie in (0, 1); got {confidence}")
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    # not stats.t.interval(scale=std/sqrt(n)): it rounds in another order and differs in the
    # last bit in 646 of 2,000 random samples (3 to 25 values), which moves published intervals.
    half = float(_st.t.ppf(0.5 + confidence / 2, df=x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def summarize_runs(
    runs: pd.DataFrame, metric: str = "test_accuracy", order: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per readout: number of seeds, mean, std, t-interval, min and max of ``metric``.

    ``runs`` has one row per (readout, seed). Rows come out in ``order`` (default: first
    appearance).
    """
    order = list(order) if order is not None else list(dict.fromkeys(runs["readout"]))
    rows = []
    for readout in order:
        x = runs.loc[runs["readout"] == readout, metric].to_numpy(dtype=float)
        mean, low, high = t_interval(x, confidence)
        rows.append({
            "readout": readout, "n_seeds": int(x.size), "mean": mean,
            "std": float(x.std(ddof=1)) if x.size > 1 else math.nan,
            "ci_low": low, "ci_high": high,
            "min": float(x.min()) if x.size else math.nan,
            "max": float(x.max()) if x.size else math.nan,
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def pair_verdict(a: str, b: str, mean_diff: float, low: float, high: float) -> str:
    """Plain verdict for the difference ``a − b`` (accuracy as a fraction) and its interval."""
    if math.isnan(mean_diff):
        return "no paired seeds"
    if math.isnan(low) or math.isnan(high):
        return "too few seeds to tell (need at least 2)"
    if low <= 0.0 <= high:
        return "within noise"
    winner = a if mean_diff > 0 else b
    return f"{winner} better by {abs(mean_diff) * 100:.1f} points"


def paired_differences(
    runs: pd.DataFrame, metric: str = "test_accuracy", order: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Paired differences ``a − b`` of ``metric`` over the seeds both readouts share.

    One row per unordered pair (a before b in ``order``): number of pairs, mean and std of the
    per-seed differences, the paired t-interval, the two-sided paired t-test p-value and the
    verdict of :func:`pair_verdict`.
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
            mean, low, high = t_interval(d, confidence)
            sd = float(d.std(ddof=1)) if d.size > 1 else math.nan
            p = math.nan
            if d.size > 1 and sd > 0:
                p = float(_st.ttest_1samp(d, 0.0).pvalue)
            rows.append({
                "readout_a": a, "readout_b": b, "n_pairs": int(d.size), "mean_diff": mean,
                "std_diff": sd, "ci_low": low, "ci_high": high, "p_value": p,
                "verdict": pair_verdict(a, b, mean, low, high),
            })
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def vs_best(summary: pd.DataFrame, pairs: pd.DataFrame) -> pd.Series:
    """Verdict of each readout against the best one (highest mean), indexed like ``summary``."""
    if summary.empty or summary["mean"].isna().all():
        return pd.Series([""] * len(summary), index=summary.index, dtype=object)
    best = summary.loc[summary["mean"].idxmax(), "readout"]
    out = []
    for readout in summary["readout"]:
        if readout == best:
            out.append("best")
            continue
        hit = pairs[((pairs["readout_a"] == best) & (pairs["readout_b"] == readout))
                    | ((pairs["readout_a"] == readout) & (pairs["readout_b"] == best))]
        if hit.empty:
            out.append("")
            continue
        row = hit.iloc[0]
        diff = row["mean_diff"] if row["readout_a"] == best else -row["mean_diff"]
        if row["verdict"] == "within noise":
            out.append("within noise of best")
        elif math.isnan(row["ci_low"]):
            out.append(row["verdict"])
        elif diff > 0:
            out.append(f"worse by {diff * 100:.1f} points")
        else:
            out.append(f"better by {-diff * 100:.1f} points on paired seeds")
    return pd.Series(out, index=summary.index, dtype=object)


def _runs_of(study: Any, loss: str | None, readout: str) -> pd.Series:
    runs = study.runs
    keep = runs["readout"] == readout
    if loss is not None:
        keep &= runs["loss"] == loss
    return runs[keep].set_index("seed")[study.objective.metric]


def paired(study: Any, a: tuple[str | None, str], b: tuple[str | None, str]
           ) -> pd.Series | None:
    """Paired difference ``a − b`` of a :class:`~probe_rnn.studies.ReadoutStudy`'s runs over the
    seeds both share (``(loss, readout)`` each, scored by the study's metric)."""
    x, y = _runs_of(study, *a), _runs_of(study, *b)
    if x.empty or y.empty:
        return None
    frame = pd.concat([x.rename("a"), y.rename("b")], axis=1).dropna().reset_index()
    long = pd.concat([frame.assign(readout="a", value=frame["a"]),
                      frame.assign(readout="b", value=frame["b"])])
    return paired_differences(long, metric="value", order=["a", "b"]).iloc[0]
