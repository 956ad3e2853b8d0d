"""Minimum description length probing: online (prequential) codelength, Voita & Titov 2020.

The rows are shuffled (seeded, whole sentences kept together) and cut into blocks ending at
``BLOCKS`` × n rows (0.1 %, 0.2 %, 0.4 %, 0.8 %, 1.6 %, 3.2 %, 6.25 %, 12.5 %, 25 %, 50 %,
100 %; cut points move forward to the next sentence boundary). The first block is sent with the
uniform code (log2 K bits per row); each later block is sent with the code of a probe trained
on every row before it, or with the code of the label prior when that is shorter, plus one bit
per block saying which (a valid code: the receiver can decode either).

The reference is the **prequential code of the label prior** (``prior_bits``): the same blocks,
the first uniform, each later one coded with the Krichevsky–Trofimov estimate of the class
frequencies of every row before it (``SMOOTHING`` = 0.5 per class, as in
:mod:`probe_rnn.probing.measures`): what a probe that reads nothing from the state can do.
``compression = prior_bits / mdl_bits`` (> 1 means the states let the labels be sent in fewer
bits than their frequencies alone). Protocol 3 divided the uniform code (``uniform_bits = n log2
K``, still reported) by the MDL code, so with 78/22 labels a view carrying nothing compressed
1.293x: the label prior's own gain. Now pure noise reads about 1 (slightly below: it pays the
flag bits and the early blocks' overfit), whatever the balance of the labels. Probabilities
are clipped to ``[EPS, 1]`` as in :mod:`probe_rnn.probing.measures`; a block whose training
rows hold a single class is coded with the prior (a probe cannot be fitted on one class).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from probe_rnn.data.sampling import shuffled_groups
from probe_rnn.probing.measures import EPS, SMOOTHING, align_proba

BLOCKS: tuple[float, ...] = (
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.0625, 0.125, 0.25, 0.5, 1.0
)


@dataclass
class MDLResult:
    """Online codelength of one labelling given one view."""

    mdl_bits: float
    uniform_bits: float
    n: int
    n_classes: int
    block_ends: list[int] = field(default_factory=list)
    block_bits: list[float] = field(default_factory=list)
    prior_bits: float = float("nan")

    @property
    def compression(self) -> float:
        """``prior_bits / mdl_bits``: about 1 when the state carries nothing."""
        return self.prior_bits / self.mdl_bits if self.mdl_bits > 0 else float("nan")


def block_ends(groups_in_order: np.ndarray, fractions: tuple[float, ...] = BLOCKS) -> list[int]:
    """Block end positions (exclusive), moved forward to the next group boundary, increasing.

    Parameters
    ----------
    groups_in_order : ndarray, shape (n,)
        Group id of each row in coding order (rows of a group are contiguous).
    """
    n = len(groups_in_order)
    starts = np.flatnonzero(np.r_[True, groups_in_order[1:] != groups_in_order[:-1]])
    boundaries = np.r_[starts[1:], n]
    ends: list[int] = []
    for f in fractions:
        target = max(1, int(round(f * n)))
        end = int(boundaries[np.searchsorted(boundaries, target)])
        if not ends or end > ends[-1]:
            ends.append(end)
    return ends


def prior_proba(y_train: np.ndarray, classes: np.ndarray, rows: int) -> np.ndarray:
    """The label prior's code after ``y_train``: KT-smoothed class frequencies, (rows, K)."""
    counts = np.array([np.sum(y_train == c) for c in classes.tolist()], dtype=np.float64)
    counts += SMOOTHING
    return np.tile(counts / counts.sum(), (rows, 1))


def _block_proba(
    make: Callable[[], Any], X_tr: np.ndarray, y_tr: np.ndarray, X_te: np.ndarray,
    classes: np.ndarray, fit_kwargs: dict[str, Any],
) -> np.ndarray | None:
    if len(np.unique(y_tr)) < 2:
        return None
    est = make()
    est.fit(X_tr, y_tr, **fit_kwargs)  # not its return: a plugin's fit may return None
    return align_proba(est.predict_proba(X_te), est.classes_, classes)


def _code(proba: np.ndarray, cols: np.ndarray) -> float:
    p = np.clip(proba[np.arange(len(cols)), cols], EPS, 1.0)
    return float(-np.sum(np.log2(p)))


def online_codelength(
    make: Callable[[], Any],
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    seed: int = 0,
    fractions: tuple[float, ...] = BLOCKS,
    pass_groups: bool = False,
) -> MDLResult:
    """Online codelength of ``y`` given ``X``.

    Parameters
    ----------
    make : callable
        Returns a fresh probe with ``fit``/``predict_proba``.
    X : ndarray, shape (n, dim)
    y : ndarray, shape (n,)
        Class labels.
    groups : ndarray of int, shape (n,)
        Sentence id of each row; a sentence is never split between blocks.
    seed : int
        Seeds the order of the sentences.
    pass_groups : bool
        Pass ``groups=`` to the probe's ``fit`` (for probes that split by group inside).
    """
    inverse, group_order = shuffled_groups(groups, seed)
    rank = group_order[inverse]
    order = np.lexsort((np.arange(len(y)), rank))
    X, y, g = X[order], np.asarray(y)[order], rank[order]
    classes = np.unique(y)
    k = len(classes)
    ends = block_ends(g, fractions)
    bits = [ends[0] * float(np.log2(k))]
    prior = [bits[0]]
    index = {c: i for i, c in enumerate(classes.tolist())}
    for a, b in zip(ends[:-1], ends[1:], strict=False):
        kw = {"groups": g[:a]} if pass_groups else {}
        cols = np.array([index[v] for v in y[a:b].tolist()])
        prior.append(_code(prior_proba(y[:a], classes, b - a), cols))
        proba = _block_proba(make, X[:a], y[:a], X[a:b], classes, kw)
        probe = prior[-1] if proba is None else _code(proba, cols)
        # one flag bit, then the shorter of the probe's code and the prior's
        bits.append(1.0 + min(probe, prior[-1]))
    return MDLResult(
        mdl_bits=float(sum(bits)), uniform_bits=len(y) * float(np.log2(k)), n=len(y),
        n_classes=k, block_ends=ends, block_bits=bits, prior_bits=float(sum(prior)),
    )
