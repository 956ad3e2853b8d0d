"""Paired statistics of the readout study against hand computations and scipy's own tests."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from probe_rnn.studies.stats import (
    pair_verdict,
    paired_differences,
    summarize_runs,
    vs_best,
)

T_975_DF2 = 4.302652729911275  # Student t quantile 0.975 with 2 degrees of freedom (tables)


def _runs(table: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"readout": r, "seed": s, "test_accuracy": v}
            for r, values in table.items() for s, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_paired_verdicts_against_hand_computation() -> None:
    runs = _runs({
        "last": [0.90, 0.91, 0.92],
        "hidden": [0.88, 0.86, 0.89],   # last - hidden = .02 .05 .03: CI [-0.005, 0.071]
        "naive-last": [0.80, 0.79, 0.81],  # last - naive = .10 .12 .11: CI [0.085, 0.135]
    })
    pairs = paired_differences(runs, order=["last", "hidden", "naive-last"]).set_index(
        ["readout_a", "readout_b"])
    d = np.array([0.02, 0.05, 0.03])
    half = T_975_DF2 * d.std(ddof=1) / math.sqrt(3)
    row = pairs.loc[("last", "hidden")]
    assert row["mean_diff"] == pytest.approx(d.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert row["ci_low"] < 0 < row["ci_high"]
    assert row["verdict"] == (f"within noise (minimum detectable difference "
                              f"{row['mdd'] * 100:.1f} points)")
    assert row["p_value"] == pytest.approx(
        stats.ttest_rel([0.90, 0.91, 0.92], [0.88, 0.86, 0.89]).pvalue)
    row = pairs.loc[("last", "naive-last")]
    assert row["ci_low"] == pytest.approx(0.11 - T_975_DF2 * 0.01 / math.sqrt(3))
    assert row["verdict"] == "last better by 11.0 points"
    row = pairs.loc[("hidden", "naive-last")]  # .08 .07 .08
    assert row["verdict"] == "hidden better by 7.7 points"
    assert row["n_pairs"] == 3


def test_pairs_use_only_shared_seeds_and_report_sign() -> None:
    runs = _runs({"mean": [0.70, 0.71, 0.69], "max": [0.80, 0.82]})
    row = paired_differences(runs).iloc[0]
    assert (row["readout_a"], row["readout_b"], row["n_pairs"]) == ("mean", "max", 2)
    assert row["mean_diff"] == pytest.approx(-0.105)
    assert row["verdict"].startswith("max better by 10.5")


def test_verdict_wording() -> None:
    assert pair_verdict("a", "b", 0.0, 0.0, 0.0) == "within noise"
    assert pair_verdict("a", "b", 0.0, -0.1, 0.1, mdd=0.034).endswith("difference 3.4 points)")
    assert pair_verdict("a", "b", 0.0, 0.0, 0.0, identical=True) == "identical on every seed"
    assert pair_verdict("a", "b", 0.03, math.nan, math.nan).startswith("too few seeds")
    assert pair_verdict("a", "b", -0.2, -0.3, -0.1) == "b better by 20.0 points"


def test_summary_and_vs_best() -> None:
    runs = _runs({
        "last": [0.90, 0.91, 0.92], "hidden": [0.88, 0.86, 0.89],
        "naive-last": [0.80, 0.79, 0.81],
    })
    order = ["last", "hidden", "naive-last"]
    summary = summarize_runs(runs, order=order)
    assert list(summary["readout"]) == order
    assert summary.loc[0, "mean"] == pytest.approx(0.91)
    assert summary.loc[0, "std"] == pytest.approx(0.01)
    assert summary.loc[2, "min"] == pytest.approx(0.79)
    verdicts = vs_best(summary, paired_differences(runs, order=order))
    # Holm over the two comparisons with the best, from scipy's paired t-test p-values
    p_hidden = stats.ttest_rel([0.90, 0.91, 0.92], [0.88, 0.86, 0.89]).pvalue
    p_naive = stats.ttest_rel([0.90, 0.91, 0.92], [0.80, 0.79, 0.81]).pvalue
    assert p_naive < p_hidden and 2 * p_naive <= 0.05 < p_hidden
    assert verdicts[0] == "best by point estimate"
    assert verdicts[1].startswith("within noise of best (minimum detectable difference")
    assert verdicts[2] == f"measurably worse by 11.0 points (Holm p = {2 * p_naive:.3g})"
