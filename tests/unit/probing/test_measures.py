"""Measures: bits against hand computations, intervals against scipy, baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from probe_rnn.probing.measures import (
    EPS,
    ci95,
    cross_entropy_bits,
    majority_accuracy,
    r2,
    usable_bits,
)


def test_usable_bits_matches_a_hand_computation() -> None:
    y_train = np.array(["a", "a", "a", "b"])  # marginal 3/4, 1/4
    y_test = np.array(["a", "b"])
    proba = np.array([[0.8, 0.2], [0.4, 0.6]])
    bits, h_y, ce = usable_bits(y_train, y_test, proba, ["a", "b"])
    hand_h = -(math.log2(0.75) + math.log2(0.25)) / 2
    hand_ce = -(math.log2(0.8) + math.log2(0.6)) / 2
    assert h_y == pytest.approx(hand_h)
    assert ce == pytest.approx(hand_ce)
    assert bits == pytest.approx(hand_h - hand_ce)


def test_cross_entropy_reorders_columns_and_handles_unseen_labels() -> None:
    proba = np.array([[0.1, 0.9], [0.5, 0.5]])
    got = cross_entropy_bits(np.array(["b", "c"]), proba, ["a", "b"])  # "c" never seen
    assert got == pytest.approx((-math.log2(0.9) - math.log2(EPS)) / 2)
    # clipping: probability 0 costs -log2(EPS), not infinity
    assert cross_entropy_bits(np.array(["a"]), np.array([[0.0, 1.0]]), ["a", "b"]) == \
        pytest.approx(-math.log2(EPS))


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


def test_majority_and_r2_baselines() -> None:
    assert majority_accuracy(np.array(["x", "x", "y"]), np.array(["x", "y", "y", "y"])) == 0.25
    y = np.array([1.0, 2.0, 3.0])
    assert r2(y, y) == 1.0
    assert r2(y, np.full(3, 2.0)) == pytest.approx(0.0)
    assert r2(y, np.full(3, 2.0), y_train_mean=0.0) == pytest.approx(1 - 2 / 14)
