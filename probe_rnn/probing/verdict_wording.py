"""The words a difference gets: one decision rule and the phrases the report and the readout
studies both write.

A difference ``a − b`` (between two views, two readouts, a view and the majority rate …) is
:data:`ABOVE` 0, :data:`BELOW` 0 or :data:`WITHIN_NOISE`; :func:`decide` says which, from its
(Holm-adjusted) p-value at level :data:`ALPHA` when there is one, else from whether its 95 %
interval excludes 0 (:mod:`probe_rnn.probing.intervals` computes both). The phrases built on a
decision are here too, so that "within noise" always carries the same words and the same
minimum detectable difference, and "better by" the same unit and digits, wherever it is
written: :func:`within_noise`, :func:`better_by`, :func:`worse_by`, and the verdicts against a
selected best (:data:`BEST`, :data:`IDENTICAL_TO_BEST`, :data:`WITHIN_NOISE_OF_BEST`,
:data:`WORSE_THAN_BEST`) that the study pages and the question page read back.
"""

from __future__ import annotations

import math

#: Level of every test (family-wise for a Holm-corrected family).
ALPHA = 0.05
#: Power at which a minimum detectable difference is quoted.
POWER = 0.8
#: The verdict words of ``a − b``: above 0, below 0, or not distinguishable from 0.
ABOVE, BELOW, WITHIN_NOISE = "above", "below", "within noise"
VERDICTS = (ABOVE, BELOW, WITHIN_NOISE)
#: Two sides whose scores are equal on every paired seed.
IDENTICAL = "identical on every seed"
#: Verdicts against a best picked from the same numbers (``WORSE_THAN_BEST`` starts a phrase).
BEST = "best by point estimate"
IDENTICAL_TO_BEST = "identical to best"
WITHIN_NOISE_OF_BEST = f"{WITHIN_NOISE} of best"
WORSE_THAN_BEST = "measurably worse"


def decide(value: float, low: float = math.nan, high: float = math.nan, p: float = math.nan,
           alpha: float = ALPHA) -> str:
    """The verdict on a difference ``a − b``.

    Parameters
    ----------
    value : float
        The difference (its sign names the side).
    low, high : float
        Its 95 % interval (NaN: none).
    p : float
        Its two-sided p-value, Holm-adjusted in a family (NaN: none).
    alpha : float
        Level of the test.

    Returns
    -------
    str
        :data:`ABOVE` or :data:`BELOW` when ``p <= alpha`` (a finite ``p`` decides alone), or
        without ``p`` when ``[low, high]`` excludes 0; else :data:`WITHIN_NOISE`.
    """
    if math.isfinite(p):
        significant = p <= alpha
    else:
        significant = math.isfinite(low) and math.isfinite(high) and (low > 0 or high < 0)
    if not significant:
        return WITHIN_NOISE
    return ABOVE if value > 0 else BELOW


def within_noise(of: str = "", mdd: float = math.nan, scale: float = 100.0,
                 unit: str = "points") -> str:
    """``within noise [of X] [(minimum detectable difference 3.4 points)]``: ``mdd`` (a
    fraction, times ``scale`` in ``unit``) is left out when NaN."""
    text = f"{WITHIN_NOISE} of {of}" if of else WITHIN_NOISE
    if math.isnan(mdd):
        return text
    return f"{text} (minimum detectable difference {mdd * scale:.1f} {unit})"


def better_by(size: float, winner: str = "", scale: float = 100.0, unit: str = "points") -> str:
    """``[winner ]better by 2.0 points`` for a difference of ``size`` (a fraction, either sign)."""
    text = f"better by {abs(size) * scale:.1f} {unit}"
    return f"{winner} {text}" if winner else text


def worse_by(size: float, scale: float = 100.0, unit: str = "points") -> str:
    """``measurably worse by 2.0 points`` for a difference of ``size`` (either sign)."""
    return f"{WORSE_THAN_BEST} by {abs(size) * scale:.1f} {unit}"
