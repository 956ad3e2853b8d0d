"""Hand-built interventions tables (the schema of ``interventions.parquet``) for the report's
"decodable vs used" tests: the head reads ``output@last`` (large drop beyond its control,
high follow rate), ``h_n/L1/bwd`` carries the label but is unused, and the erasure of
``h_n/L1/fwd`` failed its sanity check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from probe_rnn.report.use_data import INTERVENTION_COLUMNS, INTERVENTIONS_FILE

FAILED_CHECK = "a fresh probe reads 0.81 on the erased state against a majority rate of 0.55"


def row(intervention: str, view: str, measure: str, value: float, low: float | None,
        high: float | None, *, task: str | None = "label", given: str | None = None,
        step: int | None = None, n: int = 200, ok: bool | None = True,
        sanity: str = "passed") -> dict[str, Any]:
    """One row of the table."""
    return {"intervention": intervention, "view": view, "given": given, "task": task,
            "step": step, "measure": measure, "value": value, "ci_low": low, "ci_high": high,
            "n": n, "sanity_ok": ok, "sanity": sanity}


def erasure(view: str, drop: tuple[float, float, float], control: tuple[float, float, float],
            ok: bool = True, sanity: str = "a fresh probe reads the majority rate") -> list[dict]:
    """The erasure of ``view`` and its random-subspace control (accuracy drops)."""
    return [row("erasure", view, "accuracy_before", 0.9, None, None, ok=ok, sanity=sanity),
            row("erasure", view, "accuracy_drop", *drop, ok=ok, sanity=sanity),
            row("erasure", view, "probe_after", 0.55 if ok else 0.81, None, None, ok=ok,
                sanity=sanity),
            row("erasure-control", view, "accuracy_drop", *control)]


def patching(view: str, follow: tuple[float, float, float], ok: bool = True,
             step: int | None = None) -> list[dict]:
    """Patching ``view`` (follow rate over 200 pairs)."""
    return [row("patching", view, "follow_rate", *follow, task=None, step=step, ok=ok,
                sanity="identity patch reproduces the model" if ok else "identity patch "
                "changed 3 predictions")]


def use_table(*, fwd_ok: bool = False, steps: bool = True) -> pd.DataFrame:
    """The planted table (see the module docstring)."""
    rows = (erasure("output@last", (0.40, 0.34, 0.46), (0.01, -0.01, 0.03))
            + patching("output@last", (0.95, 0.90, 0.98))
            + erasure("h_n/L1/bwd", (0.01, -0.01, 0.03), (0.00, -0.02, 0.02))
            + patching("h_n/L1/bwd", (0.03, 0.01, 0.06))
            + erasure("h_n/L1/fwd", (0.50, 0.45, 0.55), (0.00, -0.02, 0.02), ok=fwd_ok,
                      sanity="passed" if fwd_ok else FAILED_CHECK)
            + [row("conditional", "h_n/L1", "bits", 0.02, -0.01, 0.05, given="output@last"),
               row("conditional", "output@last", "bits", 0.30, 0.2, 0.4, given="h_n/L1")])
    if steps:
        for t in range(5):
            view = f"hidden/L1/fwd@{t}"
            rows += patching(view, (0.1 + 0.2 * t, 0.05 + 0.2 * t, 0.15 + 0.2 * t), step=t)
            rows += [row("erasure", view, "accuracy_drop", 0.05 * t, 0.05 * t - 0.02,
                         0.05 * t + 0.02, step=t, ok=t != 2,
                         sanity="passed" if t != 2 else FAILED_CHECK)]
    frame = pd.DataFrame(rows, columns=list(INTERVENTION_COLUMNS))
    frame["step"] = frame["step"].astype("Int64")
    return frame


def write_use_table(run: Path, table: pd.DataFrame | None = None) -> Path:
    """Write the table into a run folder; return the folder."""
    (use_table() if table is None else table).to_parquet(run / INTERVENTIONS_FILE, index=False)
    return run
