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
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from probe_rnn.probing.measures import ci95
from probe_rnn.probing.protocol import percentile_interval

__all__ = ["Difference", "difference", "unpaired"]

_Z = 1.959963984540054


@dataclass(frozen=True)
class Difference:
    """``a − b`` with a 95 % interval and how it was computed."""

    value: float
    low: float
    high: float
    method: str

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
    half = _Z * math.sqrt(se[0] ** 2 + se[1] ** 2)
    return Difference(d, d - half, d + half, f"unpaired ({why})")


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
                          f"paired bootstrap ({len(d)} resamples of the same sentences)")
    sa = va[(va["draw"] < 0) & (va["split"] >= 0)]
    sb = vb[(vb["draw"] < 0) & (vb["split"] >= 0)]
    both = sa.merge(sb, on=["seed", "split"], suffixes=("_a", "_b"))
    if len(both) < 2:
        return unpaired(point, other, "too few paired splits")
    d = (both["value_a"] - both["value_b"]).to_numpy()
    ratio = float(ra["n_test"]) / float(ra["n_train"]) if float(ra["n_train"]) else 0.0
    mean, lo, hi = ci95(d, ratio)
    return Difference(mean, lo, hi, f"paired over {len(d)} splits (Nadeau–Bengio)")


def _select(df: pd.DataFrame, cell: Mapping[str, str], metric: str) -> pd.DataFrame:
    sel = (df["metric"] == metric) & df["t"].isna()
    for key in ("model", "view", "task", "probe"):
        sel &= df[key] == cell[key]
    return df[sel]


def _row(results: pd.DataFrame, cell: Mapping[str, str], metric: str) -> pd.Series | None:
    rows = _select(results, cell, metric)
    rows = rows[np.isfinite(rows["value"].astype(float))]
    return None if rows.empty else rows.iloc[0]
