"""The probing results table: assembly, saving, and the headline view.

One tidy row per (model, view, task, probe, t, metric), columns in this fixed order
(:data:`probe_rnn.run_folder.RESULT_COLUMNS`)::

    model       "trained" | "random-init" (the key of the stores mapping)
    view        state view name, e.g. "output@last", "h_n/L1/bwd", "hidden/L0/fwd@3"
    view_kind   "sentence" | "token"
    layer       layer index parsed from the view name, -1 when not layer-specific (output)
    direction   "fwd" | "bwd" | "" (not direction-specific)
    t           position: from a "@t" view name, or per-position rows of token-level tasks
                (0.. from the start, -1 = last token ...); <NA> for whole-view rows
    task, task_kind ("classification" | "regression"), probe
    metric      accuracy | r2 | bits | entropy_bits | label_entropy | control_accuracy |
                selectivity | control_key_accuracy | control_majority | mdl_bits |
                prior_bits | uniform_bits | compression | control_mdl_bits |
                control_prior_bits | control_compression | majority_accuracy
    value       mean over folds × seeds (held-out cells: over the held-out rows, mean over
                seeds; MDL: mean over seeds)
    ci_low, ci_high   95 % interval, clipped to the metric's valid range (``METRIC_BOUNDS``):
                K-fold cells the corrected t-interval of ``CI_METHOD`` (NaN with fewer than
                ``MIN_CI_VALUES`` (3) values), held-out cells the cluster bootstrap over
                held-out sentences (:mod:`probe_rnn.probing.protocol`)
    chance      the task's chance level on the probed rows (majority share; 0 for R²)
    n_train, n_test   mean rows per split (MDL: the rows coded in n_train, 0 in n_test)
    folds, seeds, seed   ``seeds`` is the number of seeds the cell ran (a held-out cell runs
                at least two, :data:`~probe_rnn.probing.protocol.HOLDOUT_SEEDS`)

``bits`` is usable information (H(Y) − held-out cross-entropy, log2; may be ≤ 0), NaN for probes
without ``predict_proba``. ``entropy_bits`` is the H(Y) term; both use the smoothed estimator of
:mod:`probe_rnn.probing.measures`. Per-position rows exist only for estimable positions
(:func:`probe_rnn.probing.cells.reportable_positions`). ``selectivity`` = accuracy −
control_accuracy (Hewitt & Liang control task); for sentence-level tasks
``control_key_accuracy`` is how well the same probe decodes the control's key (e.g. the first
token, its 20 most frequent types) from the view on the same splits: a view that remembers the
key well scores high on the control whatever it holds about the task, so read selectivity
beside it. ``control_majority`` is the control labels' most common share (mean over seeds);
at or above :data:`~probe_rnn.probing.controls.DEGENERATE_CONTROL` selectivity is NaN
(withheld) and the cell's reason says why. ``label_entropy`` is H(label) in bits (plug-in) of
the cell's held-out rows; ``bits`` intervals are clipped to at most it. MDL metrics follow
Voita & Titov (2020), referenced to the prequential code of the label prior (``prior_bits``;
:mod:`probe_rnn.probing.mdl`).
"""

from __future__ import annotations

from dataclasses import is_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from probe_rnn.atomic import replacing
from probe_rnn.catalogue import try_parse
from probe_rnn.errors import Words, parts_from_json, render
from probe_rnn.probing.cellstats import cell_constants, cell_salt, clip_bits, withheld
from probe_rnn.probing.intervals import CI_METHOD, ci95, percentile_interval
from probe_rnn.probing.measures import METRIC_BOUNDS
from probe_rnn.run_folder import RESULT_COLUMNS

METRICS: tuple[str, ...] = (
    "accuracy", "r2", "bits", "entropy_bits", "label_entropy", "control_accuracy",
    "selectivity", "control_key_accuracy", "control_majority", "mdl_bits", "prior_bits",
    "uniform_bits", "compression", "control_mdl_bits", "control_prior_bits",
    "control_compression", "majority_accuracy",
)
BITS_DEFINITION = (
    "H(Y) - held-out cross-entropy, log2; H(Y) = held-out CE of the train marginal; both "
    "additively smoothed (0.5 per class of the task) and mixed with the uniform alike"
)


def view_coordinates(view: str) -> tuple[int, str, int | None]:
    """``(layer, direction, t)`` parsed from a view name (-1 / "" / None when absent, and for
    a name outside the grammar of :mod:`probe_rnn.catalogue`).

    ``output@-1`` is the naive padded read, not a position, so its ``t`` is None.
    """
    spec = try_parse(view)
    if spec is None:
        return -1, "", None
    layer = -1 if spec.layer is None else spec.layer
    return layer, spec.direction or "", None if spec.is_output else spec.t


def _row(c: Any, t: Any, metric: str, stats: tuple[float, float, float], chance: float,
         n_train: float, n_test: float, settings: Any) -> dict[str, Any]:
    layer, direction, _ = view_coordinates(c.view)
    return {
        "model": c.model, "view": c.view, "view_kind": c.view_kind, "layer": layer,
        "direction": direction, "t": t, "task": c.task.name, "task_kind": c.task.kind,
        "probe": c.probe, "metric": metric, "value": float(stats[0]),
        "ci_low": float(stats[1]), "ci_high": float(stats[2]), "chance": float(chance),
        "n_train": int(round(n_train)), "n_test": int(round(n_test)),
        "folds": settings.folds, "seeds": settings.seeds, "seed": settings.seed,
    }


#: Metrics whose bootstrap resamples a held-out cell keeps (``record["draws"]``): paired
#: differences between cells on the same held-out sentences resample them alike.
DRAWN_METRICS = ("accuracy", "bits", "r2")


def _bootstrap_stats(parts: dict[int, dict[str, Any]], seed: int,
                     keep: dict[str, list[float]] | None = None, salt: str = "",
                     ) -> dict[str, tuple]:
    """Point estimate and clipped 95 % bootstrap interval per metric (held-out protocol),
    the draws widened by the between-seed variance of the fit
    (:func:`~probe_rnn.probing.protocol.fit_variance`); the resamples of
    :data:`DRAWN_METRICS` go into ``keep`` when given."""
    from probe_rnn.probing.jobs import row_metrics
    from probe_rnn.probing.protocol import bootstrap_draws, fit_variance, with_fit_noise

    first = next(iter(parts.values()))
    if "sq_res" in first:
        columns = {s: {"res": r["sq_res"], "tot": r["sq_tot"]} for s, r in parts.items()}
    else:
        columns = {s: row_metrics(r) for s, r in parts.items()}
    names = list(next(iter(columns.values())))
    values = {s: np.column_stack([cols[m] for m in names]) for s, cols in columns.items()}
    groups = {s: r["groups"] for s, r in parts.items()}
    point, draws = bootstrap_draws(groups, values, seed)
    if "sq_res" in first:
        def r2(m: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return (1.0 - m[..., 0] / m[..., 1])[..., None]
        r2_point = float(r2(point)[0]) if point[1] > 0 else float("nan")
        r2_draws = with_fit_noise(r2(draws), fit_variance(groups, values, seed, r2), seed,
                                  f"{salt}|r2")[:, 0]
        lo, hi = percentile_interval(r2_draws[:, None])
        if keep is not None:
            keep["r2"] = _rounded(r2_draws)
        return {"r2": _clip("r2", (r2_point, float(lo[0]), float(hi[0])))}
    draws = with_fit_noise(draws, fit_variance(groups, values, seed), seed, salt)
    lo, hi = percentile_interval(draws)
    if keep is not None:
        keep.update({m: _rounded(draws[:, i]) for i, m in enumerate(names)
                     if m in DRAWN_METRICS})
    out = {m: _clip(m, (float(point[i]), float(lo[i]), float(hi[i])))
           for i, m in enumerate(names)}
    if "bits" not in out:
        out["bits"] = out["entropy_bits"] = (float("nan"),) * 3
    return out


def _ran(settings: Any, seeds: int) -> Any:
    """``settings`` with ``seeds`` the number the cell ran (held-out cells run at least 2)."""
    if getattr(settings, "seeds", seeds) == seeds or not is_dataclass(settings):
        return settings
    return replace(settings, seeds=seeds)


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 7) for v in values]


def _clip(metric: str, stats: tuple[float, float, float]) -> tuple[float, float, float]:
    bounds = METRIC_BOUNDS.get(metric)
    if bounds is None:
        return stats
    return stats[0], float(np.clip(stats[1], *bounds)), float(np.clip(stats[2], *bounds))


def cell_rows(cell: Any, p: Any, plan: Any, splits: dict[int, list[dict[str, Any]]],
              mdl: list[dict[str, float]], settings: Any,
              draws: dict[str, list[float]] | None = None,
              control_majority: float | None = None,
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The tidy result rows of one cell and its per-split values (the long table).

    K-fold cells: mean and Nadeau–Bengio interval over the splits' values; held-out cells:
    point estimate and cluster-bootstrap interval over held-out sentences, widened by the
    fit's between-seed variance (the resamples of :data:`DRAWN_METRICS` go into ``draws``).
    ``control_majority`` (the control labels' most common share) at or above
    :data:`~probe_rnn.probing.controls.DEGENERATE_CONTROL` withholds selectivity (NaN).
    """
    from probe_rnn.probing.jobs import split_metrics

    settings = _ran(settings, len(splits))
    flat = [(sd, k, r) for sd, rs in splits.items() for k, r in enumerate(rs)]
    n_train = float(np.mean([r["n_train"] for _, _, r in flat]))
    n_test = float(np.mean([len(r["groups"]) for _, _, r in flat]))
    ratio = n_test / n_train if n_train else 0.0
    chance = float(cell.task.chance(p.y))
    _, _, view_t = view_coordinates(cell.view)
    per_split = {(sd, k): withheld(split_metrics(r), control_majority) for sd, k, r in flat}
    values = [{"seed": sd, "split": k, "t": None, "metric": m, "value": v}
              for (sd, k), ms in per_split.items() for m, v in ms.items()]
    rows: list[dict[str, Any]] = []
    if plan.protocol == "holdout":
        stats = withheld(_bootstrap_stats({sd: rs[0] for sd, rs in splits.items()},
                                          settings.seed, draws, cell_salt(cell)),
                         control_majority)
    else:
        stats = {m: ci95([ms[m] for ms in per_split.values() if m in ms], ratio,
                         METRIC_BOUNDS.get(m))
                 for m in METRICS if any(m in ms for ms in per_split.values())}
    stats |= cell_constants(p, [r for _, _, r in flat], control_majority)
    stats = clip_bits(stats)
    for metric in METRICS:
        if metric in stats:
            rows.append(_row(cell, view_t, metric, stats[metric], chance, n_train, n_test,
                             settings))
        got = [d[metric] for d in mdl if metric in d]
        if got:
            rows.append(_row(cell, view_t, metric, ci95(got, bounds=METRIC_BOUNDS.get(metric)),
                             chance, mdl[0]["n"], 0, settings))
            values += [{"seed": settings.seed + i, "split": -1, "t": None, "metric": metric,
                        "value": v} for i, v in enumerate(got)]
    rows += _position_rows(cell, p, plan, flat, ratio, n_train, settings, values)
    return rows, values


def _position_rows(cell: Any, p: Any, plan: Any, flat: list, ratio: float, n_train: float,
                   settings: Any, values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from probe_rnn.probing.jobs import split_metrics

    positions = sorted({pos for _, _, r in flat for pos in r["per_t"]},
                       key=lambda q: (q < 0, abs(q)))
    rows = []
    for pos in positions:
        where = p.t if pos >= 0 else p.t_end
        chance_t = float(cell.task.chance(p.y[where == pos]))
        parts = {(sd, k): r["per_t"][pos] for sd, k, r in flat if pos in r["per_t"]}
        per = {key: split_metrics(part) for key, part in parts.items()}
        nt = float(np.mean([len(part["groups"]) for part in parts.values()]))
        values += [{"seed": sd, "split": k, "t": pos, "metric": m, "value": v}
                   for (sd, k), ms in per.items() for m, v in ms.items()]
        if plan.protocol == "holdout":
            stats = _bootstrap_stats({sd: part for (sd, _), part in parts.items()},
                                     settings.seed, salt=f"{cell_salt(cell)}@{pos}")
        else:
            stats = {m: ci95([d[m] for d in per.values()], ratio, METRIC_BOUNDS.get(m))
                     for m in ("accuracy", "bits", "entropy_bits", "majority_accuracy")}
        stats = clip_bits(stats | cell_constants(p, list(parts.values()), None))
        for metric in ("accuracy", "bits", "entropy_bits", "majority_accuracy"):
            rows.append(_row(cell, pos, metric, stats[metric], chance_t, n_train, nt, settings))
    return rows


def assemble(records: list[dict[str, Any]], settings: Any) -> pd.DataFrame:
    """The results table from the finished cells' records (in the cells' planned order)."""
    rows = [r for rec in records if rec.get("status") == "done" for r in rec["rows"]]
    df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    df["t"] = df["t"].astype("Int64")
    for col in ("layer", "n_train", "n_test", "folds", "seeds", "seed"):
        df[col] = df[col].astype("int64")
    for col in ("value", "ci_low", "ci_high", "chance"):
        df[col] = df[col].astype("float64")
    df.attrs.update(ci_method=CI_METHOD, bits=BITS_DEFINITION, folds=settings.folds,
                    seeds=settings.seeds, seed=settings.seed)
    return df


#: Columns of the long table (``values.parquet``).
VALUE_COLUMNS = ["model", "view", "task", "probe", "protocol", "pairing", "seed", "split",
                 "draw", "t", "metric", "value"]


def values_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The long table beside the tidy one: every value the intervals were computed from.

    One row per (cell, seed, split, position, metric) value (``draw`` -1), and for held-out
    cells one row per bootstrap resample of :data:`DRAWN_METRICS` (``split`` -1, ``draw``
    0..999, the same resamples for every cell on the same sentences). ``pairing`` is a hash of
    the cell's splits (its test sentences, per seed and split): two cells with equal
    ``pairing`` were scored on the very same splits, so their values can be paired.
    """
    rows: list[dict[str, Any]] = []
    for rec in records:
        if rec.get("status") != "done":
            continue
        base = {"model": rec["model"], "view": rec["view"], "task": rec["task"],
                "probe": rec["probe"], "protocol": rec.get("protocol"),
                "pairing": rec.get("pairing")}
        rows += [{**base, "draw": -1, **v} for v in rec["values"]]
        for metric, drawn in (rec.get("draws") or {}).items():
            rows += [{**base, "seed": -1, "split": -1, "draw": i, "t": None, "metric": metric,
                      "value": v} for i, v in enumerate(drawn)]
    df = pd.DataFrame(rows, columns=VALUE_COLUMNS)
    df["t"] = df["t"].astype("Int64")
    for col in ("seed", "split", "draw"):
        df[col] = df[col].astype("int64")
    df["value"] = df["value"].astype("float64")
    return df


def save_results(df: pd.DataFrame, out_dir: str | Path, name: str = "results"
                 ) -> tuple[Path, Path]:
    """Write ``NAME.parquet`` and ``NAME.csv`` (columns in ``RESULT_COLUMNS`` order)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = df.reindex(columns=RESULT_COLUMNS)
    parquet, csv = out / f"{name}.parquet", out / f"{name}.csv"
    with replacing(parquet) as tmp:  # never a half-written table (disk full, Ctrl-C)
        table.to_parquet(tmp, index=False)
    with replacing(csv) as tmp:
        table.to_csv(tmp, index=False)
    return parquet, csv


def _value(sub: pd.DataFrame, metric: str) -> str:
    hit = sub[sub["metric"] == metric]
    if hit.empty or not np.isfinite(hit["value"].iloc[0]):
        return "–"
    return f"{hit['value'].iloc[0]:.3f}"


def _interval(sub: pd.DataFrame, metric: str) -> str:
    hit = sub[sub["metric"] == metric]
    if hit.empty or not np.isfinite(hit["ci_low"].iloc[0]):
        return "–"
    return f"{hit['ci_low'].iloc[0]:.3f}–{hit['ci_high'].iloc[0]:.3f}"


def headline_table(df: pd.DataFrame, max_rows: int = 40) -> Any:
    """Compact Rich tables, readable at 80 columns: one per probe, a line per (view, task).

    Columns: accuracy (or R²) and its 95 % interval, the majority-class baseline (the name the
    report uses too), bits, selectivity and the
    random-init baseline's accuracy when present (MDL is in the report and the csv). Names are
    never cut: a name longer than its column folds onto a second line.
    """
    from rich.console import Group

    whole = df[df["t"].isna() | df["view"].str.contains("@", regex=False)] if len(df) else df
    trained = whole[whole["model"] == "trained"] if len(whole) else whole
    baseline = whole[whole["model"] == "random-init"] if len(whole) else whole
    probes = list(dict.fromkeys(trained["probe"])) if len(trained) else []
    return Group(*(_probe_table(trained, baseline, probe, max_rows) for probe in probes or [""]))


def _probe_table(trained: pd.DataFrame, baseline: pd.DataFrame, probe: str, max_rows: int
                 ) -> Any:
    from rich import box
    from rich.table import Table

    mine = trained[trained["probe"] == probe] if len(trained) else trained
    table = Table(title=f"probing results (trained model, probe {probe}{_n_train(mine)})",
                  box=box.SIMPLE_HEAD,
                  padding=(0, 1), collapse_padding=True, pad_edge=False, show_edge=False,
                  caption="maj.: majority-class baseline (0 for R²); sel.: selectivity vs "
                  "the control task; rand.: the same probe on random weights")
    for col in ("view", "task"):
        table.add_column(col, overflow="fold")
    for col in ("acc", "95% CI", "maj.", "bits", "sel.", "rand."):
        table.add_column(col, justify="right", no_wrap=True)
    keys = mine[["view", "task"]].drop_duplicates().head(max_rows)
    for view, task in keys.itertuples(index=False):
        sub = mine[(mine["view"] == view) & (mine["task"] == task)]
        base = baseline[(baseline["view"] == view) & (baseline["task"] == task)
                        & (baseline["probe"] == probe)]
        main = "r2" if (sub["metric"] == "r2").any() else "accuracy"
        table.add_row(view, task, _value(sub, main), _interval(sub, main), _majority(sub, main),
                      _value(sub, "bits"), _value(sub, "selectivity"), _value(base, main))
    return table


def _n_train(mine: pd.DataFrame) -> str:
    """``; 240 training rows per split`` (or ``240–388`` when cells differ); "" if none."""
    n = mine.loc[mine["metric"].isin(["accuracy", "r2"]), "n_train"] if len(mine) else []
    if len(n) == 0:
        return ""
    low, high = int(min(n)), int(max(n))
    return f"; {low:,}{'' if low == high else f'–{high:,}'} training rows per split"


def _majority(sub: pd.DataFrame, main: str) -> str:
    """The report's majority-class baseline (held-out accuracy of always answering the
    training folds' majority class); the task's chance level when it was not measured."""
    if main == "accuracy" and (sub["metric"] == "majority_accuracy").any():
        return _value(sub, "majority_accuracy")
    chance = sub["chance"].iloc[0] if len(sub) else float("nan")
    return f"{chance:.3f}"


def failure_summary(failed: list[dict[str, Any]], words: Words | None = None) -> list[str]:
    """One line per distinct failure (same reason), with the cells it hit, e.g.
    ``probe 'picky' (plugin p.py) on task 'length': RuntimeError: … — 24 cells: trained,
    random-init × 12 views (output@last, …)``; a reason's mentions (its ``reason_parts``: a
    time limit) in ``words`` (:meth:`probe_rnn.errors.ProbeRnnError.render`)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for cell in failed:
        parts = cell.get("reason_parts")
        reason = render(parts_from_json(parts), words) if parts else str(cell.get("reason"))
        groups.setdefault(reason, []).append(cell)
    lines = []
    for reason, cells in groups.items():
        models = list(dict.fromkeys(str(c.get("model")) for c in cells))
        views = list(dict.fromkeys(str(c.get("view")) for c in cells))
        shown = ", ".join(views[:3]) + (", …" if len(views) > 3 else "")
        where = f"{', '.join(models)} × {len(views)} view{'s' if len(views) > 1 else ''} ({shown})"
        lines.append(f"{reason} — {len(cells)} cell{'s' if len(cells) > 1 else ''}: {where}")
    return lines
