"""Differences between two probing cells, paired when they were scored on the same splits.

Two views of one model (or the trained and the random-init model, or two probes) are probed
on the same rows with the same seeded splits, so their fold values are paired: fold 3 of
view A and fold 3 of view B saw the same test sentences. Comparing the two intervals side by
side throws that away (a view ahead on all 5 folds by 0.041 bits, paired interval
[0.028, 0.053], looked "within noise" because its interval [0.029, 0.364] overlapped the
other's [0.058, 0.416]). :func:`difference` reads the long table
(:func:`~probe_rnn.probing.results.values_table`) and gives:

- K-fold cells on the same splits: the mean of the per-split differences with the
  Nadeau–Bengio corrected t-interval (the correction applies to a difference as to a value);
- held-out cells on the same sentences: the point difference with the percentile interval of
  the per-resample differences (both cells' bootstrap resamples draw the same sentences);
- otherwise (different rows: another mask, the training rows): the unpaired difference, its
  interval from the two intervals' standard errors combined, and says so.

Two cells pair when their ``pairing`` hashes (of the splits' sentences) are equal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from probe_rnn.probing.measures import ci95
from probe_rnn.probing.protocol import percentile_interval

__all__ = ["Difference", "difference", "unpaired", "holm", "bootstrap_p", "t_p"]

_Z = 1.959963984540054


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
    se = [(hi - lo) / (2 * _Z) if math.isfinite(lo) and math.isfinite(hi) else math.nan
          for _, lo, hi in (a, b)]
    d = a[0] - b[0]
    se_d = math.sqrt(se[0] ** 2 + se[1] ** 2)
    half = _Z * se_d
    p = float(2 * stats.norm.sf(abs(d) / se_d)) if se_d > 0 else math.nan
    return Difference(d, d - half, d + half, f"unpaired ({why})", p)


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
    (Nadeau–Bengio corrected) variance as :func:`~probe_rnn.probing.measures.ci95`."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return math.nan
    se = math.sqrt(float(v.var(ddof=1)) * (1.0 / len(v) + test_train_ratio))
    if se == 0:
        return 1.0 if float(v.mean()) == 0 else 0.0
    return float(2 * stats.t.sf(abs(float(v.mean())) / se, len(v) - 1))


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
    va, vb = _select(values, a, metric), _select(values, b, metric)
    pa, pb = set(va["pairing"].dropna()), set(vb["pairing"].dropna())
    if len(pa) != 1 or pa != pb:
        return unpaired(point, other)
    da, db = va[va["draw"] >= 0], vb[vb["draw"] >= 0]
    if len(da) and len(da) == len(db):
        d = da.sort_values("draw")["value"].to_numpy() - db.sort_values("draw")["value"].to_numpy()
        lo, hi = percentile_interval(d[:, None])
        return Difference(point[0] - other[0], float(lo[0]), float(hi[0]),
                          f"paired bootstrap ({len(d)} resamples of the same sentences)",
                          bootstrap_p(d))
    sa = va[(va["draw"] < 0) & (va["split"] >= 0)]
    sb = vb[(vb["draw"] < 0) & (vb["split"] >= 0)]
    both = sa.merge(sb, on=["seed", "split"], suffixes=("_a", "_b"))
    if len(both) < 2:
        return unpaired(point, other, "too few paired splits")
    d = (both["value_a"] - both["value_b"]).to_numpy()
    ratio = float(ra["n_test"]) / float(ra["n_train"]) if float(ra["n_train"]) else 0.0
    mean, lo, hi = ci95(d, ratio)
    return Difference(mean, lo, hi, f"paired over {len(d)} splits (Nadeau–Bengio)",
                      t_p(d, ratio))


def _select(df: pd.DataFrame, cell: Mapping[str, str], metric: str) -> pd.DataFrame:
    sel = (df["metric"] == metric) & df["t"].isna()
    for key in ("model", "view", "task", "probe"):
        sel &= df[key] == cell[key]
    return df[sel]


def _row(results: pd.DataFrame, cell: Mapping[str, str], metric: str) -> pd.Series | None:
    rows = _select(results, cell, metric)
    rows = rows[np.isfinite(rows["value"].astype(float))]
    return None if rows.empty else rows.iloc[0]
