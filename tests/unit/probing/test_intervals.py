"""Intervals, p-values and paired differences (probe_rnn.probing.intervals) against scipy and
hand computations, and the findings that use the paired differences."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from probe_rnn.errors import ConfigError
from probe_rnn.probing import run_probes
from probe_rnn.probing.intervals import (
    MIN_CI_VALUES,
    Z95,
    Difference,
    bootstrap_p,
    ci95,
    difference,
    holm,
    normal_p,
    paired_over_draws,
    paired_over_splits,
    percentile_interval,
    t_interval,
    t_interval95,
    t_p,
    unpaired,
)
from probe_rnn.probing.measures import METRIC_BOUNDS
from probe_rnn.report.findings import make_findings
from probe_rnn.run_record import RunRecord
from tests.unit.probing.probing_support import ArrayStore, meta_for


def _views(extra: float = 0.3, n: int = 400) -> ArrayStore:
    """output@-1 = output@last plus a small extra label signal, on the very same rows."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    a = rng.normal(size=(n, 8))
    a[:, 0] += y
    b = a.copy()
    b[:, 0] += extra * y
    meta = meta_for([f"s{i}" for i in range(n)], ["a" if v else "b" for v in y])
    return ArrayStore(meta, {"output@last": a, "output@-1": b})


def _cell(view: str) -> dict[str, str]:
    return {"model": "trained", "view": view, "task": "label", "probe": "logistic"}


@pytest.fixture(scope="module")
def kfold() -> tuple[pd.DataFrame, pd.DataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_probes({"trained": _views()}, views=["output@last", "output@-1"],
                          tasks=["label"], folds=5, mdl=False, return_values=True)


def test_a_view_ahead_on_the_same_folds_is_found_to_carry_more(kfold) -> None:
    results, values = kfold
    bits = results[results["metric"] == "bits"].set_index("view")
    a, b = bits.loc["output@-1"], bits.loc["output@last"]
    assert a["ci_low"] <= b["ci_high"]  # the two intervals overlap ...
    texts = [f.text for f in make_findings(results, None, RunRecord(), values=values)]
    found = next(t for t in texts if t.startswith("`output@-1` carries"))
    # ... yet the paired difference excludes 0, and the finding says so
    assert "bits more label information than `output@last`" in found
    assert "paired difference +" in found and "over 5 splits (Nadeau–Bengio)" in found
    unpaired = [f.text for f in make_findings(results, None, RunRecord())]
    assert any("within noise" in t and "unpaired difference" in t for t in unpaired)


def test_the_paired_interval_is_nadeau_bengio_over_the_per_split_differences(kfold) -> None:
    results, values = kfold
    d = difference(results, values, _cell("output@-1"), _cell("output@last"), "bits")
    sel = lambda v: values[(values["view"] == v) & (values["metric"] == "bits")  # noqa: E731
                           & (values["draw"] < 0) & values["t"].isna()].sort_values("split")
    diffs = sel("output@-1")["value"].to_numpy() - sel("output@last")["value"].to_numpy()
    row = results[(results["metric"] == "bits") & (results["view"] == "output@-1")].iloc[0]
    j, ratio = len(diffs), row["n_test"] / row["n_train"]
    half = stats.t.ppf(0.975, j - 1) * np.sqrt(diffs.var(ddof=1) * (1 / j + ratio))
    assert j == 5 and d.method == "paired over 5 splits (Nadeau–Bengio)"
    assert d.value == pytest.approx(diffs.mean())
    assert d.value == pytest.approx(row["value"] - results[(results["metric"] == "bits") & (
        results["view"] == "output@last")]["value"].iloc[0])
    assert (d.low, d.high) == pytest.approx((diffs.mean() - half, diffs.mean() + half))
    assert d.excludes_zero() and d.low > 0


def test_held_out_cells_pair_their_bootstrap_resamples() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results, values = run_probes(
            {"trained": _views()}, views=["output@last", "output@-1"], tasks=["label"],
            folds=3, mdl=False, precision=0.1, return_values=True)
    # 400 sentences > 3 x 97: 97 held-out and 194 training sentences per seed, two seeds
    assert set(values["protocol"]) == {"holdout"}
    d = difference(results, values, _cell("output@-1"), _cell("output@last"), "accuracy")
    assert d.method.startswith("paired bootstrap (1000 resamples")
    draws = values[(values["draw"] >= 0) & (values["metric"] == "accuracy")]
    assert len(draws) == 2000
    acc = results[results["metric"] == "accuracy"].set_index("view")
    assert d.value == pytest.approx(acc.loc["output@-1", "value"]
                                    - acc.loc["output@last", "value"])
    unpaired_width = (acc["ci_high"] - acc["ci_low"]).pow(2).sum() ** 0.5
    assert d.high - d.low < unpaired_width  # pairing removes the shared sentence noise


def test_cells_on_different_rows_are_compared_unpaired() -> None:
    store = _views()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results, values = run_probes({"trained": store}, views=["output@last"],
                                     tasks=["label"], folds=5, mdl=False,
                                     rows=np.arange(300), return_values=True)
        other, other_values = run_probes({"trained": store}, views=["output@-1"],
                                         tasks=["label"], folds=5, mdl=False,
                                         rows=np.arange(100, 400), return_values=True)
    both = pd.concat([results, other])
    d = difference(both, pd.concat([values, other_values]), _cell("output@-1"),
                   _cell("output@last"), "bits")
    assert d.method == "unpaired (different rows)"


def test_holm_matches_the_step_down_procedure_written_out():
    p = [0.01, 0.04, 0.03, 0.005, float("nan")]
    # sorted: 0.005*4, 0.01*3, 0.03*2, 0.04*1 -> cumulative max, capped at 1
    want = {3: 0.02, 0: 0.03, 2: 0.06, 1: 0.06}
    got = holm(p)
    for i, w in want.items():
        assert got[i] == pytest.approx(w)
    assert np.isnan(got[4])


def test_holm_keeps_family_wise_error_on_null_p_values():
    rng = np.random.default_rng(0)
    any_reject = [bool((holm(rng.uniform(size=12)) <= 0.05).any()) for _ in range(2000)]
    assert np.mean(any_reject) <= 0.06  # uncorrected would be 1 - 0.95**12 = 0.46


def test_t_p_is_scipys_one_sample_t_test_without_correction():
    d = np.array([0.03, -0.01, 0.05, 0.02, 0.04])
    assert t_p(d) == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue)
    assert t_p(d, 0.25) > t_p(d)  # the corrected variance is larger


def test_bootstrap_p_is_small_only_when_draws_sit_on_one_side():
    rng = np.random.default_rng(1)
    assert bootstrap_p(rng.normal(1.0, 0.2, 999)) < 0.01
    assert bootstrap_p(rng.normal(0.0, 0.2, 999)) > 0.5


T_975_DF2 = 4.302652729911275  # Student t quantile 0.975 with 2 degrees of freedom (tables)


def test_ci95_is_the_corrected_t_interval() -> None:
    vals = [0.8, 0.82, 0.79, 0.85, 0.81]
    mean, lo, hi = ci95(vals, test_train_ratio=0.25)
    sd = np.std(vals, ddof=1)
    half = stats.t.ppf(0.975, 4) * sd * math.sqrt(1 / 5 + 0.25)
    assert mean == pytest.approx(np.mean(vals))
    assert (lo, hi) == pytest.approx((mean - half, mean + half))
    plain = ci95(vals)
    assert plain[2] - plain[1] < hi - lo
    assert math.isnan(ci95([0.5])[1]) and math.isnan(ci95([])[0])


def test_ci95_of_equal_values_is_the_point_clipped_to_the_bounds() -> None:
    assert ci95([0.7] * 5, test_train_ratio=0.25) == (pytest.approx(0.7),) * 3
    assert ci95([1.0] * 4, bounds=(0.0, 1.0)) == (1.0, 1.0, 1.0)


def test_ci95_needs_three_values_and_is_clipped_to_the_metric_range() -> None:
    lo_hi = ci95([0.2, 0.9], test_train_ratio=1.0, bounds=METRIC_BOUNDS["accuracy"])
    assert lo_hi[0] == pytest.approx(0.55) and math.isnan(lo_hi[1]) and math.isnan(lo_hi[2])
    vals = [0.97, 1.0, 0.99, 1.0]
    mean, lo, hi = ci95(vals, 0.25, METRIC_BOUNDS["accuracy"])
    raw = ci95(vals, 0.25)
    assert raw[2] > 1.0 and hi == 1.0 and lo == pytest.approx(raw[1]) and 0 <= lo <= mean
    _, slo, shi = ci95([-0.95, -0.99, -0.5, -1.0], 0.25, METRIC_BOUNDS["selectivity"])
    assert slo == -1.0 and -1.0 <= shi <= 1.0
    assert METRIC_BOUNDS["entropy_bits"][0] == 0.0 and "bits" not in METRIC_BOUNDS


def test_t_interval_matches_hand_computation() -> None:
    x = [0.80, 0.84, 0.82]
    mean = sum(x) / 3
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / 2)
    half = T_975_DF2 * sd / math.sqrt(3)
    got = t_interval(x)
    assert got == pytest.approx((mean, mean - half, mean + half), abs=1e-9)
    low, high = stats.t.interval(0.95, 2, loc=np.mean(x), scale=stats.sem(x))
    assert got[1:] == pytest.approx((low, high), abs=1e-12)


def test_t_interval_edge_cases() -> None:
    mean, low, high = t_interval([0.5])
    assert mean == 0.5 and math.isnan(low) and math.isnan(high)
    assert t_interval([0.7, 0.7, 0.7]) == pytest.approx((0.7, 0.7, 0.7))
    with pytest.raises(ConfigError):
        t_interval([1.0, 2.0], confidence=1.5)


def test_the_one_normal_quantile_is_scipys_and_lives_in_one_place() -> None:
    assert Z95 == stats.norm.ppf(0.975)
    package = Path(__file__).resolve().parents[3] / "probe_rnn"
    pattern = re.compile(r"ppf\(0\.975|_Z = |1\.959963")
    holders = sorted(str(f.relative_to(package)) for f in package.rglob("*.py")
                     if pattern.search(f.read_text(encoding="utf-8")))
    assert holders == ["probing/intervals.py"]


def test_ci95_is_scipys_t_interval_with_the_nadeau_bengio_scale() -> None:
    rng = np.random.default_rng(3)
    for n, ratio in ((3, 0.0), (5, 0.25), (12, 1 / 3)):
        x = rng.normal(0.7, 0.05, n)
        scale = math.sqrt(np.var(x, ddof=1) * (1 / n + ratio))
        want = stats.t.interval(0.95, n - 1, loc=np.mean(x), scale=scale)
        mean, lo, hi = ci95(list(x) + [float("nan")], ratio)  # the NaN is dropped
        assert mean == pytest.approx(np.mean(x)) and (lo, hi) == pytest.approx(want)
    assert math.isnan(ci95(x[:MIN_CI_VALUES - 1])[1])
    assert not math.isnan(ci95(x[:2], min_values=2)[1])


def test_the_scipy_special_forms_are_scipy_stats_to_the_bit() -> None:
    """intervals.py computes from ``scipy.special`` (a report then never imports
    ``scipy.stats``); every published number must stay what ``scipy.stats`` gave, so each
    form is compared for exact equality with the distribution it replaces."""
    rng = np.random.default_rng(11)
    for _ in range(3000):
        df = int(rng.integers(1, 80))
        loc = float(rng.normal() * rng.choice([1e-3, 1.0, 50.0]))
        scale = float(abs(rng.normal()) * rng.choice([1e-5, 0.01, 1.0, 7.0]))
        want = tuple(float(x) for x in stats.t.interval(0.95, df, loc=loc, scale=scale))
        assert t_interval95(df, loc, scale) == want
        values = rng.normal(loc, scale + 1e-3, df + 1)
        se = math.sqrt(float(values.var(ddof=1)) * (1.0 / len(values)))  # as t_p forms it
        assert t_p(values) == float(2 * stats.t.sf(abs(float(values.mean())) / se, df))
        assert normal_p(loc, scale + 1e-9) == float(2 * stats.norm.sf(abs(loc) / (scale + 1e-9)))
    x = rng.normal(0.8, 0.03, 7)
    q = stats.t.ppf(0.975, df=6)
    assert t_interval(x)[2] - x.mean() == pytest.approx(q * x.std(ddof=1) / math.sqrt(7),
                                                        rel=1e-15)


def test_t_interval_is_scipys_t_interval_plain_and_corrected() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(0.8, 0.03, 6)
    plain = stats.t.interval(0.9, 5, loc=x.mean(), scale=stats.sem(x))
    assert t_interval(x, confidence=0.9)[1:] == pytest.approx(plain, abs=1e-12)
    scale = math.sqrt(x.var(ddof=1) * (1 / 6 + 0.25))
    corrected = stats.t.interval(0.95, 5, loc=x.mean(), scale=scale)
    assert t_interval(x, ratio=0.25)[1:] == pytest.approx(corrected, abs=1e-12)


def test_t_interval_floor_for_shares_is_the_binomial_variance() -> None:
    mean, low, high = t_interval([0.75] * 5, ratio=0.25, floor_n=60)  # no spread across seeds
    se = math.sqrt(0.75 * 0.25 / 60 * (1 / 5 + 0.25))
    assert (low, high) == pytest.approx((0.75 - stats.t.ppf(0.975, 4) * se,
                                         0.75 + stats.t.ppf(0.975, 4) * se))
    assert t_interval([0.99, 1.0, 1.0], floor_n=60)[2] == 1.0  # a share's interval stays in [0, 1]


def test_percentile_interval_is_the_2_5_and_97_5_percentiles_of_the_finite_draws() -> None:
    rng = np.random.default_rng(5)
    draws = rng.normal(size=(999, 2))
    draws[::7, 1] = np.nan
    low, high = percentile_interval(draws)
    for col in range(2):
        finite = draws[np.isfinite(draws[:, col]), col]
        assert (low[col], high[col]) == pytest.approx(
            (stats.scoreatpercentile(finite, 2.5), stats.scoreatpercentile(finite, 97.5)))


def test_unpaired_combines_the_standard_errors_read_off_the_intervals() -> None:
    q = stats.norm.ppf(0.975)
    a, b = (0.80, 0.80 - q * 0.03, 0.80 + q * 0.03), (0.74, 0.74 - q * 0.04, 0.74 + q * 0.04)
    d = unpaired(a, b)
    assert d.value == pytest.approx(0.06) and not d.paired
    assert (d.low, d.high) == pytest.approx((0.06 - q * 0.05, 0.06 + q * 0.05))  # sqrt(.03²+.04²)
    assert d.p_value == pytest.approx(2 * stats.norm.sf(0.06 / 0.05))
    assert normal_p(0.06, 0.05) == pytest.approx(stats.norm.cdf(-1.2) * 2)
    assert math.isnan(normal_p(0.1, 0.0))


def test_paired_builders_carry_their_interval_p_value_and_method() -> None:
    d = np.array([0.03, -0.01, 0.05, 0.02, 0.04])
    got = paired_over_splits(d, 0.25)
    assert (got.value, got.low, got.high) == ci95(d, 0.25) and got.p_value == t_p(d, 0.25)
    assert got.method == "paired over 5 splits (Nadeau–Bengio)" and got.paired
    draws = np.random.default_rng(6).normal(0.02, 0.01, 999)
    boot = paired_over_draws(0.021, draws)
    assert boot.value == 0.021 and boot.p_value == bootstrap_p(draws)
    assert (boot.low, boot.high) == pytest.approx(tuple(np.percentile(draws, [2.5, 97.5])))


def test_holm_on_a_family_of_three_written_out_by_hand() -> None:
    # sorted 0.01, 0.02, 0.04: 0.01*3 = 0.03, 0.02*2 = 0.04, 0.04*1 = 0.04 (never below the last)
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert np.isnan(holm([float("nan")])).all()


def test_a_difference_knows_whether_its_interval_excludes_zero() -> None:
    assert Difference(0.1, 0.02, 0.18, "paired over 5 splits").excludes_zero()
    assert not Difference(0.1, -0.02, 0.18, "paired over 5 splits").excludes_zero()
    assert Difference(0.1, math.nan, math.nan, "unpaired (x)").excludes_zero() is None
    assert Difference(0.041, 0.028, 0.053, "x").describe() == "+0.041 [+0.028, +0.053]"
