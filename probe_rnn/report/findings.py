"""Plain-sentence findings generated from the numbers of one run.

Each :class:`Finding` is one or two sentences and an anchor to the evidence in the report.
A sentence is only written when the numbers support it: two views are "identical" only when
their largest difference is below the storage tolerance, one view (or model) carries "more"
information than another only when the 95 % interval of their difference excludes 0 ("within
noise" when it does not), and without intervals the comparison is reported as untested. The
difference is paired wherever the two were scored on the same splits
(:mod:`probe_rnn.probing.intervals`: per-fold differences with the Nadeau–Bengio interval, or
the same bootstrap resamples), which is the case for views of one model and for the trained
vs the random-init model; each sentence gives the difference, its interval and its method.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from probe_rnn.catalogue import READOUT_VIEWS, final_view  # READOUT_VIEWS: re-exported
from probe_rnn.probing.intervals import Difference, difference, unpaired
from probe_rnn.probing.power import detectable
from probe_rnn.probing.verdict_wording import ABOVE, BELOW, WITHIN_NOISE, decide, within_noise
from probe_rnn.report.attribution_findings import attribution_findings
from probe_rnn.report.equivalence import Equivalence, same_vectors
from probe_rnn.report.measures import (
    Estimate,
    estimate,
    label_task,
    percent,
    primary_probe,
    sentence_rows,
    short_number,
)
from probe_rnn.report.step_findings import timestep_findings
from probe_rnn.report.verdicts import (
    MAJORITY,
    Claim,
    claims_json,
    holm_verdicts,
    majority_difference,
    verdict,
)
from probe_rnn.run_record import RunRecord


@dataclass(frozen=True)
class Finding:
    """A plain sentence (view names in backticks), the anchor of its evidence and the tested
    comparisons its verdicts rest on (:class:`~probe_rnn.report.verdicts.Claim`)."""

    text: str
    anchor: str
    kind: str
    claims: tuple[Claim, ...] = ()

    @property
    def claims_json(self) -> str:
        """The claims as JSON (written into the report beside the sentence)."""
        return claims_json(self.claims)


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
    if decide(d.value, d.low, d.high) == WITHIN_NOISE:
        return (f"`{other.view}` carries {what} {within_noise(f'`{base.view}`')} ({nums} {unit}; "
                f"{_difference_text(d, unit)}: the interval includes 0; a true difference of "
                f"about {short_number(detectable(d))} {unit} would be detected 80% of the "
                "time).")
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
        others = [eq.hn_cat, eq.hn_fwd] + ([eq.hn_bwd] if eq.bidirectional else []) + others
    out = []
    for view in others:
        if view in same_vectors(eq, "output@last"):
            continue  # the very same vector: the equivalence finding already says so
        other = estimate(results, view, task, metric)
        if other is not None:
            what = "label information" if metric == "bits" else "label accuracy"
            d = cells.diff(other, base, task)
            claims = () if d is None else (Claim(
                view, base.view, metric, verdict(d, d.p_value), f"pair:{view}:{task}", task,
                str(cells.probe)),)
            out.append(Finding(_compare_sentence(base, other, unit, what, d), "probing-views",
                               "comparison", claims))
    return out


def _best(results: pd.DataFrame, task: str, metric: str) -> tuple[Estimate, list[Estimate]]:
    rows = sentence_rows(results)
    views = rows.loc[(rows["task"] == task) & (rows["metric"] == metric), "view"].unique()
    ests = [e for v in views if (e := estimate(results, str(v), task, metric)) is not None]
    best = max(ests, key=lambda e: e.value)
    return best, ests


def _versus_best(cells: Cells, best: Estimate, ests: list[Estimate], task: str,
                 same: set[str]) -> list[tuple[Estimate, str, Difference | None]]:
    """Each other view against the selected best: ``within noise`` or ``below``, the paired
    differences Holm-corrected over every view compared with it (the very same vector is
    ``same``)."""
    others = [e for e in ests if e.view != best.view and e.view not in same]
    diffs = [cells.diff(e, best, task) for e in others]
    verdicts = holm_verdicts(diffs)
    out = [(e, "same", None) for e in ests if e.view in same and e.view != best.view]
    return out + list(zip(others, verdicts, diffs, strict=True))


def _shown(views: list[str], limit: int = 5) -> str:
    return ", ".join(f"`{v}`" for v in views[:limit]) + (
        f" and {len(views) - limit} others" if len(views) > limit else "")


def _recommendation(results: pd.DataFrame, run: RunRecord, eq: Equivalence | None,
                    cells: Cells) -> list[Finding]:
    task = label_task(results)
    if task is None:
        return []
    metric, unit = label_metric(results, task)
    if not ((sentence_rows(results)["task"] == task)
            & (sentence_rows(results)["metric"] == metric)).any():
        return []
    best, ests = _best(results, task, metric)
    compared = _versus_best(cells, best, ests, task, same_vectors(eq, best.view))
    family = f"best:{task}:{metric}"
    claims = tuple(Claim(e.view, best.view, metric, v, family, task, str(cells.probe))
                   for e, v, d in compared if d is not None and v != "same")
    ties = [e.view for e, v, _ in compared if v in ("same", WITHIN_NOISE)]
    worse = [e.view for e, v, _ in compared if v == BELOW]
    tested = [d for _, v, d in compared if d is not None and d.has_ci]
    head = ("Which state should your classifier read? For this model (probed with the head it "
            "was trained with: these probes describe the states shaped by this model's own "
            f"readout) `{best.view}` is the best by point estimate ({best.describe()} {unit})")
    many = len(tested) != 1
    holm_said = (f"paired difference{'s' * many} from it, Holm-corrected over the "
                 f"{len(tested)} view{'s' * many} compared with it") if tested else (
        "the very same vector")
    if not tested and len(ties) < len(compared):
        text = head + ("; no intervals were recorded for the differences, so the ranking is "
                       "untested")
    elif ties:
        text = (f"{head}, but {_shown(ties)} {'is' if len(ties) == 1 else 'are'} within noise "
                f"of it ({holm_said}), so the data do not single out one state")
        if tested:
            mdd = max(detectable(d, len(tested)) for d in tested)
            text += (f"; these splits would detect a true difference of about "
                     f"{short_number(mdd)} {unit} 80% of the time, so within noise is not "
                     "the same as equal")
    else:
        text = f"{head}, clearly ahead of every other view ({holm_said})"
    if worse:
        text += f"; measurably worse than it: {_shown(worse)}"
    if metric == "bits" and best.has_ci and best.low <= 0:
        text += "; no state clearly carries label information (the interval includes 0 bits)"
    text += "." + _own_head(run, best, compared, unit)
    return [Finding(text, "probing-heatmap", "recommendation", claims)]


def _own_head(run: RunRecord, best: Estimate,
              compared: list[tuple[Estimate, str, Difference | None]], unit: str) -> str:
    """Where the view the model's own head reads stands against the best."""
    cfg = run.model_config
    readout = cfg.get("readout")
    own = (final_view("h_n", int(cfg.get("layers", 1)) - 1) if readout == "hidden"
           else READOUT_VIEWS.get(str(readout)) if readout else None)
    if own is None:
        return ""
    if own == best.view:
        return f" The model's own head reads `{own}`, the best by point estimate."
    for e, v, d in compared:
        if e.view == own:
            said = {"same": "the very same vector as the best",
                    WITHIN_NOISE: within_noise("the best"),
                    BELOW: f"measurably below the best ({_difference_text(d, unit)})"
                    if d is not None else "below the best"}[v]
            return f" The model's own head reads `{own}`: {said}."
    return ""


def _majority_finding(results: pd.DataFrame, cells: Cells, task: str) -> list[Finding]:
    """Which views are clearly above the majority-class baseline: each view's accuracy minus
    the majority rate of the same splits, Holm-corrected over the views."""
    rows = sentence_rows(results)
    rows = rows[(rows["task"] == task) & (rows["metric"] == "majority_accuracy")]
    if rows.empty:
        return []
    m = float(rows["value"].mean())
    views = [str(v) for v in dict.fromkeys(rows["view"])]
    diffs = [majority_difference(results, cells.values, v, task, cells.probe) for v in views]
    pairs = [(v, d) for v, d in zip(views, diffs, strict=True) if d is not None]
    if not pairs:
        return []
    verdicts = holm_verdicts([d for _, d in pairs])
    family = f"majority:{task}"
    claims = tuple(Claim(v, MAJORITY, "accuracy", w, family, task, str(cells.probe))
                   for (v, _), w in zip(pairs, verdicts, strict=True))
    above = [(v, d) for (v, d), w in zip(pairs, verdicts, strict=True) if w == ABOVE]
    other = [v for (v, _), w in zip(pairs, verdicts, strict=True) if w != ABOVE]
    how = (f"paired difference of each view's accuracy from the majority rate of the same "
           f"splits, Holm-corrected over the {len(pairs)} views")
    if not above:
        text = (f"No view is clearly above the majority-class baseline ({percent(m)}; {how}).")
    else:
        best = max(above, key=lambda vd: vd[1].value)
        text = (f"{len(above)} of {len(pairs)} views are clearly above the majority-class "
                f"baseline ({percent(m)}; {how}); the largest margin is `{best[0]}` "
                f"{best[1].describe()} accuracy")
        text += f"; not clearly above: {_shown(other)}." if other else "."
    return [Finding(text, "probing-views", "baseline", claims)]


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
        elif decide(d.value, d.low, d.high) == WITHIN_NOISE:
            text = (f"On `{best.view}` a probe on random-weight states is "
                    f"{within_noise('the trained model')} ({rand.describe()} vs "
                    f"{best.describe()} accuracy; "
                    f"{_difference_text(d, 'accuracy')}): this probe does not show that "
                    "training added label information there.")
        else:
            text = (f"Training matters: on `{best.view}` the same probe on random-weight states "
                    f"reaches {rand.describe()} accuracy against {best.describe()} trained "
                    f"({_difference_text(d, 'accuracy')}).")
        claims = () if d is None else (Claim(
            best.view, best.view, "accuracy", verdict(d, d.p_value), f"random:{task}", task,
            str(cells.probe), model_b="random-init"),)
        out.append(Finding(text, "probing-views", "baseline", claims))
    return out + _majority_finding(results, cells, task)


def _memorisation_findings(results: pd.DataFrame, train_rows: pd.DataFrame | None,
                           run: RunRecord | None = None) -> list[Finding]:
    """Held-out vs training-row label accuracy on ``output@last`` (different rows: unpaired);
    not concluded upon when the split is not known to be the model's own."""
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
    rows_card = (run.probed_rows if run is not None else None) or {}
    if rows_card.get("split_is_the_models") is False:
        text = (f"On `{view}` the probe reads the label at {train.describe()} on rows called "
                f"training rows and {held.describe()} on held-out rows, but the split "
                f"({rows_card.get('split_source', 'its source unknown')}) is not known to be "
                "the one the model was trained with, so this comparison says nothing about "
                "memorisation.")
    elif decide(d.value, d.low, d.high) == ABOVE:
        text = (f"On `{view}` the probe reads the label better on rows the model trained on "
                f"than on held-out rows ({train.describe()} vs {held.describe()}; "
                f"{_difference_text(d, 'accuracy')}): part of what the state holds is "
                "memorised from training sentences; every other number here is on held-out "
                "rows.")
    else:
        text = (f"On `{view}` the probe reads the label at {train.describe()} on rows the model "
                f"trained on and {held.describe()} on held-out rows "
                f"({_difference_text(d, 'accuracy')}): {WITHIN_NOISE}, so this run does not show "
                "memorisation there.")
    return [Finding(text, "probing-training-rows", "memorisation")]


def make_findings(
    results: pd.DataFrame, equivalence: Equivalence | None, run: RunRecord,
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
    run : RunRecord
        The run's ``run.json`` (for the model's own readout and the probed rows).
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
    out += _memorisation_findings(results, train_rows, run)
    bidirectional = (equivalence.bidirectional if equivalence is not None else
                     bool((results["direction"].astype(str) == "bwd").any()))
    out += [Finding(text, "probing-timesteps", "timestep", claims)
            for text, claims in timestep_findings(results, values, bidirectional)]
    out += [Finding(text, anchor, "attribution")
            for text, anchor in attribution_findings(attribution or {})]
    return out
