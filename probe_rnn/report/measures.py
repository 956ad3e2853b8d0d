"""Pick numbers out of the tidy results table: estimates with intervals and their comparison.

The findings and figures both need "the label accuracy of view X for the trained model with
the main probe" and "do these two intervals overlap"; this module answers those questions
once, so that every sentence and every bar is read from the same rows. It also holds the two
number formats those sentences share (:func:`short_number`, :func:`percent`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from probe_rnn.catalogue import OUTPUT_LAST, try_parse
from probe_rnn.probing.cell_rows import cell_positions


@dataclass(frozen=True)
class Estimate:
    """One measured value with its interval (``nan`` bounds when none was recorded)."""

    view: str
    metric: str
    value: float
    low: float = math.nan
    high: float = math.nan

    @property
    def has_ci(self) -> bool:
        """Whether both interval bounds are finite."""
        return math.isfinite(self.low) and math.isfinite(self.high)

    def overlaps(self, other: Estimate) -> bool | None:
        """Whether the two intervals overlap; ``None`` if either has no interval."""
        if not (self.has_ci and other.has_ci):
            return None
        return self.low <= other.high and other.low <= self.high

    def describe(self, digits: int = 2) -> str:
        """``0.53 [0.49, 0.57]`` or ``0.53`` without an interval."""
        text = f"{self.value:.{digits}f}"
        if self.has_ci:
            text += f" [{self.low:.{digits}f}, {self.high:.{digits}f}]"
        return text


def primary_probe(results: pd.DataFrame) -> str | None:
    """The probe the report leads with: ``logistic`` if present, else the most used one."""
    probes = results["probe"].dropna().astype(str)
    if probes.empty:
        return None
    if (probes == "logistic").any():
        return "logistic"
    return str(probes.value_counts().index[0])


def ordered_probes(results: pd.DataFrame) -> list[str | None]:
    """Every probe of the run, the primary one first, then in the order they appear; ``[None]``
    when the results name none (the report then shows one unnamed set)."""
    first = primary_probe(results)
    if first is None:
        return [None]
    seen = dict.fromkeys(results["probe"].dropna().astype(str))
    return [first, *(p for p in seen if p != first)]


def label_task(results: pd.DataFrame) -> str | None:
    """Name of the gold-label task (``label``), ``None`` when the run did not probe it."""
    tasks = set(results["task"].dropna().astype(str))
    return "label" if "label" in tasks else None


def score_metric(results: pd.DataFrame, task: str) -> str:
    """``accuracy`` for classification tasks, ``r2`` for regression tasks."""
    rows = results[results["task"] == task]
    kinds = set(rows["task_kind"].dropna().astype(str))
    if "regression" in kinds or ((rows["metric"] == "r2").any() and
                                 not (rows["metric"] == "accuracy").any()):
        return "r2"
    return "accuracy"


def base_view(view: str) -> str:
    """``hidden/L0/fwd@3`` -> ``hidden/L0/fwd`` (use on per-timestep rows, where ``t`` is set)."""
    spec = try_parse(view)
    if spec is None or spec.t is None or spec.bare == OUTPUT_LAST:  # no numbered step
        return view
    return spec.without_step().name


def sentence_rows(results: pd.DataFrame, model: str = "trained") -> pd.DataFrame:
    """Rows of whole-sentence views (no per-timestep ``t``) for one model."""
    return _without_token_views(results[(results["model"] == model) & results["t"].isna()])


def _without_token_views(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` less those of per-token views (``view_kind`` "token")."""
    if "view_kind" in rows:
        rows = rows[rows["view_kind"].isna() | (rows["view_kind"] != "token")]
    return rows


def estimate(
    results: pd.DataFrame, view: str, task: str, metric: str, *, model: str = "trained",
    probe: str | None = None,
) -> Estimate | None:
    """The value of one (model, view, task, metric) cell, averaged if several rows match.

    Parameters
    ----------
    results : pd.DataFrame
        Tidy results table.
    view, task, metric, model : str
        Cell to read; per-timestep rows (``t`` set) are never mixed in.
    probe : str, optional
        Restrict to one probe (default: :func:`primary_probe`).

    Returns
    -------
    Estimate or None
        ``None`` when no finite value exists.
    """
    probe = probe or primary_probe(results)
    rows = _without_token_views(  # the cell's sentence rows, as sentence_rows gives them
        results.iloc[cell_positions(results, model, view, task, metric=metric)])
    if probe is not None and (rows["probe"] == probe).any():
        rows = rows[rows["probe"] == probe]
    rows = rows[rows["value"].notna()]
    if rows.empty:
        return None
    return Estimate(
        view=view, metric=metric, value=float(rows["value"].mean()),
        low=float(rows["ci_low"].mean()), high=float(rows["ci_high"].mean()),
    )


def short_number(x: float) -> str:
    """``x`` in two significant digits (below 0.01) or two decimals, for sentences."""
    if x == 0:
        return "0"
    return f"{x:.2g}" if abs(x) < 0.01 else f"{x:.2f}"


def percent(x: float) -> str:
    """A fraction as a whole percentage, for sentences."""
    return f"{100 * x:.0f}%"
