"""Report verdicts: the one verdict rule on a paired difference, Holm-corrected over a family."""

from __future__ import annotations

import math

from probe_rnn.probing.intervals import Difference
from probe_rnn.probing.verdict_wording import ABOVE, BELOW, WITHIN_NOISE
from probe_rnn.report.verdicts import holm_verdicts, verdict


def test_the_report_verdict_is_the_rule_on_a_difference() -> None:
    d = Difference(0.04, 0.01, 0.07, "paired over 5 splits (Nadeau–Bengio)", 0.02)
    assert verdict(d, d.p_value) == ABOVE and verdict(None, 0.0) == WITHIN_NOISE
    assert verdict(d, math.nan) == ABOVE  # no p-value: the interval excludes 0
    # Holm over two: 0.02 * 2 = 0.04 <= 0.05, 0.03 * 1 -> max(0.04, 0.03)
    e = Difference(-0.03, -0.05, -0.01, "paired over 5 splits (Nadeau–Bengio)", 0.03)
    assert holm_verdicts([d, e]) == [ABOVE, BELOW]
    # both significant alone; Holm: 0.03 * 2 = 0.06 > 0.05 stops the step-down at once
    g = Difference(0.04, 0.01, 0.07, "paired over 5 splits (Nadeau–Bengio)", 0.03)
    f = Difference(-0.03, -0.05, -0.01, "paired over 5 splits (Nadeau–Bengio)", 0.04)
    assert [verdict(x, x.p_value) for x in (g, f)] == [ABOVE, BELOW]
    assert holm_verdicts([g, f, None]) == [WITHIN_NOISE, WITHIN_NOISE, WITHIN_NOISE]
