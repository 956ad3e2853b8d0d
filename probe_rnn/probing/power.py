"""Minimum detectable differences: what a "within noise" could have missed.

Beside every "within noise" stands the true difference the same test would detect with
probability :data:`~probe_rnn.probing.verdict_wording.POWER` at level
:data:`~probe_rnn.probing.verdict_wording.ALPHA`, so "within noise" never reads as "equal".
Two forms, one per kind of test:

- :func:`min_detectable`: the paired t-test over seeds of a readout study (``n − 1`` degrees
  of freedom, Nadeau–Bengio ``ratio``), exact from the noncentral t;
- :func:`detectable`: a probing :class:`~probe_rnn.probing.intervals.Difference`, whose test
  may be a t-test, a bootstrap or a normal one, from the standard error read off its 95 %
  interval (normal approximation), at Holm's first-step level ``ALPHA / family``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import special

from probe_rnn.probing.intervals import Z95, Difference
from probe_rnn.probing.verdict_wording import ALPHA, POWER


def min_detectable(sd: float, n: int, ratio: float = 0.0, alpha: float = ALPHA,
                   power: float = POWER) -> float:
    """Smallest true mean difference the two-sided paired t-test detects with ``power``.

    The test has ``n − 1`` degrees of freedom and standard error ``sd · sqrt(1/n + ratio)``;
    under a true difference ``δ`` its statistic is noncentral t with noncentrality
    ``δ / se``. Returns ``δ`` solving ``P(|T| > t_{1−α/2}) = power`` (NaN for ``n < 2`` or a
    non-finite ``sd``; 0 when ``sd`` is 0).
    """
    if n < 2 or not math.isfinite(sd):
        return math.nan
    se = sd * math.sqrt(1.0 / n + ratio)
    return 0.0 if se == 0.0 else _noncentrality(n - 1, alpha, power) * se


@lru_cache(maxsize=256)
def _noncentrality(df: int, alpha: float, power: float) -> float:
    """Noncentrality at which the two-sided t-test with ``df`` degrees of freedom at level
    ``alpha`` rejects with probability ``power`` (noncentral t, scipy; ``scipy.stats`` is
    imported here, only for a readout study: a probing report does not pay its 1.2 s)."""
    from scipy import optimize as _opt
    from scipy import stats as _st

    crit = float(_st.t.ppf(1.0 - alpha / 2, df))

    def shortfall(nc: float) -> float:
        # the far tail below −crit is ~0 and scipy's nct.cdf may return NaN there
        lower = float(np.nan_to_num(_st.nct.cdf(-crit, df, nc), nan=0.0))
        return float(_st.nct.sf(crit, df, nc)) + lower - power

    high = crit + 1.0
    while shortfall(high) < 0.0:  # power rises with the noncentrality; bracket the root
        high *= 2.0
    return float(_opt.brentq(shortfall, 0.0, high, xtol=1e-10))


def detectable(d: Difference, family: int = 1, power: float = POWER) -> float:
    """The minimum detectable difference: the true ``|a − b|`` that a test at level
    ``ALPHA / family`` (Holm's first step) would detect with probability ``power``, from the
    standard error read off the difference's 95 % interval (normal approximation)."""
    if not d.has_ci:
        return math.nan
    se = (d.high - d.low) / (2 * Z95)
    z = special.ndtri(1 - ALPHA / (2 * max(family, 1))) + special.ndtri(power)  # norm.ppf
    return float(z * se)
