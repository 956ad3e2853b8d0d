"""Minimum detectable differences against scipy's distributions."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from probe_rnn.probing.intervals import Difference
from probe_rnn.probing.power import detectable, min_detectable


def test_detectable_reads_the_standard_error_off_the_interval() -> None:
    se = 0.02
    q = stats.norm.ppf(0.975)
    d = Difference(0.01, 0.01 - q * se, 0.01 + q * se, "paired over 5 splits (Nadeau–Bengio)")
    assert detectable(d) == pytest.approx((q + stats.norm.ppf(0.8)) * se)
    # a family of 4: Holm's first step tests at 0.05 / 4
    assert detectable(d, 4) == pytest.approx((stats.norm.ppf(1 - 0.05 / 8)
                                              + stats.norm.ppf(0.8)) * se)
    assert math.isnan(detectable(Difference(0.01, math.nan, math.nan, "unpaired (x)")))


@pytest.mark.parametrize("n, ratio", [(3, 0.0), (5, 0.25), (10, 0.0)])
def test_min_detectable_is_where_the_t_test_reaches_80_percent_power(n: int, ratio: float
                                                                      ) -> None:
    sd = 0.03
    delta = min_detectable(sd, n, ratio)
    nc = delta / (sd * math.sqrt(1 / n + ratio))
    crit = stats.t.ppf(0.975, n - 1)
    power = stats.nct.sf(crit, n - 1, nc) + stats.nct.cdf(-crit, n - 1, nc)
    assert power == pytest.approx(0.8, abs=1e-6)
    assert min_detectable(sd, n, ratio, power=0.9) > delta
