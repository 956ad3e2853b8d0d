"""The readout study's statistics on simulated studies with a known answer.

Each replicate draws a table of ``N`` rows (row ease ``z ~ N(0, 1)``), and every run of readout
``r`` with seed ``s`` scores ``mean(z_i + e_rsi + a_rs > C)`` over its test rows (``e``: the
run's per-row noise, ``a``: its initialisation luck). Every readout has the same true accuracy
``Φ(−C / sqrt(1 + σe² + σa²))``, so any "measurably worse than the best" is a false positive and
the per-readout interval should cover that accuracy. Counts of replicates are in each test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from probe_rnn.probing.intervals import t_interval
from probe_rnn.probing.power import min_detectable
from probe_rnn.studies.stats import (
    paired_differences,
    summarize_runs,
    vs_best,
)

N, N_TEST, N_TRAIN = 600, 60, 480
RATIO = N_TEST / N_TRAIN
SIGMA_E, SIGMA_A, C = 0.7, 0.15, -1.0
TRUE_ACCURACY = float(stats.norm.cdf(-C / math.sqrt(1 + SIGMA_E**2 + SIGMA_A**2)))


def _study(rng: np.random.Generator, readouts: int, seeds: int, own_split: bool
           ) -> pd.DataFrame:
    """Runs of one simulated study: each seed its own test rows, or one test set shared."""
    z = rng.normal(size=N)
    shared = rng.choice(N, N_TEST, replace=False)
    rows = []
    for s in range(seeds):
        test = rng.choice(N, N_TEST, replace=False) if own_split else shared
        luck = rng.normal(0.0, SIGMA_A, readouts)
        noise = rng.normal(0.0, SIGMA_E, (readouts, N_TEST))
        acc = np.mean(z[test][None, :] + noise + luck[:, None] > C, axis=1)
        rows += [{"readout": f"r{r}", "seed": s, "test_accuracy": float(acc[r])}
                 for r in range(readouts)]
    return pd.DataFrame(rows)


@pytest.mark.slow  # ~15 s idle, 40 s on a shared 2-core machine (pandas per replicate)
def test_equal_readouts_are_rarely_called_measurably_worse_than_the_best() -> None:
    rng = np.random.default_rng(25)
    replicates, corrected, uncorrected = 300, 0, 0
    for _ in range(replicates):
        runs = _study(rng, readouts=5, seeds=5, own_split=True)
        summary = summarize_runs(runs, ratio=RATIO, floor_n=N_TEST)
        pairs = paired_differences(runs, ratio=RATIO)
        corrected += any(v.startswith("measurably worse") for v in vs_best(summary, pairs))
        best = summary.loc[summary["mean"].idxmax(), "readout"]
        with_best = pairs[(pairs["readout_a"] == best) | (pairs["readout_b"] == best)]
        uncorrected += bool((with_best["p_value"] <= 0.05).any())
    assert corrected / replicates <= 0.07  # 300 replicates, 5 readouts, 5 seeds
    assert uncorrected > corrected  # without Holm the selected best finds more "losers"


def test_intervals_cover_the_true_accuracy_with_the_test_sets_error() -> None:
    rng = np.random.default_rng(3)
    replicates, own, shared, added = 300, 0, 0, 0
    for _ in range(replicates):
        runs = _study(rng, readouts=1, seeds=5, own_split=True)
        _, low, high = t_interval(runs["test_accuracy"], ratio=RATIO, floor_n=N_TEST)
        own += low <= TRUE_ACCURACY <= high
        runs = _study(rng, readouts=1, seeds=5, own_split=False)
        _, low, high = t_interval(runs["test_accuracy"])  # the old study: one shared split
        shared += low <= TRUE_ACCURACY <= high
        _, low, high = t_interval(runs["test_accuracy"], floor_n=N_TEST)  # its error added
        added += low <= TRUE_ACCURACY <= high
    assert own / replicates >= 0.93  # 300 replicates, 5 seeds, each on its own split
    assert shared / replicates < 0.85  # seeds sharing one test set miss its sampling error
    assert added / replicates >= 0.93  # unless the shared test set's binomial error is added


def test_nadeau_bengio_interval_and_binomial_floor_by_hand() -> None:
    x = np.array([0.80, 0.84, 0.82, 0.85, 0.79])
    se = x.std(ddof=1) * math.sqrt(1 / 5 + RATIO)
    q = stats.t.ppf(0.975, 4)
    assert t_interval(x, ratio=RATIO) == pytest.approx((x.mean(), x.mean() - q * se,
                                                        x.mean() + q * se))
    # a constant predictor on stratified splits: the same share on every seed, yet its
    # interval is the binomial error of the 60 test rows (same correction), never zero width
    mean, low, high = t_interval([0.75] * 5, ratio=RATIO, floor_n=N_TEST)
    half = q * math.sqrt(0.75 * 0.25 / N_TEST * (1 / 5 + RATIO))
    assert (mean, low, high) == pytest.approx((0.75, 0.75 - half, 0.75 + half))
    assert high - low > 0.1
    # a share's interval stays inside [0, 1], however few the seeds
    assert t_interval([0.97, 0.99], ratio=RATIO, floor_n=N_TEST)[1:] == (
        pytest.approx(0.98 - stats.t.ppf(0.975, 1) * math.sqrt(
            max(0.0002 * (1 / 2 + RATIO), 0.98 * 0.02 / N_TEST * (1 / 2 + RATIO)))), 1.0)
    # seeds sharing one test set: its binomial variance adds to the seeds' spread
    se = math.sqrt(x.var(ddof=1) / 5 + x.mean() * (1 - x.mean()) / N_TEST)
    assert t_interval(x, floor_n=N_TEST)[2] == pytest.approx(x.mean() + q * se)


def test_minimum_detectable_difference_has_80_percent_power() -> None:
    rng = np.random.default_rng(7)
    for n in (3, 5, 8):
        mdd = min_detectable(1.0, n)
        d = rng.normal(mdd, 1.0, size=(20_000, n))
        power = float(np.mean(stats.ttest_1samp(d, 0.0, axis=1).pvalue <= 0.05))
        assert power == pytest.approx(0.80, abs=0.015), n  # simulated with scipy's t-test
    # large n: the normal formula (z_0.975 + z_0.8) * sd / sqrt(n)
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert min_detectable(2.0, 2000) == pytest.approx(z * 2.0 / math.sqrt(2000), rel=2e-3)
    # the Nadeau–Bengio term scales the standard error, so the MDD scales with it
    assert min_detectable(1.0, 5, RATIO) == pytest.approx(
        min_detectable(1.0, 5) * math.sqrt((1 / 5 + RATIO) * 5))
    assert min_detectable(0.0, 5) == 0.0 and math.isnan(min_detectable(1.0, 1))


def test_the_pair_table_carries_the_corrected_p_value_and_mdd() -> None:
    runs = pd.DataFrame({"readout": ["a"] * 5 + ["b"] * 5, "seed": list(range(5)) * 2,
                         "test_accuracy": [0.80, 0.84, 0.82, 0.85, 0.79,
                                           0.78, 0.83, 0.80, 0.80, 0.79]})
    row = paired_differences(runs, ratio=RATIO).iloc[0]
    d = np.array([0.02, 0.01, 0.02, 0.05, 0.00])
    se = d.std(ddof=1) * math.sqrt(1 / 5 + RATIO)
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(d.mean() / se, 4))
    assert row["mdd"] == pytest.approx(min_detectable(d.std(ddof=1), 5, RATIO))
