"""How a cell is split and how its intervals are computed: K-fold or one held-out split.

A cell's precision target (``precision``, default 0.01) is the half-width wanted for the
95 % interval of its accuracy in the worst case (p = 0.5), which asks for
``need = ceil((1.96 · 0.5 / precision)²)`` held-out sentences (9,604 at 0.01):

- ``kfold``: the cell has at most ``need`` sentences. Every sentence is held out once
  (seeded K-fold by sentence, ``folds`` × ``seeds``); the interval is the Nadeau–Bengio
  corrected t-interval over the fold values (:func:`probe_rnn.probing.measures.ci95`).
- ``holdout``: the cell has more. One seeded split by sentence per seed holds out ``need``
  sentences; the probe trains on the rest, at most ``(folds - 1) · need`` sentences (a seeded
  sample of whole sentences past that, so the cost stops growing with the data: a cell reads
  at most ``folds · need`` sentences, 48,020 at the defaults). The interval is a cluster
  bootstrap over held-out sentences (``BOOTSTRAP`` resamples, percentile), the same
  resamples for the task and its control, so selectivity's interval is paired.

:data:`PROTOCOL_VERSION` enters every cell's journal key: changing the protocol recomputes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from probe_rnn.data.sampling import shuffled_groups
from probe_rnn.errors import ConfigError
from probe_rnn.probing.splits import group_kfold

__all__ = [
    "PROTOCOL_VERSION", "BOOTSTRAP", "DEFAULT_PRECISION", "Plan", "needed_test_sentences",
    "plan_splits", "bootstrap_draws", "percentile_interval", "describe",
]

#: 3: sentence-level controls keyed on a recurring token type (the task's control_unit).
PROTOCOL_VERSION = 3
BOOTSTRAP = 1000
DEFAULT_PRECISION = 0.01
_Z = 1.959963984540054


def needed_test_sentences(precision: float) -> int:
    """Held-out sentences for a worst-case 95 % accuracy half-width of ``precision``."""
    if not isinstance(precision, int | float) or not 0 < precision < 0.5:
        raise ConfigError(f"precision must be a number in (0, 0.5), got {precision!r}")
    return int(math.ceil((_Z * 0.5 / precision) ** 2))


@dataclass
class Plan:
    """A cell's splits: ``protocol`` ("kfold" | "holdout") and ``(train, test)`` per seed."""

    protocol: str
    splits: dict[int, list[tuple[np.ndarray, np.ndarray]]]
    sentences: int
    used_sentences: int


def _holdout(groups: np.ndarray, n_test: int, max_train: int, seed: int
             ) -> tuple[np.ndarray, np.ndarray]:
    inverse, order = shuffled_groups(groups, seed)
    side = np.full(len(order), -1, dtype=np.int8)
    side[order[:n_test]] = 1
    side[order[n_test:n_test + max_train]] = 0
    where = side[inverse]
    return np.flatnonzero(where == 0), np.flatnonzero(where == 1)


def plan_splits(groups: np.ndarray, folds: int, seeds: Sequence[int], precision: float) -> Plan:
    """The splits of a cell whose rows belong to sentences ``groups`` (shape (rows,))."""
    need = needed_test_sentences(precision)
    n = len(np.unique(groups))
    if n <= need:
        splits = {s: group_kfold(groups, folds, s) for s in seeds}
        return Plan("kfold", splits, n, n)
    max_train = (folds - 1) * need
    splits = {s: [_holdout(groups, need, max_train, s)] for s in seeds}
    return Plan("holdout", splits, n, min(n, need + max_train))


def bootstrap_draws(
    groups: Mapping[int, np.ndarray], values: Mapping[int, np.ndarray], seed: int,
    resamples: int = BOOTSTRAP,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds of per-row means, and the same statistic on cluster-bootstrap resamples.

    Sentences are resampled with replacement (one draw for all seeds' held-out rows), so rows
    of a sentence stay together and every column is resampled alike (paired).

    Parameters
    ----------
    groups : mapping seed -> ndarray of int, shape (rows_s,)
        Sentence of each held-out row of that seed's split.
    values : mapping seed -> ndarray, shape (rows_s, metrics)
        Per-row values (e.g. correct, code lengths).
    seed : int
        Seeds the resamples (the same for every cell, so cells on the same rows are paired).

    Returns
    -------
    point : ndarray, shape (metrics,)
    draws : ndarray, shape (resamples, metrics)
    """
    seeds = list(values)
    union = np.unique(np.concatenate([groups[s] for s in seeds]))
    sums, counts = [], []
    for s in seeds:
        pos = np.searchsorted(union, groups[s])
        v = np.asarray(values[s], dtype=np.float64).reshape(len(pos), -1)
        total = np.zeros((len(union), v.shape[1]))
        np.add.at(total, pos, v)
        sums.append(total)
        counts.append(np.bincount(pos, minlength=len(union)).astype(np.float64))
    point = np.mean([s.sum(0) / max(c.sum(), 1.0) for s, c in zip(sums, counts, strict=True)],
                    axis=0)
    rng = np.random.default_rng(seed)
    draws = []
    for start in range(0, resamples, 100):
        b = min(100, resamples - start)
        # b resamples of len(union) sentences with replacement, as counts per sentence
        picks = rng.integers(0, len(union), size=(b, len(union)))
        flat = (np.arange(b)[:, None] * len(union) + picks).ravel()
        w = np.bincount(flat, minlength=b * len(union)).reshape(b, len(union)).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_seed = [(w @ s) / (w @ c)[:, None] for s, c in zip(sums, counts, strict=True)]
        draws.append(np.mean(per_seed, axis=0))
    return point, np.concatenate(draws)


def percentile_interval(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2.5 and 97.5 percentiles of bootstrap draws (B, metrics), NaN draws left out."""
    return np.nanpercentile(draws, 2.5, axis=0), np.nanpercentile(draws, 97.5, axis=0)


def describe(precision: float, folds: int) -> str:
    """One sentence for run.json and the report."""
    need = needed_test_sentences(precision)
    return (
        f"cells with at most {need} sentences: {folds}-fold by sentence, Nadeau-Bengio "
        f"corrected t-interval; larger cells: {need} held-out sentences, training on at most "
        f"{(folds - 1) * need} (seeded sample), 95% cluster-bootstrap percentile interval "
        f"({BOOTSTRAP} resamples of held-out sentences); precision target +/-{precision} "
        "accuracy (worst case)"
    )
