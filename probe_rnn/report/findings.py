"""Plain-sentence findings generated from the numbers of one run.

Each :class:`Finding` is one or two sentences and an anchor to the evidence in the report.
A sentence is only written when the numbers support it: two views are "identical" only when
their largest difference is below the storage tolerance, one view (or model) carries "more"
information than another only when the 95 % interval of their difference excludes 0 ("within
noise" when it does not), and without intervals the comparison is reported as untested. The
difference is paired wherever the two were scored on the same splits
(:mod:`probe_rnn.probing.paired`: per-fold differences with the Nadeau–Bengio interval, or
the same bootstrap resamples), which is the case for views of one model and for the trained
vs the random-init model; each sentence gives the difference, its interval and its method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from probe_rnn.probing.paired import Difference, difference, unpaired
from probe_rnn.report.equivalence import Equivalence, same_vectors
from probe_rnn.report.measures import (
    Estimate,
    base_view,
    estimate,
    label_task,
    percent,
    primary_probe,
    sentence_rows,
    short_number,
)
from probe_rnn.vocabulary import READOUT_VIEWS, try_parse  # READOUT_VIEWS: re-exported

__all__ = ["Finding", "make_findings", "READOUT_VIEWS"]



@dataclass(frozen=True)
class Finding:
    """A plain sentence (view names in backticks) and the anchor of its evidence."""

    text: str
    anchor: str
    kind: str


class Cells:
    """The run's results and long table, and how to name a cell of the label task."""

    def __init__(self, results: pd.DataFrame, values: pd.DataFrame | None) -> None:
        self.results, self.values = results, values
        self.probe = primary_probe(results)

    def diff(self, a: Estimate, b: Estimate, task: str, model_a: str = "trained",
             model_b: str = "trained") -> Difference | None:
        """``a − b`` (paired where they share splits)."""
        cell = lambda e, m: {"model": m, "view": e.view, "task": task, "probe": self.probe}  # noqa: E731
        return difference(self.results, self.values, cell(a, model_a), cell(b, model_b),
                          a.metric)


def _difference_text(d: Difference, unit: str) -> str:
    """``paired difference +0.041 [+0.028, +0.053] bits over 5 splits (Nadeau–Bengio)``."""
    kind, how = d.method.split(" ", 1)  # "paired over 5 splits (...)", "unpaired (why)"
    return f"{kind} difference {d.describe()} {unit} {how}"


def _compare_sentence(base: Estimate, other: Estimate, unit: str, what: str,
                      d: Difference | None) -> str:
    nums = f"{other.describe()} vs {base.describe()}"
    if d is None or not d.has_ci:
        return (f"`{other.view}` has {short_number(other.value)} {unit} of {what} against "
                f"{short_number(base.value)} for `{base.view}` (no confidence intervals "
                "recorded, so "
                "the difference is untested).")
    if not d.excludes_zero():
        return (f"`{other.view}` carries {what} within noise of `{base.view}` ({nums} {unit}; "
                f"{_difference_text(d, unit)}: the interval includes 0).")
    word = "more" if d.value > 0 else "less"
    return (f"`{other.view}` carries {short_number(abs(d.value))} {unit} {word} {what} than "
            f"`{base.view}` ({nums}; {_difference_text(d, unit)}).")


def label_metric(results: pd.DataFrame, task: str) -> tuple[str, str]:
    rows = sentence_rows(results)
    if ((rows["task"] == task) & (rows["metric"] == "bits")).any():
        return "bits", "bits"
    return "accuracy", "accuracy points"


def _comparison_findings(results: pd.DataFrame, eq: Equivalence | None, cells: Cells
                         ) -> list[Finding]:
    task = label_task(results)
    if task is None:
        return []
    metric, unit = label_metric(results, task)
    base = estimate(results, "output@last", task, metric)
    if base is None:
        return []
    others = ["output@-1"]
    if eq is not None:
        others = [eq.hn_fwd] + ([eq.hn_bwd] if eq.bidirectional else []) + others
    out = []
    for view in others:
        if view in same_vectors(eq, "output@last"):
            continue  # the very same vector: the equivalence finding already says so
        other = estimate(results, view, task, metric)
        if other is not None:
            what = "label information" if metric == "bits" else "label accuracy"
            d = cells.diff(other, base, task)
            out.append(Finding(_compare_sentence(base, other, unit, what, d), "probing-views",
                               "comparison"))
    return out


def _best(results: pd.DataFrame, task: str, metric: str) -> tuple[Estimate, list[Estimate]]:
    rows = sentence_rows(results)
    views = rows.loc[(rows["task"] == task) & (rows["metric"] == metric), "view"].unique()
    ests = [e for v in views if (e := estimate(results, str(v), task, metric)) is not None]
    best = max(ests, key=lambda e: e.value)
    return best, ests


def _tied(cells: Cells, best: Estimate, other: Estimate, task: str) -> bool:
    """``other`` within noise of ``best``: the difference's interval includes 0 (or, without
    any interval, the estimates' intervals overlap)."""
    d = cells.diff(best, other, task)
    if d is not None and d.has_ci:
        return not d.excludes_zero()
    return bool(best.overlaps(other))


def _recommendation(results: pd.DataFrame, run: dict[str, Any], eq: Equivalence | None,
                    cells: Cells) -> list[Finding]:
    task = label_task(results)
    if task is None:
        return []
    metric, unit = label_metric(results, task)
    if not ((sentence_rows(results)["task"] == task)
            & (sentence_rows(results)["metric"] == metric)).any():
        return []
    best, ests = _best(results, task, metric)
    same = same_vectors(eq, best.view)
    ties = [e.view for e in ests
            if e.view != best.view and (e.view in same or _tied(cells, best, e, task))]
    head = "Which state should your classifier read? For this model "
    if ties:
        shown = ", ".join(f"`{v}`" for v in ties[:5]) + (" and others" if len(ties) > 5 else "")
        text = (f"{head}`{best.view}` has the highest estimate of label information "
                f"({best.describe()} {unit}), but {shown} {'is' if len(ties) == 1 else 'are'} "
                "within noise of it (the paired difference's interval includes 0), so the data "
                "do not single out one state")
    else:
        text = f"{head}`{best.view}` gives the most label information ({best.describe()} {unit})"
        text += (" (no confidence intervals recorded, so the ranking is untested)"
                 if not best.has_ci else ", clearly ahead of every other view (the interval "
                 "of each difference from it excludes 0)")
    if metric == "bits" and best.has_ci and best.low <= 0:
        text += "; no state clearly carries label information (the interval includes 0 bits)"
    text += "."
    readout = ((run.get("model") or {}).get("config") or {}).get("readout")
    own = READOUT_VIEWS.get(str(readout)) if readout else None
    own_est = next((e for e in ests if e.view == own), None)
    if own_est is not None and own_est.view != best.view:
        d = cells.diff(best, own_est, task)
        verdict = ("not compared (no intervals)" if d is None or not d.has_ci
                   else "within noise of the best" if not d.excludes_zero()
                   else f"{short_number(d.value)} {unit} below the best "
                        f"({_difference_text(d, unit)})")
        text += f" The model's own head reads `{own}`: {verdict}."
    elif own_est is not None:
        text += f" The model's own head reads `{own}`, the best view."
    return [Finding(text, "probing-heatmap", "recommendation")]


def _baseline_findings(results: pd.DataFrame, cells: Cells) -> list[Finding]:
    task = label_task(results)
    if task is None or not ((sentence_rows(results)["task"] == task)
                            & (sentence_rows(results)["metric"] == "accuracy")).any():
        return []
    best, _ = _best(results, task, "accuracy")
    out = []
    rand = estimate(results, best.view, task, "accuracy", model="random-init")
    if rand is not None:
        d = cells.diff(best, rand, task, "trained", "random-init")
        if d is None or not d.has_ci:
            text = (f"On `{best.view}` a probe reaches {percent(best.value)} label accuracy "
                    "with the "
                    f"trained weights and {percent(rand.value)} with random weights (no intervals, "
                    "difference untested).")
        elif not d.excludes_zero():
            text = (f"On `{best.view}` a probe on random-weight states is within noise of the "
                    f"trained model ({rand.describe()} vs {best.describe()} accuracy; "
                    f"{_difference_text(d, 'accuracy')}): this probe does not show that "
                    "training added label information there.")
        else:
            text = (f"Training matters: on `{best.view}` the same probe on random-weight states "
                    f"reaches {rand.describe()} accuracy against {best.describe()} trained "
                    f"({_difference_text(d, 'accuracy')}).")
        out.append(Finding(text, "probing-views", "baseline"))
    majority = sentence_rows(results)
    majority = majority.loc[(majority["task"] == task)
                            & (majority["metric"] == "majority_accuracy"), "value"].dropna()
    if not majority.empty and best.has_ci:
        m = float(majority.mean())
        if best.low > m:
            text = (f"The best label accuracy ({best.describe()}, `{best.view}`) is above the "
                    f"majority-class baseline ({percent(m)}).")
        else:
            text = (f"No view is clearly above the majority-class baseline ({percent(m)}): the "
                    f"best, `{best.view}`, reaches {best.describe()}.")
        out.append(Finding(text, "probing-views", "baseline"))
    return out


def _memorisation_findings(results: pd.DataFrame, train_rows: pd.DataFrame | None
                           ) -> list[Finding]:
    """Held-out vs training-row label accuracy on ``output@last`` (different rows: unpaired)."""
    task = label_task(results)
    if train_rows is None or train_rows.empty or task is None:
        return []
    probe = str(train_rows["probe"].iloc[0])
    views = [v for v in ("output@last", *train_rows["view"].unique()) if
             estimate(results, str(v), task, "accuracy", probe=probe) is not None]
    if not views:
        return []
    view = str(views[0])
    held = estimate(results, view, task, "accuracy", probe=probe)
    train = estimate(train_rows, view, task, "accuracy", probe=probe)
    if held is None or train is None:
        return []
    d = unpaired((train.value, train.low, train.high), (held.value, held.low, held.high))
    if not d.has_ci:
        return []
    if d.excludes_zero() and d.value > 0:
        text = (f"On `{view}` the probe reads the label better on rows the model trained on "
                f"than on held-out rows ({train.describe()} vs {held.describe()}; "
                f"{_difference_text(d, 'accuracy')}): part of what the state holds is "
                "memorised from training sentences; every other number here is on held-out "
                "rows.")
    else:
        text = (f"On `{view}` the probe reads the label at {train.describe()} on rows the model "
                f"trained on and {held.describe()} on held-out rows "
                f"({_difference_text(d, 'accuracy')}): within noise, so this run does not show "
                "memorisation there.")
    return [Finding(text, "probing-training-rows", "memorisation")]


def _preference(base: str) -> tuple[bool, bool, int, str]:
    """Sort key: hidden before cell, forward before backward, top layer first."""
    spec = try_parse(base)
    if spec is None:
        return True, False, 0, base
    layer = -spec.layer if spec.layer is not None else 0
    return spec.base != "hidden", spec.direction == "bwd", layer, base


def _timestep_findings(results: pd.DataFrame) -> list[Finding]:
    task = label_task(results)
    probe = primary_probe(results)
    rows = results[(results["model"] == "trained") & results["t"].notna()
                   & (results["task"] == task) & (results["t"] >= 0)]
    if task is None or rows.empty:
        return []
    if (rows["probe"] == probe).any():
        rows = rows[rows["probe"] == probe]
    rows = rows.assign(base=rows["view"].map(base_view))
    base = sorted(rows["base"].unique(), key=_preference)[0]
    rows = rows[rows["base"] == base]
    curve = rows[rows["metric"] == "accuracy"].groupby("t")[["value", "ci_low", "ci_high"]]
    curve = curve.mean()
    floor = rows[rows["metric"] == "majority_accuracy"].groupby("t")["value"].mean()
    what = "majority-class baseline"
    if floor.empty:
        floor = rows.groupby("t")["chance"].mean()
        what = "chance level"
    floor = floor.reindex(curve.index)
    if curve.empty or floor.isna().all():
        return []
    peak_t = int(curve["value"].idxmax())
    peak = f"it peaks at {percent(curve['value'].max())} at t={peak_t}"
    has_ci = bool(curve["ci_low"].notna().all())
    above = curve.index[(curve["ci_low"] if has_ci else curve["value"]) > floor]
    name = f"`{base}` at step t"
    if len(above) == 0:
        text = (f"Reading {name}, label accuracy is never clearly above the {what} at any "
                f"step ({peak}).")
    else:
        t0 = int(above.min())
        how = ("its interval lies above" if has_ci else "no interval recorded; value above")
        text = (f"Reading {name}, label accuracy first clearly exceeds the {what} at t={t0} "
                f"({how} {percent(floor.loc[t0])}); {peak}.")
    return [Finding(text, "probing-timesteps", "timestep")]


def _attribution_findings(attribution: dict[str, pd.DataFrame]) -> list[Finding]:
    out = []
    ex = attribution.get("examples")
    if ex is not None and "completeness_error" in ex and ex["completeness_error"].notna().any():
        err = ex["completeness_error"].dropna().astype(float)
        if err.max() <= 0.05:
            text = (f"Token attributions pass their completeness check on all {len(err)} "
                    f"sentences (median error {percent(err.median())}, "
                    f"worst {percent(err.max())}).")
        else:
            text = (f"Token attributions miss completeness on {int((err > 0.05).sum())} of "
                    f"{len(err)} sentences (worst error {percent(err.max())}): read those "
                    "heatmaps with care.")
        out.append(Finding(text, "attribution-tokens", "attribution"))
    tok = attribution.get("tokens")
    if tok is not None and not tok.empty and tok["row"].nunique() >= 3:
        pos = tok.assign(a=tok["attribution"].abs()).sort_values(["row", "position"])
        top = pos.loc[pos.groupby("row")["a"].idxmax()]
        last = pos.groupby("row")["position"].max()
        n = len(top)
        first = int((top["position"].to_numpy() == pos.groupby("row")["position"].min()
                     .loc[top["row"]].to_numpy()).sum())
        at_end = int((top["position"].to_numpy() == last.loc[top["row"]].to_numpy()).sum())
        text = (f"The most attributed token is the first token in {first} of {n} attributed "
                f"sentences and the last token in {at_end} of {n}.")
        out.append(Finding(text, "attribution-tokens", "attribution"))
    return out


def make_findings(
    results: pd.DataFrame, equivalence: Equivalence | None, run: dict[str, Any],
    attribution: dict[str, pd.DataFrame] | None = None, values: pd.DataFrame | None = None,
    train_rows: pd.DataFrame | None = None,
) -> list[Finding]:
    """All findings supported by the numbers, most important first.

    Parameters
    ----------
    results : pd.DataFrame
        Tidy probing results (contract column order).
    equivalence : Equivalence or None
        Measured output-versus-hidden relations (``None`` without stored states).
    run : dict
        Parsed ``run.json`` (for the model's own readout).
    attribution : dict of str to pd.DataFrame, optional
        Attribution frames (``examples``, ``tokens``, ...).
    values : pd.DataFrame, optional
        The long table (``values.parquet``): comparisons are paired where cells share splits;
        without it they are unpaired (and say so).
    train_rows : pd.DataFrame, optional
        The label probe on training rows: a finding on held-out vs training-row accuracy.

    Returns
    -------
    list of Finding
    """
    cells = Cells(results, values)
    # the recommendation first: it widens the page's opening answer (output or hidden?) to
    # every view; then the measured mechanics and the comparisons behind it
    out = _recommendation(results, run, equivalence, cells)
    if equivalence is not None:
        out += [Finding(text, "diagnosis", "equivalence")
                for text in equivalence.sentences]
    out += _comparison_findings(results, equivalence, cells)
    out += _baseline_findings(results, cells)
    out += _memorisation_findings(results, train_rows)
    out += _timestep_findings(results)
    out += _attribution_findings(attribution or {})
    return out
