"""Read a run's interventions table for the report's "decodable vs used" section.

The interventions stage writes ``interventions.parquet`` into the run folder: one row per
(intervention, view, given, task, step, measure) with its value, paired 95 % interval, the
number of rows or pairs behind it and the intervention's own sanity check
(:data:`INTERVENTION_COLUMNS`). :func:`interventions_table` reads it (``None`` for run folders
made without it); :func:`sentence_uses` gathers, per whole-sentence view, the numbers the
report sets side by side: the probe's label information, the accuracy drop under erasure and
under the random-subspace control, and the patching follow rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from probe_rnn.interventions.table import COLUMNS, INTERVENTIONS_PARQUET
from probe_rnn.report.measures import Estimate, estimate

#: The file the interventions stage writes into the run folder.
INTERVENTIONS_FILE = INTERVENTIONS_PARQUET
#: Its columns, in order (the interventions stage's schema, written once there).
INTERVENTION_COLUMNS = COLUMNS
#: Built-in intervention names the report reads.
ERASURE, CONTROL, PATCHING, CONDITIONAL = "erasure", "erasure-control", "patching", "conditional"
#: Measures the report reads.
DROP, FOLLOW, BITS = "accuracy_drop", "follow_rate", "bits"


def interventions_table(run_dir: str | Path, notes: dict[str, str] | None = None
                        ) -> pd.DataFrame | None:
    """The run folder's interventions table, or ``None`` when it has none.

    Parameters
    ----------
    run_dir : str or Path
        The run folder.
    notes : dict of str to str, optional
        Receives ``notes["use"]``, one line saying why the section is left out, when the file
        exists but cannot be read or lacks columns.

    Returns
    -------
    pd.DataFrame or None
        Columns :data:`INTERVENTION_COLUMNS` (``step`` and ``n`` nullable integers, text and
        ``sanity_ok`` as objects with ``None`` for null, whatever dtypes the writer used).
    """
    file = Path(run_dir) / INTERVENTIONS_FILE
    if not file.is_file():
        return None
    try:
        table = pd.read_parquet(file)
    except Exception:  # noqa: BLE001 - pyarrow raises many types on damaged files
        _note(notes, f"{INTERVENTIONS_FILE} cannot be read, so what the model uses is not "
                     "shown; run the probe again to rewrite it.")
        return None
    missing = [c for c in INTERVENTION_COLUMNS if c not in table.columns]
    if missing:
        _note(notes, f"{INTERVENTIONS_FILE} lacks the columns {', '.join(missing)}, so what "
                     "the model uses is not shown; run the probe again to rewrite it.")
        return None
    table = table.loc[:, list(INTERVENTION_COLUMNS)].reset_index(drop=True)
    table.attrs.clear()
    for column in ("intervention", "view", "given", "task", "measure", "sanity", "sanity_ok"):
        # nullable string/boolean dtypes (NA) as plain objects (None): NA never reaches a mask
        table[column] = table[column].astype(object).where(table[column].notna(), None)
    for column in ("step", "n"):
        table[column] = pd.to_numeric(table[column]).astype("Int64")
    for column in ("value", "ci_low", "ci_high"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    return table


def _note(notes: dict[str, str] | None, text: str) -> None:
    if notes is not None:
        notes["use"] = text


@dataclass(frozen=True)
class Number:
    """One intervention measure with its interval, count and the intervention's check.

    Attributes
    ----------
    value, low, high : float
        The value and its paired 95 % interval (NaN bounds: none).
    n : int or None
        Rows or pairs behind the value.
    sanity_ok : bool or None
        Whether the intervention's own check passed (``None``: not recorded).
    sanity : str
        That check in one sentence.
    """

    value: float
    low: float = math.nan
    high: float = math.nan
    n: int | None = None
    sanity_ok: bool | None = None
    sanity: str = ""

    @property
    def has_ci(self) -> bool:
        """Whether both bounds are finite."""
        return math.isfinite(self.low) and math.isfinite(self.high)

    @property
    def failed(self) -> bool:
        """Whether the intervention's own check failed."""
        return self.sanity_ok is False

    @property
    def upper(self) -> float:
        """The interval's upper bound, else the value."""
        return self.high if self.has_ci else self.value

    @property
    def lower(self) -> float:
        """The interval's lower bound, else the value."""
        return self.low if self.has_ci else self.value


def _matching(table: pd.DataFrame, intervention: str, view: str, step: int | None,
              task: str | None, given: str | None) -> pd.DataFrame:
    """The rows of one intervention on one view (at ``step``; of ``task`` when it has any,
    of ``given``), selected in numpy: the report asks this about a hundred times."""
    column = lambda name: table[name].to_numpy(dtype=object)  # noqa: E731
    steps = table["step"].to_numpy(dtype=np.float64, na_value=np.nan)
    sel = (column("intervention") == intervention) & (column("view") == view) & (
        np.isnan(steps) if step is None else steps == step)
    if task is not None and (of_task := sel & (column("task") == task)).any():
        sel = of_task
    if given is not None:
        sel &= column("given") == given
    return table.iloc[np.flatnonzero(sel)]


def number(table: pd.DataFrame, intervention: str, view: str, measure: str, *,
           step: int | None = None, task: str | None = None, given: str | None = None
           ) -> Number | None:
    """One measure of one intervention on one view (``None`` when not measured).

    The sanity check is the intervention's: it failed when any of its rows (every measure
    of the same intervention, view, given, task and step) says so.
    """
    rows = _matching(table, intervention, view, step, task, given)
    hit = rows[(rows["measure"] == measure) & rows["value"].notna()]
    if hit.empty:
        return None
    row = hit.iloc[0]
    checks = rows["sanity_ok"].dropna()
    ok = None if checks.empty else bool(checks.astype(bool).all())
    failing = rows["sanity_ok"].astype(object).map(lambda x: x is not None and not pd.isna(x)
                                                   and not bool(x))
    said = rows.loc[failing if ok is False else rows["sanity"].notna(), "sanity"]
    said = said.dropna().astype(str)
    return Number(float(row["value"]), float(row["ci_low"]), float(row["ci_high"]),
                  None if pd.isna(row["n"]) else int(row["n"]), ok,
                  str(said.iloc[0]) if len(said) else "")


@dataclass(frozen=True)
class ViewUse:
    """What one whole-sentence view carries and what the head does when it is intervened on.

    Attributes
    ----------
    view : str
    bits : Estimate or None
        The probe's label information (results table).
    erasure, control : Number or None
        Accuracy drop (before − after) when the label is erased from the view, and when a
        random subspace of the same rank is.
    follow : Number or None
        Share of pairs whose prediction follows the source when the view is patched.
    """

    view: str
    bits: Estimate | None
    erasure: Number | None
    control: Number | None
    follow: Number | None


def sentence_uses(table: pd.DataFrame, results: pd.DataFrame, task: str = "label",
                  probe: str | None = None) -> list[ViewUse]:
    """Every whole-sentence view erased or patched, ``output@last`` first, then in the
    table's order."""
    rows = table[table["step"].isna() & table["intervention"].isin([ERASURE, PATCHING])]
    views = list(dict.fromkeys(str(v) for v in rows["view"]))
    views.sort(key=lambda v: v != "output@last")
    has_bits = "bits" in set(results["metric"].astype(str))
    return [ViewUse(
        view=v,
        bits=estimate(results, v, task, "bits", probe=probe) if has_bits else None,
        erasure=number(table, ERASURE, v, DROP, task=task),
        control=number(table, CONTROL, v, DROP, task=task),
        follow=number(table, PATCHING, v, FOLLOW)) for v in views]


def conditionals(table: pd.DataFrame, task: str = "label") -> list[tuple[str, str, Number]]:
    """``(view, given, bits of view beyond given)`` for every conditional row of ``task``."""
    rows = table[(table["intervention"] == CONDITIONAL) & (table["measure"] == BITS)
                 & (table["task"] == task) & table["step"].isna()]
    out = []
    for view, given in dict.fromkeys(zip(rows["view"], rows["given"], strict=True)):
        found = number(table, CONDITIONAL, str(view), BITS, task=task, given=str(given))
        if found is not None:
            out.append((str(view), str(given), found))
    return out
