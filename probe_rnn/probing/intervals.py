"""Intervals, p-values and differences: the one place where probe-rnn computes them.

Every interval, p-value and paired difference of the toolkit comes from here; the probing
results, the report's verdicts and the readout studies all call these functions, so changing
how an interval is computed means editing this module only.

Intervals of one estimate
    - :func:`ci95`: fold × seed values of a K-fold cell; a 95 % Student-t interval with the
      Nadeau & Bengio (2003) corrected variance ``s² (1/n + n_test/n_train)`` (K-fold
      estimates share training rows, so the plain t-interval is too narrow). With fewer than
      :data:`MIN_CI_VALUES` finite values (e.g. 2 folds × 1 seed: one degree of freedom and
      t = 12.7, which gave accuracy intervals like [-0.92, 2.75]) the interval is NaN; the
      ends can be clipped to a metric's valid range. :data:`CI_METHOD` says this in words.
    - :func:`t_interval`: one value per seed of a readout study; the plain Student-t interval
      (``ratio`` 0), or Nadeau–Bengio corrected when every seed drew its own split, with a
      binomial floor for shares of test rows (:mod:`probe_rnn.studies.stats` explains why).
      It multiplies the t quantile by the standard error itself (:func:`ci95` goes through
      ``scipy.stats.t.interval``); the two round differently in the last bit, and each keeps
      its own so that published numbers do not move.
    - :func:`percentile_interval`: 2.5 and 97.5 percentiles of bootstrap draws.
    - :data:`Z95`: the normal 97.5 % quantile, for everything read off a 95 % interval.

p-values and families
    :func:`t_p` (the same corrected variance as :func:`ci95`), :func:`bootstrap_p` (from
    bootstrap draws of a difference), :func:`normal_p` (from a standard error read off an
    interval) and :func:`holm` (Holm–Bonferroni adjusted p-values of a family).

Differences between two probing cells, paired when they were scored on the same splits
    Two views of one model (or the trained and the random-init model, or two probes) are
    probed on the same rows with the same seeded splits, so their fold values are paired:
    fold 3 of view A and fold 3 of view B saw the same test sentences. Comparing the two
    intervals side by side throws that away (a view ahead on all 5 folds by 0.041 bits, paired
    interval [0.028, 0.053], looked "within noise" because its interval [0.029, 0.364]
    overlapped the other's [0.058, 0.416]). :func:`difference` reads the long table
    (:func:`~probe_rnn.probing.results.values_table`) and gives:

    - K-fold cells on the same splits: the mean of the per-split differences with the
      Nadeau–Bengio corrected t-interval (:func:`paired_over_splits`; the correction applies
      to a difference as to a value);
    - held-out cells on the same sentences: the point difference with the percentile interval
      of the per-resample differences (:func:`paired_over_draws`; both cells' bootstrap
      resamples draw the same sentences);
    - otherwise (different rows: another mask, the training rows): the unpaired difference,
      its interval from the two intervals' standard errors combined (:func:`unpaired`), and
      says so.

    Two cells pair when their ``pairing`` hashes (of the splits' sentences) are equal. The
    words a difference gets ("within noise", "better by …") are in
    :mod:`probe_rnn.probing.verdict_wording`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from probe_rnn.errors import ConfigError
from probe_rnn.probing.cell_rows import cell_positions

#: The standard normal 97.5 % quantile (1.959963984540054): a 95 % interval is ±Z95 standard
#: errors, so a standard error read off one is its width / (2 · Z95).
Z95 = float(special.ndtri(0.975))
#: Fewest finite values :func:`ci95` gives an interval for.
MIN_CI_VALUES = 3
CI_METHOD = (
    "95% t-interval over folds x seeds, Nadeau-Bengio corrected variance; "
    f"NaN with fewer than {MIN_CI_VALUES} values; clipped to the metric's valid range"
)


def t_interval95(df: int, loc: float, scale: float) -> tuple[float, float]:
    """``scipy.stats.t.interval(0.95, df, loc, scale)`` to the bit, from ``scipy.special``
    (whose import costs a tenth of ``scipy.stats``'s 1.2 s, paid by every report): scipy
    computes each end as ``stdtrit(df, q) * scale + loc`` with ``q = (1 ∓ 0.95) / 2``."""
    q = np.asarray([(1.0 - 0.95) / 2, (1.0 + 0.95) / 2])
    low, high = special.stdtrit(df, q) * scale + loc
    return float(low), float(high)


def ci95(
    values: Sequence[float], test_train_ratio: float = 0.0,
    bounds: tuple[float, float] | None = None, min_values: int = MIN_CI_VALUES,
) -> tuple[float, float, float]:
    """Mean and 95 % t-interval of fold × seed values (NaNs dropped).

    Parameters
    ----------
    values : sequence of float
        One value per fold and seed.
    test_train_ratio : float
        ``n_test / n_train`` of the folds (Nadeau-Bengio correction; 0 gives the plain interval).
    bounds : (float, float), optional
        The metric's valid range (``METRIC_BOUNDS``); the interval ends are clipped to it.
    min_values : int
        Fewer finite values than this give a NaN interval (at least 2).

    Returns
    -------
    mean, low, high : float
        ``low``/``high`` are NaN with fewer than ``min_values`` finite values.
    """
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    if len(v) < max(2, min_values):
        return mean, float("nan"), float("nan")
    var = float(v.var(ddof=1)) * (1.0 / len(v) + test_train_ratio)
    low, high = mean, mean  # zero spread: the point (t.interval gives NaN at scale 0)
    if var != 0:
        low, high = t_interval95(len(v) - 1, mean, float(np.sqrt(var)))
    if bounds is not None:
        low, high = float(np.clip(low, *bounds)), float(np.clip(high, *bounds))
    return mean, low, high


def _half_width(x: np.ndarray, confidence: float, ratio: float, floor_n: int | None) -> float:
    """Half-width of the t-interval of the mean of ``x`` (Nadeau–Bengio ``ratio``; binomial
    floor of a share of ``floor_n`` rows)."""
    q = float(special.stdtrit(x.size - 1, 0.5 + confidence / 2))  # scipy.stats.t.ppf's
    if ratio == 0.0 and floor_n is None:
        # not stats.t.interval(scale=std/sqrt(n)): it rounds in another order and differs in
        # the last bit in 646 of 2,000 random samples (3 to 25 values), moving published CIs.
        return q * float(x.std(ddof=1)) / math.sqrt(x.size)
    factor = 1.0 / x.size + ratio
    var = float(x.var(ddof=1)) * factor
    if floor_n:
        p = min(max(float(x.mean()), 0.0), 1.0)
        binomial = max(p * (1.0 - p), 1.0 / floor_n) / floor_n
        # own splits: the spread already holds the test error, floored at its binomial value;
        # one shared test set: its error is common to every seed, so it adds
        var = max(var, binomial * factor) if ratio > 0 else var + binomial
    return q * math.sqrt(var)


def t_interval(values: Sequence[float], confidence: float = 0.95, ratio: float = 0.0,
               floor_n: int | None = None) -> tuple[float, float, float]:
    """Mean and two-sided Student-t interval of ``values``.

    Parameters
    ----------
    values : sequence of float, shape (n,)
        One observation per seed.
    confidence : float
        Coverage of the interval, in (0, 1).
    ratio : float
        ``n_test / n_train`` of the seeds' splits when every seed drew its own split (the
        Nadeau–Bengio correction, variance ``s² (1/n + ratio)``); 0 for independent values.
    floor_n : int, optional
        The values are shares of ``floor_n`` test rows: with ``ratio > 0`` the variance is at
        least the binomial ``p (1 − p) / floor_n · (1/n + ratio)``; with ``ratio == 0`` (one
        test set shared by every seed) ``p (1 − p) / floor_n`` is added (``p (1 − p)`` at
        least ``1/floor_n``); the interval is clipped to [0, 1].

    Returns
    -------
    (mean, low, high) : tuple of float
        ``low``/``high`` are NaN when fewer than two values are given; with zero spread and no
        floor the interval collapses to the mean.
    """
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must lie in (0, 1); got {confidence}")
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    half = _half_width(x, confidence, ratio, floor_n)
    if floor_n:  # a share of rows lies in [0, 1], and so does its interval
        return mean, max(mean - half, 0.0), min(mean + half, 1.0)
    return mean, mean - half, mean + half


def percentile_interval(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2.5 and 97.5 percentiles of bootstrap draws (B, metrics), NaN draws left out."""
    return np.nanpercentile(draws, 2.5, axis=0), np.nanpercentile(draws, 97.5, axis=0)


@dataclass(frozen=True)
class Difference:
    """``a − b`` with a 95 % interval and how it was computed."""

    value: float
    low: float
    high: float
    method: str
    #: Two-sided p-value of "a − b = 0" from the same values as the interval (NaN: none).
    p_value: float = math.nan

    @property
    def has_ci(self) -> bool:
        """Whether both bounds are finite."""
        return math.isfinite(self.low) and math.isfinite(self.high)

    @property
    def paired(self) -> bool:
        """Whether the interval comes from paired values."""
        return self.method.startswith("paired")

    def excludes_zero(self) -> bool | None:
        """True when the interval lies on one side of 0; None without an interval."""
        if not self.has_ci:
            return None
        return self.low > 0 or self.high < 0

    def describe(self, digits: int = 3) -> str:
        """``+0.041 [0.028, 0.053]``."""
        text = f"{self.value:+.{digits}f}"
        if self.has_ci:
            text += f" [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"
        return text


def unpaired(a: tuple[float, float, float], b: tuple[float, float, float],
             why: str = "different rows") -> Difference:
    """``a − b`` from two (value, low, high) estimates taken as independent: the standard
    errors are read off the 95 % intervals and added in quadrature."""
    se = [(hi - lo) / (2 * Z95) if math.isfinite(lo) and math.isfinite(hi) else math.nan
          for _, lo, hi in (a, b)]
    d = a[0] - b[0]
    se_d = math.sqrt(se[0] ** 2 + se[1] ** 2)
    half = Z95 * se_d
    return Difference(d, d - half, d + half, f"unpaired ({why})", normal_p(d, se_d))


def normal_p(value: float, se: float) -> float:
    """Two-sided p-value of "the statistic is 0" for ``value`` with standard error ``se``
    (normal; NaN unless ``se > 0``)."""
    return float(2 * special.ndtr(-(abs(value) / se))) if se > 0 else math.nan  # norm.sf


def paired_over_splits(d: np.ndarray, ratio: float) -> Difference:
    """The mean of per-split differences ``d`` with the Nadeau–Bengio corrected t-interval
    (:func:`ci95`) and p-value (:func:`t_p`); ``ratio`` is ``n_test / n_train``."""
    mean, lo, hi = ci95(d, ratio)
    return Difference(mean, lo, hi, f"paired over {len(d)} splits (Nadeau–Bengio)",
                      t_p(d, ratio))


def paired_over_draws(point: float, d: np.ndarray) -> Difference:
    """The point difference ``point`` with the percentile interval and p-value of its
    bootstrap draws ``d`` (resamples of the same sentences on both sides)."""
    lo, hi = percentile_interval(d[:, None])
    return Difference(point, float(lo[0]), float(hi[0]),
                      f"paired bootstrap ({len(d)} resamples of the same sentences)",
                      bootstrap_p(d))


def bootstrap_p(draws: np.ndarray) -> float:
    """Two-sided p-value of "the statistic is 0" from bootstrap draws of a difference
    (twice the smaller tail, with the +1 correction so it is never 0)."""
    d = np.asarray(draws, dtype=np.float64)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return math.nan
    tail = min(np.sum(d <= 0), np.sum(d >= 0))
    return float(min(1.0, 2 * (tail + 1) / (len(d) + 1)))


def t_p(values: np.ndarray, test_train_ratio: float = 0.0) -> float:
    """Two-sided p-value of "mean 0" for per-split differences, with the same
    (Nadeau–Bengio corrected) variance as :func:`ci95`."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return math.nan
    se = math.sqrt(float(v.var(ddof=1)) * (1.0 / len(v) + test_train_ratio))
    if se == 0:
        return 1.0 if float(v.mean()) == 0 else 0.0
    return float(2 * special.stdtr(len(v) - 1, -(abs(float(v.mean())) / se)))  # t.sf


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (same order as given; NaN stays NaN and is not
    counted). Reject at level α where the adjusted value is ≤ α: the family-wise error rate
    over the comparisons is then ≤ α whatever their dependence."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out[order] = adjusted
    return out


def difference(results: pd.DataFrame, values: pd.DataFrame | None, a: Mapping[str, str],
               b: Mapping[str, str], metric: str) -> Difference | None:
    """``a − b`` of one sentence-level metric of two cells, paired where they share splits.

    Parameters
    ----------
    results : DataFrame
        The tidy results table (point values, intervals, ``n_train``/``n_test``).
    values : DataFrame or None
        The long table; None (a run made before it existed) gives the unpaired difference.
    a, b : mapping
        The two cells: ``model``, ``view``, ``task``, ``probe``.
    metric : str
        ``accuracy``, ``bits``, ...

    Returns
    -------
    Difference or None
        None when either cell has no finite value for ``metric``.
    """
    ra, rb = _row(results, a, metric), _row(results, b, metric)
    if ra is None or rb is None:
        return None
    point = (float(ra["value"]), float(ra["ci_low"]), float(ra["ci_high"]))
    other = (float(rb["value"]), float(rb["ci_low"]), float(rb["ci_high"]))
    if values is None or values.empty:
        return unpaired(point, other, "no per-split values recorded")
    wanted = ("pairing", "draw", "value", "seed", "split")
    va, vb = _select(values, a, metric, wanted), _select(values, b, metric, wanted)
    pa, pb = set(pd.Series(va["pairing"]).dropna()), set(pd.Series(vb["pairing"]).dropna())
    if len(pa) != 1 or pa != pb:
        return unpaired(point, other)
    draw_a, draw_b, value_a, value_b = va["draw"], vb["draw"], va["value"], vb["value"]
    da, db = draw_a >= 0, draw_b >= 0
    if da.any() and da.sum() == db.sum():
        order_a = np.argsort(draw_a[da], kind="stable")  # both sides sorted by draw
        order_b = np.argsort(draw_b[db], kind="stable")
        return paired_over_draws(point[0] - other[0],
                                 value_a[da][order_a] - value_b[db][order_b])
    d = _paired_split_differences(va, vb)
    if len(d) < 2:
        return unpaired(point, other, "too few paired splits")
    ratio = ra["n_test"] / ra["n_train"] if ra["n_train"] else 0.0
    return paired_over_splits(d, ratio)


def _paired_split_differences(va: dict[str, np.ndarray], vb: dict[str, np.ndarray]
                              ) -> np.ndarray:
    """``a − b`` per split both cells hold (rows with ``draw < 0`` and ``split >= 0``), in
    the order of ``a``'s rows: what an inner merge on (seed, split) pairs."""
    def splits(v: dict[str, np.ndarray]) -> tuple[list[tuple[int, int]], np.ndarray]:
        keep = (v["draw"] < 0) & (v["split"] >= 0)
        return list(zip(v["seed"][keep].tolist(), v["split"][keep].tolist(), strict=True)), \
            v["value"][keep]

    keys_a, values_a = splits(va)
    keys_b, values_b = splits(vb)
    at_b: dict[tuple[int, int], list[float]] = {}
    for key, value in zip(keys_b, values_b.tolist(), strict=True):
        at_b.setdefault(key, []).append(value)
    return np.asarray([x - y for key, x in zip(keys_a, values_a.tolist(), strict=True)
                       for y in at_b.get(key, ())], dtype=np.float64)


def _positions(df: pd.DataFrame, cell: Mapping[str, str], metric: str) -> np.ndarray:
    """Positions of the sentence-level (``t`` missing) rows of ``metric`` of one cell
    (:func:`~probe_rnn.probing.cell_rows.cell_positions`: the table is indexed once). A
    cell whose probe is None matches no row, as a comparison with None matches none."""
    if cell["probe"] is None:
        return np.zeros(0, dtype=np.int64)
    return cell_positions(df, cell["model"], cell["view"], cell["task"], cell["probe"], metric)


def _select(df: pd.DataFrame, cell: Mapping[str, str], metric: str,
            columns: Sequence[str]) -> dict[str, np.ndarray]:
    """``columns`` of :func:`_positions`'s rows, as arrays."""
    at = _positions(df, cell, metric)
    return {c: df[c].to_numpy()[at] for c in columns}


def _row(results: pd.DataFrame, cell: Mapping[str, str], metric: str
         ) -> dict[str, float] | None:
    """The first result row of the cell's ``metric`` with a finite value, or None."""
    rows = _select(results, cell, metric, ("value", "ci_low", "ci_high", "n_test", "n_train"))
    finite = np.flatnonzero(np.isfinite(rows["value"].astype(float)))
    return None if not len(finite) else {c: float(v[finite[0]]) for c, v in rows.items()}

