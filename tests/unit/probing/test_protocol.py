"""The cell protocol: K-fold below the precision target's sentence count, one held-out split
above it (training side capped), and the cluster bootstrap against the binomial interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from probe_rnn.errors import ParameterError
from probe_rnn.probing.intervals import percentile_interval
from probe_rnn.probing.protocol import bootstrap_draws, needed_test_sentences, plan_splits


def test_needed_sentences_follow_the_worst_case_binomial_half_width() -> None:
    for precision in (0.01, 0.02, 0.05):
        need = needed_test_sentences(precision)
        half = 1.959964 * np.sqrt(0.25 / need)  # the normal-approximation half-width at p=.5
        assert half <= precision < 1.959964 * np.sqrt(0.25 / (need - 1))
    with pytest.raises(ParameterError) as refused:
        needed_test_sentences(0)
    assert refused.value.parameter == "precision"


def test_k_fold_up_to_folds_times_need_then_held_out_with_the_training_side_at_its_cap(
) -> None:
    need = needed_test_sentences(0.1)  # 97
    groups = np.repeat(np.arange(5 * need), 2)  # 485 sentences, 2 rows each
    at_cap = plan_splits(groups, folds=5, seeds=[0], precision=0.1)
    assert at_cap.protocol == "kfold" and len(at_cap.splits[0]) == 5
    tested = np.sort(np.concatenate([te for _, te in at_cap.splits[0]]))
    np.testing.assert_array_equal(tested, np.arange(len(groups)))
    assert {len(np.unique(groups[tr])) for tr, _ in at_cap.splits[0]} == {4 * need}
    over = np.repeat(np.arange(5 * need + 1), 2)
    plan = plan_splits(over, folds=5, seeds=[0], precision=0.1)
    assert plan.protocol == "holdout" and set(plan.splits) == {0, 1}  # two seeds at least
    for sd in (0, 1):
        (tr, te), = plan.splits[sd]
        assert len(np.unique(over[te])) == need
        assert len(np.unique(over[tr])) == 4 * need  # the K-fold cell's training size
        assert not set(over[tr]) & set(over[te])
    assert not np.array_equal(plan.splits[0][0][1], plan.splits[1][0][1])  # own splits
    assert plan.used_sentences == 5 * need and plan.sentences == 5 * need + 1
    three = plan_splits(np.arange(1000), folds=3, seeds=[4, 5, 6], precision=0.1)
    assert set(three.splits) == {4, 5, 6}
    (btr, bte), = three.splits[4]
    assert (len(btr), len(bte), three.used_sentences) == (2 * 97, 97, 3 * 97)


def test_bootstrap_interval_matches_the_binomial_one_for_single_row_sentences() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    correct = (rng.random(n) < 0.8).astype(float)
    point, draws = bootstrap_draws({0: np.arange(n)}, {0: correct[:, None]}, seed=0)
    low, high = percentile_interval(draws)
    p = correct.mean()
    half = 1.959964 * np.sqrt(p * (1 - p) / n)
    assert point[0] == pytest.approx(p)
    assert low[0] == pytest.approx(p - half, abs=0.25 * half)
    assert high[0] == pytest.approx(p + half, abs=0.25 * half)


def test_bootstrap_resamples_whole_sentences() -> None:
    # 200 sentences of 10 identical rows: the effective sample is 200, not 2000
    rng = np.random.default_rng(1)
    per_sentence = (rng.random(200) < 0.5).astype(float)
    groups = np.repeat(np.arange(200), 10)
    values = np.repeat(per_sentence, 10)[:, None]
    _, draws = bootstrap_draws({0: groups}, {0: values}, seed=0)
    low, high = percentile_interval(draws)
    p = per_sentence.mean()
    half = 1.959964 * np.sqrt(p * (1 - p) / 200)
    assert high[0] - low[0] == pytest.approx(2 * half, rel=0.25)


def _gaussian_store(n: int, seed: int = 0, shift: float = 1.2):
    """The first ``n`` of 600 seeded sentences whose view ``a`` carries a balanced binary
    label in one dimension (so a cell at n + 1 sentences holds the cell at n)."""
    from tests.unit.probing.probing_support import ArrayStore, meta_for

    rng = np.random.default_rng(seed)
    is_a = rng.random(600) < 0.5
    X = rng.normal(size=(600, 8))
    X[:, 0] += np.where(is_a, shift / 2, -shift / 2)
    labels = list(np.where(is_a[:n], "a", "b"))
    return ArrayStore(meta_for([f"s{i}" for i in range(n)], labels), {"a": X[:n]})


def _accuracy(n: int, seed: int) -> pd.Series:
    import warnings

    from probe_rnn.probing import run_probes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = run_probes({"trained": _gaussian_store(n, seed)}, views=["a"], tasks=["label"],
                        folds=5, mdl=False, control=False, precision=0.1, seed=seed)
    row = df[df["metric"] == "accuracy"].iloc[0]
    return row


@pytest.mark.parametrize("seed", [0, 1])
def test_a_cell_at_need_plus_one_reports_what_it_reports_at_need(seed) -> None:
    # precision 0.1: need = 97. Protocol 3 held out 97 sentences at 98 and trained on 1 (the
    # majority baseline); the expected accuracy here is about 0.70 (tests/benchmarks)
    need = needed_test_sentences(0.1)
    at, over = _accuracy(need, seed), _accuracy(need + 1, seed)
    assert abs(int(over["n_train"]) - int(at["n_train"])) <= 1  # about 4/5 of the sentences
    # the same sentences plus one, other folds: within the fold noise (sd about 0.045 here)
    assert abs(over["value"] - at["value"]) <= 0.1
    assert over["ci_low"] < at["value"] < over["ci_high"]
    # and at the new boundary, folds x need: K-fold, then held-out with the same training size
    at, over = _accuracy(5 * need, seed), _accuracy(5 * need + 1, seed)
    assert int(at["n_train"]) == int(over["n_train"]) == 4 * need
    assert abs(over["value"] - at["value"]) <= 0.06  # 194 held-out rows: sd about 0.033
    assert over["ci_low"] < at["value"] < over["ci_high"]
