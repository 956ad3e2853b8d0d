"""How a cell is split and how its intervals are computed: K-fold or one held-out split.

A cell's precision target (``precision``, default 0.01) is the half-width wanted for the
95 % interval of its accuracy in the worst case (p = 0.5), which asks for
``need = ceil((1.96 · 0.5 / precision)²)`` held-out sentences (9,604 at 0.01):

- ``kfold``: the cell has at most ``folds · need`` sentences (48,020 at the defaults). Every
  sentence is held out once (seeded K-fold by sentence, ``folds`` × ``seeds``); the interval
  is the Nadeau–Bengio corrected t-interval over the fold values
  (:func:`probe_rnn.probing.intervals.ci95`). At ``folds · need`` sentences each fold trains
  on ``(folds - 1) · need`` sentences and tests ``need``.
- ``holdout``: the cell has more, so the training side has reached its cap. Per seed, one
  seeded split by sentence holds out ``need`` sentences and trains on a seeded sample of
  exactly ``(folds - 1) · need`` others: the same training size and test size as the largest
  K-fold cell, so a cell at ``folds · need + 1`` sentences reports what a cell at
  ``folds · need`` reports, within noise (protocol 3 held out ``need`` sentences as soon as a
  cell had more than ``need`` and trained on *the rest*: 1 sentence at 9,605, where a probe
  scored the majority baseline). The cost stops growing with the data: a cell reads at most
  ``folds · need`` sentences per seed.

Held-out cells run at least :data:`HOLDOUT_SEEDS` (2) seeds, each with its own split, and
their interval holds the fit's variance too. The cluster bootstrap over held-out sentences
(``BOOTSTRAP`` resamples, percentile; the same resamples for the task and its control, and for
every cell on the same sentences, so differences are paired) measures only the test rows'
sampling error given the fitted probes. The variance of the fit itself is estimated between
seeds by the method of moments (:func:`fit_variance`): the variance of the per-seed estimates
minus the mean per-seed bootstrap variance (the part of their spread the test rows explain),
floored at 0, divided by the number of seeds. It is added to the draws as seeded Gaussian
noise, independent per cell and metric, so every interval and every paired difference read
from the draws carries it (a difference gets both cells' fit variance, as two probes fitted on
different states vary independently). We chose this over "two seeds and nothing else":
averaging seeds shrinks the fit's variance, but a bootstrap conditional on the fitted probes
still leaves it out (issue 25: 0.09–0.11 false positives for "A carries more than B").

:data:`PROTOCOL_VERSION` enters every cell's journal key: changing the protocol recomputes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from probe_rnn.data.sampling import shuffled_groups
from probe_rnn.errors import ParameterError
from probe_rnn.hashing import seed_from_text
from probe_rnn.probing.intervals import Z95
from probe_rnn.probing.splits import group_kfold
from probe_rnn.validation import shown

#: 3: sentence-level controls keyed on a recurring token type (the task's control_unit).
#: 4: K-fold up to folds x need sentences, held-out cells with >= 2 seeds and the fit's
#: variance, C from inner group folds, MDL against the label prior, control key decodability.
#: 5: multi-class logistic probes solved by preconditioned L-BFGS (scikit-learn's problem and
#: stopping rule; where within ``tol`` the fit stops moves, so cells recompute).
#: 6: every fold's probes fitted fresh, never started from the last fold's weights (which were
#: trained on this fold's held-out sentences; :mod:`probe_rnn.probing.jobs`).
#: 7: two-class logistic probes on states wider than 128 features solved by the
#: preconditioned walk, not Newton–Cholesky (3x cheaper at 512; where within ``tol`` the fit
#: stops moves; :data:`probe_rnn.probing.probes.NEWTON_FEATURES`).
PROTOCOL_VERSION = 7
BOOTSTRAP = 1000
DEFAULT_PRECISION = 0.01
#: Fewest seeds a held-out cell runs (each its own split), to measure the fit's variance.
HOLDOUT_SEEDS = 2


def needed_test_sentences(precision: float) -> int:
    """Held-out sentences for a worst-case 95 % accuracy half-width of ``precision``."""
    if not isinstance(precision, int | float) or not 0 < precision < 0.5:
        raise ParameterError("precision", "a number in (0, 0.5)", shown(precision))
    return int(math.ceil((Z95 * 0.5 / precision) ** 2))


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


def holdout_seeds(seeds: Sequence[int]) -> list[int]:
    """The seeds a held-out cell runs: ``seeds``, extended by the next integers to at least
    :data:`HOLDOUT_SEEDS`."""
    out = list(seeds)
    nxt = max(out) + 1 if out else 0
    while len(out) < HOLDOUT_SEEDS:
        out.append(nxt)
        nxt += 1
    return out


def plan_splits(groups: np.ndarray, folds: int, seeds: Sequence[int], precision: float) -> Plan:
    """The splits of a cell whose rows belong to sentences ``groups`` (shape (rows,)).

    K-fold up to ``folds · need`` sentences; past that one held-out split per seed (at least
    :data:`HOLDOUT_SEEDS` seeds) with ``need`` test and ``(folds - 1) · need`` training
    sentences.
    """
    need = needed_test_sentences(precision)
    n = len(np.unique(groups))
    if n <= folds * need:
        splits = {s: group_kfold(groups, folds, s) for s in seeds}
        return Plan("kfold", splits, n, n)
    max_train = (folds - 1) * need
    splits = {s: [_holdout(groups, need, max_train, s)] for s in holdout_seeds(seeds)}
    return Plan("holdout", splits, n, need + max_train)


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


def fit_variance(
    groups: Mapping[int, np.ndarray], values: Mapping[int, np.ndarray], seed: int,
    statistic: Callable[[np.ndarray], np.ndarray] | None = None, resamples: int = BOOTSTRAP,
) -> np.ndarray:
    """Variance of the fit in the mean over seeds, by the method of moments.

    Each seed's estimate varies with its test rows and with its fitted probe; the per-seed
    cluster bootstrap measures the first. So ``max(0, var_s(estimate_s) - mean_s
    var_b(draws_s)) / seeds`` is the fit's share of the variance of the mean over seeds.

    Parameters
    ----------
    groups, values : mapping seed -> ndarray
        As for :func:`bootstrap_draws`: sentence of each held-out row (rows_s,) and per-row
        values (rows_s, metrics).
    seed : int
        Seeds the per-seed resamples.
    statistic : callable, optional
        Maps mean columns, shape (..., metrics), to the statistics, shape (..., stats)
        (e.g. R² from mean squared residual and total); default: the means themselves.

    Returns
    -------
    ndarray, shape (stats,)
        Zero with fewer than two seeds.
    """
    stat = statistic or (lambda m: m)
    points, spreads = [], []
    for s in values:
        point, draws = bootstrap_draws({s: groups[s]}, {s: values[s]}, seed, resamples)
        points.append(stat(point))
        with np.errstate(invalid="ignore", divide="ignore"):
            spreads.append(np.nanvar(stat(draws), axis=0, ddof=1))
    points_a = np.asarray(points, dtype=np.float64)
    if len(points_a) < 2:
        return np.zeros(points_a.shape[-1])
    between = np.nanvar(points_a, axis=0, ddof=1)
    within = np.nanmean(np.asarray(spreads), axis=0)
    return np.nan_to_num(np.maximum(between - within, 0.0) / len(points_a))


def with_fit_noise(draws: np.ndarray, variance: np.ndarray, seed: int, salt: str
                   ) -> np.ndarray:
    """``draws`` (resamples, stats) plus seeded Gaussian noise of ``variance`` (stats,) per
    column; ``salt`` (the cell and metric names) makes the noise independent across cells."""
    if not np.any(variance > 0):
        return draws
    key = seed_from_text(salt)
    rng = np.random.default_rng([seed, key])
    return draws + rng.standard_normal(draws.shape) * np.sqrt(variance)


def describe(precision: float, folds: int) -> str:
    """One sentence for run.json and the report."""
    need = needed_test_sentences(precision)
    return (
        f"cells with at most {folds * need} sentences: {folds}-fold by sentence (training on "
        f"at most {(folds - 1) * need} per fold), Nadeau-Bengio corrected t-interval; larger "
        f"cells: per seed (at least {HOLDOUT_SEEDS}, each its own split) {need} held-out "
        f"sentences and a seeded sample of {(folds - 1) * need} training sentences, 95% "
        f"cluster-bootstrap percentile interval ({BOOTSTRAP} resamples of held-out sentences) "
        "widened by the between-seed variance of the fit; precision target "
        f"+/-{precision} accuracy (worst case)"
    )
