"""The numbers every intervention reports: rates with a seeded bootstrap interval over rows
(or pairs), and the accuracy/agreement rows of one replaced run.

Intervals are percentile intervals of :data:`DRAWS` bootstrap resamples of the rows (95 %); a
difference (``accuracy_drop``) resamples the rows once for both accuracies, so it is paired.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from probe_rnn.probing.intervals import percentile_interval

#: Bootstrap resamples behind each interval.
DRAWS = 1000


def bootstrap_mean(values: np.ndarray, seed: int) -> tuple[float, float | None, float | None]:
    """Mean of ``values`` (rows,) and its 95 % bootstrap interval over rows (None for < 2)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return float("nan"), None, None
    mean = float(values.mean())
    if len(values) < 2:
        return mean, None, None
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(DRAWS, len(values)))
    low, high = percentile_interval(values[picks].mean(axis=1)[:, None])
    return mean, float(low[0]), float(high[0])


def row(intervention: str, view: str, measure: str, value: float,
        interval: tuple[float | None, float | None] = (None, None), n: int = 0,
        **more: Any) -> dict[str, Any]:
    """One row of the interventions table (other columns, e.g. ``task``, ``step``, ``sanity``,
    as keywords)."""
    return {"intervention": intervention, "view": view, "measure": measure,
            "value": float(value), "ci_low": interval[0], "ci_high": interval[1], "n": int(n),
            **more}


def effect_rows(intervention: str, view: str, gold: np.ndarray, before: np.ndarray,
                after: np.ndarray, seed: int, **more: Any) -> list[dict[str, Any]]:
    """``accuracy_before``, ``accuracy_after``, ``accuracy_drop`` (paired) and ``agreement``
    of a replaced run: ``gold`` label index per row (-1 unknown: left out of accuracies),
    predictions ``before`` and ``after``."""
    known = gold >= 0
    right_before = (before == gold)[known].astype(float)
    right_after = (after == gold)[known].astype(float)
    n = int(known.sum())
    out = []
    for measure, values in (("accuracy_before", right_before), ("accuracy_after", right_after),
                            ("accuracy_drop", right_before - right_after)):
        mean, low, high = bootstrap_mean(values, seed)
        out.append(row(intervention, view, measure, mean, (low, high), n, **more))
    mean, low, high = bootstrap_mean((after == before).astype(float), seed)
    out.append(row(intervention, view, "agreement", mean, (low, high), len(before), **more))
    return out
