"""Verdicts that test what the findings say: against the majority baseline, against a
selected best, and over the positions of a timestep scan, Holm-corrected where one family of
comparisons decides the sentence.

A finding that says "above the majority-class baseline" tests the paired difference between
a view's accuracy and the majority rate on the same splits (each split's majority rate comes
from its own training labels), not the view's interval against the point majority rate. A
finding that picks the best view and then compares the others with it corrects the p-values
of those comparisons with Holm (:func:`probe_rnn.probing.intervals.holm`), as does the scan
"first clearly exceeds the baseline at t=…" over the positions it scanned: on noise such a
family fires with probability ≤ 0.05, whatever the number of views or positions.

Every verdict is a :class:`Claim` (the two sides, the metric, the verdict and the family it
was corrected in); the report writes the claims beside each finding (``data-claims``), so a
reader (or a test) can recompute each one from ``values.parquet``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from probe_rnn.probing.cell_rows import cell_positions
from probe_rnn.probing.intervals import (
    Z95,
    Difference,
    holm,
    normal_p,
    paired_over_draws,
    paired_over_splits,
)
from probe_rnn.probing.verdict_wording import WITHIN_NOISE, decide

#: The ``b`` side of a claim against the majority-class baseline of the same cell.
MAJORITY = "majority"


@dataclass(frozen=True)
class Claim:
    """One tested comparison behind a finding: ``a − b`` of ``metric``.

    Attributes
    ----------
    a, b : str
        View names (``b`` may be :data:`MAJORITY`: the same cell's majority rate).
    metric : str
        ``accuracy`` or ``bits``.
    verdict : str
        One of :data:`~probe_rnn.probing.verdict_wording.VERDICTS`, at family-wise level
        :data:`~probe_rnn.probing.verdict_wording.ALPHA`.
    family : str
        Comparisons Holm-corrected together share a family (a family of one is uncorrected).
    t : int or None
        The position, for a timestep scan.
    model, task, probe : str
        The cells compared (both sides share them; ``model_b`` may differ).
    model_b : str
        The model of ``b`` (``random-init`` for the trained-vs-random comparison).
    """

    a: str
    b: str
    metric: str
    verdict: str
    family: str
    task: str
    probe: str
    t: int | None = None
    model: str = "trained"
    model_b: str = "trained"


def claims_json(claims: Sequence[Claim]) -> str:
    """The claims as a JSON list (what the report writes into ``data-claims``)."""
    return json.dumps([asdict(c) for c in claims], sort_keys=True)


def verdict(d: Difference | None, adjusted_p: float) -> str:
    """``above``/``below`` when the (adjusted) p-value is at most ``ALPHA``, else
    ``within noise``; without a p-value, whether the interval excludes 0
    (:func:`~probe_rnn.probing.verdict_wording.decide`)."""
    if d is None:
        return WITHIN_NOISE
    return decide(d.value, d.low, d.high, adjusted_p)


def holm_verdicts(diffs: Sequence[Difference | None]) -> list[str]:
    """The verdict of each difference, Holm-corrected over all of them."""
    p = [d.p_value if d is not None else math.nan for d in diffs]
    adjusted = holm(p)
    return [verdict(d, float(q)) for d, q in zip(diffs, adjusted, strict=True)]


def _cell(values: pd.DataFrame, model: str, view: str, task: str, probe: str | None,
          t: int | None) -> pd.DataFrame:
    return values.iloc[cell_positions(values, model, view, task, probe, t=t)]


def _result_row(results: pd.DataFrame, model: str, view: str, task: str, probe: str | None,
                metric: str, t: int | None) -> pd.Series | None:
    rows = results.iloc[cell_positions(results, model, view, task, probe, metric, t)]
    rows = rows[np.isfinite(rows["value"].astype(float))]
    return None if rows.empty else rows.iloc[0]


def split_ratio(row: pd.Series, t: int | None) -> float:
    """The Nadeau–Bengio ratio of a K-fold cell: ``n_test / n_train`` of a whole-sentence
    row; for a position, ``1 / (folds − 1)`` (its test rows are a subset of the split's,
    its training side the split's whole training side)."""
    if t is not None:
        folds = int(row["folds"])
        return 1.0 / (folds - 1) if folds > 1 else 0.0
    return float(row["n_test"]) / float(row["n_train"]) if float(row["n_train"]) else 0.0


def majority_difference(results: pd.DataFrame, values: pd.DataFrame | None, view: str,
                        task: str, probe: str | None, t: int | None = None,
                        model: str = "trained") -> Difference | None:
    """Accuracy minus the majority-class rate of the same cell (at position ``t``).

    K-fold cells: the per-split differences (each split's majority rate from its own
    training labels, scored on its own test rows) with the Nadeau–Bengio interval and
    p-value. Held-out cells: the accuracy's bootstrap resamples minus the point majority
    rate. Without per-split values: the accuracy's interval against the point majority rate,
    its p-value from the interval's standard error (normal), and the method says so.
    """
    acc = _result_row(results, model, view, task, probe, "accuracy", t)
    maj = _result_row(results, model, view, task, probe, "majority_accuracy", t)
    if acc is None or maj is None:
        return None
    point = float(acc["value"]) - float(maj["value"])
    if values is not None and not values.empty:
        cell = _cell(values, model, view, task, probe, t)
        per = cell[(cell["draw"] < 0) & (cell["split"] >= 0)]
        a = per[per["metric"] == "accuracy"]
        m = per[per["metric"] == "majority_accuracy"]
        both = a.merge(m, on=["seed", "split"], suffixes=("_a", "_m"))
        if len(both) >= 2:
            d = (both["value_a"] - both["value_m"]).to_numpy(dtype=np.float64)
            return paired_over_splits(d, split_ratio(acc, t))
        drawn = cell[(cell["draw"] >= 0) & (cell["metric"] == "accuracy")]
        if len(drawn):
            d = drawn.sort_values("draw")["value"].to_numpy(dtype=np.float64) - float(
                maj["value"])
            return paired_over_draws(point, d)
    low, high = float(acc["ci_low"]) - float(maj["value"]), float(acc["ci_high"]) - float(
        maj["value"])
    if not (math.isfinite(low) and math.isfinite(high)):
        return Difference(point, math.nan, math.nan, "unpaired (no interval recorded)")
    return Difference(point, low, high, "unpaired (no per-split values recorded: the "
                      "accuracy's interval against the point majority rate)",
                      normal_p(point, (high - low) / (2 * Z95)))
