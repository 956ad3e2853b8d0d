"""The probing results table: assembly, saving, and the headline view.

One tidy row per (model, view, task, probe, t, metric), columns in this fixed order
(``RESULT_COLUMNS``)::

    model       "trained" | "random-init" (the key of the stores mapping)
    view        state view name, e.g. "output@last", "h_n/L1/bwd", "hidden/L0/fwd@3"
    view_kind   "sentence" | "token"
    layer       layer index parsed from the view name, -1 when not layer-specific (output)
    direction   "fwd" | "bwd" | "" (not direction-specific)
    t           position: from a "@t" view name, or per-position rows of token-level tasks
                (0.. from the start, -1 = last token ...); <NA> for whole-view rows
    task, task_kind ("classification" | "regression"), probe
    metric      accuracy | r2 | bits | entropy_bits | control_accuracy | selectivity |
                mdl_bits | uniform_bits | compression | majority_accuracy
    value       mean over folds × seeds (MDL: mean over seeds)
    ci_low, ci_high   95 % interval (see ``CI_METHOD``), clipped to the metric's valid range
                (``METRIC_BOUNDS``); NaN with fewer than ``MIN_CI_VALUES`` (3) values
    chance      the task's chance level on the probed rows (majority share; 0 for R²)
    n_train, n_test   mean rows per fold (MDL: all rows in n_train, 0 in n_test)
    folds, seeds, seed

``bits`` is usable information (H(Y) − held-out cross-entropy, log2; may be ≤ 0), NaN for probes
without ``predict_proba``. ``entropy_bits`` is the H(Y) term; both use the smoothed estimator of
:mod:`probe_rnn.probing.measures`. Per-position rows exist only for estimable positions
(:func:`probe_rnn.probing.runner.reportable_positions`). ``selectivity`` = accuracy −
control_accuracy (Hewitt & Liang control task). MDL metrics follow Voita & Titov (2020).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from probe_rnn.probing.measures import CI_METHOD, METRIC_BOUNDS, ci95

__all__ = [
    "RESULT_COLUMNS",
    "METRICS",
    "Combo",
    "assemble",
    "view_coordinates",
    "save_results",
    "headline_table",
]

RESULT_COLUMNS: list[str] = [
    "model", "view", "view_kind", "layer", "direction", "t", "task", "task_kind", "probe",
    "metric", "value", "ci_low", "ci_high", "chance", "n_train", "n_test", "folds", "seeds",
    "seed",
]
METRICS: tuple[str, ...] = (
    "accuracy", "r2", "bits", "entropy_bits", "control_accuracy", "selectivity", "mdl_bits",
    "uniform_bits", "compression", "majority_accuracy",
)
BITS_DEFINITION = (
    "H(Y) - held-out cross-entropy, log2; H(Y) = held-out CE of the train marginal; both "
    "additively smoothed (0.5 per class of the task) and mixed with the uniform alike"
)
_LAYER = re.compile(r"(?:^|/)L(\d+)(?:/|$|@)")
_DIRECTION = re.compile(r"(?:^|/)(fwd|bwd)(?:$|@|/)")
_AT = re.compile(r"@(-?\d+)$")


@dataclass
class Combo:
    """One (model, view, task, probe) and the indices of its calls in the job list."""

    model: str
    view: str
    view_kind: str
    task: Any
    probe: str
    problem: Any
    fold_calls: list[int] = field(default_factory=list)
    mdl_calls: list[int] = field(default_factory=list)


def view_coordinates(view: str) -> tuple[int, str, int | None]:
    """``(layer, direction, t)`` parsed from a view name (-1 / "" / None when absent).

    ``output@-1`` is the naive padded read, not a position, so its ``t`` is None.
    """
    layer = _LAYER.search(view)
    direction = _DIRECTION.search(view)
    at = _AT.search(view)
    t = int(at.group(1)) if at and not view.startswith("output@") else None
    return (int(layer.group(1)) if layer else -1, direction.group(1) if direction else "", t)


def _row(c: Combo, t: Any, metric: str, stats: tuple[float, float, float], chance: float,
         n_train: float, n_test: float, folds: int, seeds: int, seed: int) -> dict[str, Any]:
    layer, direction, _ = view_coordinates(c.view)
    return {
        "model": c.model, "view": c.view, "view_kind": c.view_kind, "layer": layer,
        "direction": direction, "t": t, "task": c.task.name, "task_kind": c.task.kind,
        "probe": c.probe, "metric": metric, "value": stats[0], "ci_low": stats[1],
        "ci_high": stats[2], "chance": chance, "n_train": int(round(n_train)),
        "n_test": int(round(n_test)), "folds": folds, "seeds": seeds, "seed": seed,
    }


def _combo_rows(c: Combo, outputs: list[Any], folds: int, seeds: int, seed: int) -> list[dict]:
    fold_out = [outputs[i] for i in c.fold_calls]
    n_train = float(np.mean([o["n_train"] for o in fold_out]))
    n_test = float(np.mean([o["n_test"] for o in fold_out]))
    ratio = n_test / n_train if n_train else 0.0
    chance = float(c.task.chance(c.problem.y))
    _, _, view_t = view_coordinates(c.view)
    common = (folds, seeds, seed)
    rows = []
    for metric in METRICS:
        vals = [o["metrics"][metric] for o in fold_out if metric in o["metrics"]]
        if vals:
            rows.append(_row(c, view_t, metric, ci95(vals, ratio, METRIC_BOUNDS.get(metric)),
                             chance, n_train, n_test, *common))
        mdl = [outputs[i]["metrics"][metric] for i in c.mdl_calls
               if metric in outputs[i]["metrics"]]
        if mdl:
            rows.append(_row(c, view_t, metric, ci95(mdl, bounds=METRIC_BOUNDS.get(metric)),
                             chance, len(c.problem.y), 0, *common))
    positions = sorted({p for o in fold_out for p in o["per_t"]}, key=lambda p: (p < 0, abs(p)))
    for pos in positions:
        where = c.problem.t if pos >= 0 else c.problem.t_end
        chance_t = float(c.task.chance(c.problem.y[where == pos]))
        per = [o["per_t"][pos] for o in fold_out if pos in o["per_t"]]
        nt = float(np.mean([d["n_test"] for d in per]))
        for metric in ("accuracy", "bits", "entropy_bits", "majority_accuracy"):
            stats = ci95([d[metric] for d in per], ratio, METRIC_BOUNDS.get(metric))
            rows.append(_row(c, pos, metric, stats, chance_t, n_train, nt, *common))
    return rows


def assemble(combos: list[Combo], outputs: list[Any], *, folds: int, seeds: int,
             seed: int) -> pd.DataFrame:
    """Build the results table from the runner's combos and job outputs."""
    rows = [r for c in combos for r in _combo_rows(c, outputs, folds, seeds, seed)]
    df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    df["t"] = df["t"].astype("Int64")
    for col in ("layer", "n_train", "n_test", "folds", "seeds", "seed"):
        df[col] = df[col].astype("int64")
    for col in ("value", "ci_low", "ci_high", "chance"):
        df[col] = df[col].astype("float64")
    df.attrs.update(ci_method=CI_METHOD, bits=BITS_DEFINITION, folds=folds, seeds=seeds,
                    seed=seed)
    return df


def save_results(df: pd.DataFrame, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``results.parquet`` and ``results.csv`` (columns in ``RESULT_COLUMNS`` order)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = df.reindex(columns=RESULT_COLUMNS)
    parquet, csv = out / "results.parquet", out / "results.csv"
    table.to_parquet(parquet, index=False)
    table.to_csv(csv, index=False)
    return parquet, csv


def _cell(sub: pd.DataFrame, metric: str, ci: bool = False) -> str:
    hit = sub[sub["metric"] == metric]
    if hit.empty or not np.isfinite(hit["value"].iloc[0]):
        return "–"
    v = hit.iloc[0]
    text = f"{v['value']:.3f}"
    if ci and np.isfinite(v["ci_low"]):
        text += f" [{v['ci_low']:.3f}, {v['ci_high']:.3f}]"
    return text


def headline_table(df: pd.DataFrame, max_rows: int = 40) -> Any:
    """A compact Rich table: one line per (view, task, probe) of whole-view results.

    Columns: accuracy (or R²) with its 95 % interval, chance, bits, selectivity, MDL
    compression, and the random-init baseline's accuracy when present.
    """
    from rich.table import Table

    table = Table(title="probing results (trained model)", show_lines=False)
    for col in ("view", "task", "probe", "acc / R² [95% CI]", "chance", "bits", "select.",
                "compr.", "random-init"):
        table.add_column(col, justify="left" if col in ("view", "task", "probe") else "right")
    # whole-view rows: no position, or the position is the view's own ``@t``
    whole = df[df["t"].isna() | df["view"].str.contains("@", regex=False)] if len(df) else df
    trained = whole[whole["model"] == "trained"] if len(whole) else whole
    baseline = whole[whole["model"] == "random-init"] if len(whole) else whole
    keys = trained[["view", "task", "probe"]].drop_duplicates().head(max_rows)
    for view, task, probe in keys.itertuples(index=False):
        sub = trained[(trained["view"] == view) & (trained["task"] == task)
                      & (trained["probe"] == probe)]
        base = baseline[(baseline["view"] == view) & (baseline["task"] == task)
                        & (baseline["probe"] == probe)]
        main = "r2" if (sub["metric"] == "r2").any() else "accuracy"
        chance = sub["chance"].iloc[0] if len(sub) else float("nan")
        table.add_row(view, task, probe, _cell(sub, main, ci=True), f"{chance:.3f}",
                      _cell(sub, "bits"), _cell(sub, "selectivity"), _cell(sub, "compression"),
                      _cell(base, main))
    return table
