"""Online codelength: hand reference for the block arithmetic, learnable vs control labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from probe_rnn.probing.controls import control_targets
from probe_rnn.probing.mdl import BLOCKS, block_ends, online_codelength
from probe_rnn.probing.probes import LogisticProbe


def test_block_ends_follow_fractions_and_group_boundaries() -> None:
    assert block_ends(np.arange(1000)) == [1, 2, 4, 8, 16, 32, 62, 125, 250, 500, 1000]
    groups = np.repeat(np.arange(100), 3)  # never cut inside a group of 3
    ends = block_ends(groups)
    assert all(e % 3 == 0 for e in ends) and ends[-1] == 300
    assert ends == sorted(set(ends))


def test_codelength_of_a_prior_probe_matches_a_hand_loop() -> None:
    rng = np.random.default_rng(0)
    n = 400
    y = rng.choice(["a", "b", "c"], p=[0.7, 0.2, 0.1], size=n)
    X = rng.normal(size=(n, 2))
    groups = np.arange(n)
    res = online_codelength(lambda: DummyClassifier(strategy="prior"), X, y, groups, seed=3)
    rank = np.random.default_rng(3).permutation(n)  # one row per group: row i is sent rank[i]-th
    ys = y[np.argsort(rank)]
    ends = [max(1, round(f * n)) for f in BLOCKS]
    ends = sorted(set(ends))
    hand = prior = ends[0] * math.log2(3)
    for a, b in zip(ends[:-1], ends[1:], strict=False):
        train = ys[:a]
        values, counts = np.unique(train, return_counts=True)
        # the label prior: Krichevsky-Trofimov (0.5 per class) counts of the rows before
        kt = {c: (np.sum(train == c) + 0.5) / (a + 1.5) for c in "abc"}
        prior_bits = sum(-math.log2(kt[v]) for v in ys[a:b])
        if len(values) < 2:  # single class: no probe, the prior's code
            probe_bits = prior_bits
        else:
            probs = {c: counts[list(values).index(c)] / a if c in values else 0 for c in "abc"}
            probe_bits = sum(-math.log2(max(probs[v], 1e-6)) for v in ys[a:b])
        hand += 1 + min(probe_bits, prior_bits)  # flag bit, then the shorter code
        prior += prior_bits
    assert res.mdl_bits == pytest.approx(hand)
    assert res.prior_bits == pytest.approx(prior)
    assert res.compression == pytest.approx(prior / hand)
    assert res.uniform_bits == pytest.approx(n * math.log2(3))


def test_learnable_labels_compress_and_control_labels_do_not() -> None:
    rng = np.random.default_rng(1)
    n = 800
    X = rng.normal(size=(n, 8))
    y = np.where(X[:, 0] + 0.3 * rng.normal(size=n) > 0, "pos", "neg")
    groups = np.arange(n)
    learn = online_codelength(lambda: LogisticProbe(C=1.0), X, y, groups, seed=0)
    assert learn.mdl_bits < 0.5 * learn.uniform_bits and learn.compression > 2
    ctrl_y = control_targets(y, groups, seed=0)  # one random label per "sentence"
    ctrl = online_codelength(lambda: LogisticProbe(C=1.0), X, ctrl_y, groups, seed=0)
    assert ctrl.mdl_bits >= 0.97 * ctrl.uniform_bits


def test_a_view_that_carries_nothing_compresses_at_about_one_not_below() -> None:
    rng = np.random.default_rng(0)
    n, dim = 1000, 64
    y = rng.choice(["a", "b"], size=n)
    X = rng.normal(size=(n, dim))  # overfit early blocks used to give compression 0.68 here
    res = online_codelength(lambda: LogisticProbe(C=1.0), X, y, np.arange(n), seed=0)
    blocks = len(res.block_ends) - 1
    assert res.prior_bits <= res.mdl_bits <= res.prior_bits + blocks  # the flags at most
    assert 0.98 < res.compression <= 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_with_imbalanced_labels_compresses_about_one_against_the_label_prior(seed) -> None:
    # issue 25: with 78/22 labels, the uniform reference made pure noise "compress" 1.293x
    rng = np.random.default_rng(seed)
    n, dim = 1000, 32
    y = np.where(rng.random(n) < 0.78, "maj", "min")
    X = rng.normal(size=(n, dim))
    res = online_codelength(lambda: LogisticProbe(C=1.0), X, y, np.arange(n), seed=seed)
    # the reference against an independent one: n times the plug-in entropy of the labels is
    # a lower bound of any code of them that learns the frequencies; the prior's code pays a
    # few bits more for learning them (about (1/2) log2 n per parameter), far below uniform
    assert res.prior_bits < 0.85 * res.uniform_bits
    p = np.mean(y == "maj")
    plug_in = -n * (p * np.log2(p) + (1 - p) * np.log2(1 - p))
    assert plug_in <= res.prior_bits <= plug_in + 25  # n H(Y) plus the prior's learning cost
    assert 0.97 < res.compression <= 1.0
    assert res.uniform_bits / res.mdl_bits > 1.2  # what protocol 3 reported as compression
