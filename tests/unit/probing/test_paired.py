"""Paired differences between cells scored on the same splits, and the findings that use them."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from probing_support import ArrayStore, meta_for
from scipy import stats

from probe_rnn.probing import run_probes
from probe_rnn.probing.paired import bootstrap_p, difference, holm, t_p
from probe_rnn.report.findings import make_findings
from probe_rnn.run_record import RunRecord


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
