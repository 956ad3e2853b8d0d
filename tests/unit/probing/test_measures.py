"""Measures: bits against hand computations, metric ranges, baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from probe_rnn.probing.measures import (
    EPS,
    SMOOTHING,
    align_proba,
    cross_entropy_bits,
    majority_accuracy,
    r2,
    usable_bits,
)


def test_usable_bits_matches_a_hand_computation() -> None:
    y_train = np.array(["a", "a", "a", "b"])  # marginal 3/4, 1/4
    y_test = np.array(["a", "b"])
    proba = np.array([[0.8, 0.2], [0.4, 0.6]])
    bits, h_y, ce = usable_bits(y_train, y_test, proba, ["a", "b"], alpha=0.0)  # unsmoothed
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


def test_align_proba_reorders_fills_and_drops_columns() -> None:
    proba = np.array([[0.1, 0.9], [0.6, 0.4]])
    out = align_proba(proba, np.array(["b", "z"]), np.array(["a", "b", "c"], dtype=object))
    assert out.dtype == np.float64
    assert out.tolist() == [[0.0, 0.1, 0.0], [0.0, 0.6, 0.0]]  # "z" is not wanted, "a"/"c" absent
    assert align_proba(proba, [2, 0], [0, 1, 2]).tolist() == [[0.9, 0.0, 0.1], [0.4, 0.0, 0.6]]


def test_majority_and_r2_baselines() -> None:
    assert majority_accuracy(np.array(["x", "x", "y"]), np.array(["x", "y", "y", "y"])) == 0.25
    y = np.array([1.0, 2.0, 3.0])
    assert r2(y, y) == 1.0
    assert r2(y, np.full(3, 2.0)) == pytest.approx(0.0)
    assert r2(y, np.full(3, 2.0), y_train_mean=0.0) == pytest.approx(1 - 2 / 14)


def test_smoothed_bits_match_a_hand_computation_over_the_full_class_set() -> None:
    y_train = np.array(["a", "a", "a", "b"])
    y_test = np.array(["a", "c"])  # "c" is a class of the task the fold never saw
    proba = np.array([[0.8, 0.2], [0.4, 0.6]])
    bits, h_y, ce = usable_bits(y_train, y_test, proba, ["a", "b"], all_classes=["a", "b", "c"])
    a, k, n = SMOOTHING, 3, 4
    lam = k * a / (n + k * a)
    hand_h = -(math.log2((3 + a) / (n + k * a)) + math.log2(a / (n + k * a))) / 2
    hand_ce = -(math.log2((1 - lam) * 0.8 + lam / k) + math.log2(lam / k)) / 2
    assert h_y == pytest.approx(hand_h) and ce == pytest.approx(hand_ce)
    assert bits == pytest.approx(hand_h - hand_ce)


def test_a_rare_class_missing_from_training_costs_a_bounded_equal_amount_in_both_terms() -> None:
    y_train = np.array(["no"] * 160)  # the 2 rare rows of 200 are both held out
    y_test = np.array(["no"] * 38 + ["yes"] * 2)
    constant = np.ones((40, 1))  # what a probe fitted on one class predicts
    bits, h_y, ce = usable_bits(y_train, y_test, constant, ["no"], all_classes=["no", "yes"])
    assert h_y <= 1.0 and h_y == pytest.approx(ce) and bits == pytest.approx(0.0, abs=1e-12)
    hand = -(38 * math.log2(160.5 / 161) + 2 * math.log2(0.5 / 161)) / 40
    assert h_y == pytest.approx(hand)  # unsmoothed EPS clipping gave 2/40 * 19.93 = 0.997
    # a probe reproducing the training frequencies carries exactly 0 bits
    y_tr = np.array(["x"] * 30 + ["y"] * 10)
    freq = np.tile([0.75, 0.25], (5, 1))
    assert usable_bits(y_tr, np.array(list("xxyxy")), freq, ["x", "y"])[0] == pytest.approx(0.0)
    # a confident wrong probe is charged the same floor as the null model, never -log2(EPS)
    _, _, worst = usable_bits(y_tr, np.array(["y"]), np.array([[1.0, 0.0]]), ["x", "y"])
    assert worst == pytest.approx(math.log2((40 + 2 * SMOOTHING) / SMOOTHING))
