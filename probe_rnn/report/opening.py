"""The report's opening: "output or hidden state?" answered in one or two sentences.

:func:`make_answer` writes the sentences the main report opens with, from this run's numbers
only: the label information of ``output@last`` and the top layer's ``h_n`` with their paired
difference (same rules as :mod:`probe_rnn.report.findings`: "more" only when the 95% interval of
the difference excludes 0), and, when the run folder holds a readouts study of this model's
architecture, the accuracies of classifiers trained reading ``last`` and ``hidden`` with their
paired interval; when the run folder holds an interventions table, a last sentence says which
state the model's head uses (:mod:`probe_rnn.report.use_findings`). Every number is a
:class:`Segment` linked to the table it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from probe_rnn.catalogue import final_view, state_views
from probe_rnn.probing.intervals import Difference
from probe_rnn.probing.verdict_wording import ABOVE, WITHIN_NOISE, better_by, decide
from probe_rnn.report.equivalence import Equivalence, same_vectors
from probe_rnn.report.findings import Cells, label_metric
from probe_rnn.report.measures import Estimate, estimate, label_task

#: Anchor of the main report's table the answer's probing numbers come from: the label table
#: (bits with their intervals and the paired difference from ``output@last``, per view).
ANSWER_TABLE = "probing-controls"
#: Anchors of the readouts study's page: per-readout accuracy, paired differences.
STUDY_ACCURACY, STUDY_PAIRS = "accuracy", "pairs"


@dataclass(frozen=True)
class Segment:
    """A piece of an answer sentence (view names in backticks), linked to ``href`` if set."""

    text: str
    href: str | None = None


@dataclass(frozen=True)
class Answer:
    """The report's opening: "output or hidden state: which should a classifier read?".

    Attributes
    ----------
    sentences : tuple of tuple of Segment
        Two sentences (three with a readouts study), and a last one on use when the run has
        interventions; every number is a segment linked to the table it comes from.
    kind : str
        What the probing numbers show about ``output@last`` against ``h_n`` of the top layer:
        ``either`` (every difference within noise, or the same vector), ``output`` (the output
        carries more than every ``h_n`` half), ``hidden`` (some ``h_n`` carries more),
        ``mixed`` (within noise of one, more than another), ``untested`` (no intervals),
        or ``missing`` (the views needed were not probed; the sentence says which).
    """

    sentences: tuple[tuple[Segment, ...], ...]
    kind: str

    @property
    def sentence_texts(self) -> list[str]:
        """Each sentence as plain text (view names still in backticks)."""
        return ["".join(seg.text for seg in sentence) for sentence in self.sentences]

    @property
    def text(self) -> str:
        """The whole answer as plain text."""
        return " ".join(self.sentence_texts)

    @property
    def plain(self) -> str:
        """The whole answer in plain words, as the report's page reads (view names without
        their backticks): what ``probe-rnn probe`` and ``demo`` print at the end."""
        return self.text.replace("`", "")

    @property
    def links(self) -> list[str]:
        """Every ``href`` of the answer, in order."""
        return [seg.href for sentence in self.sentences for seg in sentence if seg.href]


class _Words:
    """Collects the segments of one sentence."""

    def __init__(self) -> None:
        self.parts: list[Segment] = []

    def __call__(self, text: str, href: str | None = None) -> _Words:
        if text:
            self.parts.append(Segment(text, href))
        return self

    def done(self) -> tuple[Segment, ...]:
        return tuple(self.parts)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _table_number(e: Estimate) -> str:
    """``0.364 [0.171, 0.557]``: as the label table prints it (3 decimals)."""
    from probe_rnn.report.tables import fmt

    text = fmt(e.value)
    return text + (f" [{fmt(e.low)}, {fmt(e.high)}]" if e.has_ci else "")


def _answer_views(results: pd.DataFrame, eq: Equivalence | None) -> tuple[list[str], str]:
    """The ``h_n`` view of the top layer the answer compares with ``output@last``: both
    directions concatenated (``h_n/L{top}``, what a ``hidden`` head reads), else the
    directions probed; and how to name it when none was probed."""
    probed = [str(v) for v in results["view"].dropna().unique()]
    if eq is not None:
        top: int | None = eq.top_layer
        halves = [eq.hn_fwd] + ([eq.hn_bwd] if eq.bidirectional else [])
    else:
        from probe_rnn.report.equivalence import top_layer

        top = top_layer(probed)
        if top is None:
            return [], "`h_n` of the top layer"
        halves = [v for v in state_views("h_n", [top], 2) if v in probed]
    whole = final_view("h_n", top)
    if whole in probed or not any(v in probed for v in halves):
        return [whole], f"`{whole}`"
    return halves, _and([f"`{v}`" for v in halves])


def _versus(cells: Cells, eq: Equivalence | None, base: Estimate, other: Estimate, task: str
            ) -> tuple[str, Difference | None]:
    """``other`` against ``output@last``: same (vector), within, more, less or untested."""
    if other.view in same_vectors(eq, base.view):
        return "same", None
    d = cells.diff(other, base, task)
    if d is None or not d.has_ci:
        return "untested", d
    word = decide(d.value, d.low, d.high)
    if word == WITHIN_NOISE:
        return "within", d
    return ("more" if word == ABOVE else "less"), d


_LEAD = "Output or hidden state? "
#: Per setting (what the model returns, texts per row): who the answer is for and who reads.
_SETTINGS: dict[tuple[str, int], tuple[str, str]] = {
    ("states", 1): ("For this encoder (it returns its states; no head reads them here, so the "
                    "probes read states shaped by its own training), ",
                    "a decoder or a classifier built on it"),
    ("states", 2): ("For this pair encoder (it returns its states), ", "a pair score built on it"),
    ("score", 2): ("For this pair model (its score compares what its encoder gives each text; "
                   "probes read the first text's branch), ", "a pair score"),
    ("step-logits", 1): ("For this language model (its head reads the top layer's output at "
                         "every step), ", "a classifier built on it"),
    ("step-logits", 2): ("For this encoder-decoder (its decoder starts from the encoder's final "
                         "state), ", "a decoder"),
}


def setting_phrases(model_card: dict[str, Any] | None) -> tuple[str, str]:
    """Who the opening answer is for and who reads the state, from the run's model card
    (``returns``, ``texts``): a classifier's own readout by default."""
    card = model_card or {}
    key = (str(card.get("returns") or "logits"), int(card.get("texts") or 1))
    return _SETTINGS.get(key, (
        "For this model's own readout (probes read the states its head was trained through, "
        "and a head trained on one readout shapes those states), ", "a classifier"))


def _probing_answer(results: pd.DataFrame, eq: Equivalence | None, cells: Cells, href: str,
                    lead_in: str = _LEAD, setting: tuple[str, str] | None = None
                    ) -> tuple[tuple[Segment, ...], str]:
    """The sentence on label information in ``output@last`` against ``h_n`` of the top layer
    (its kind, or ``missing`` with a sentence naming what was not probed)."""
    task = label_task(results)
    views, named = _answer_views(results, eq)
    if task is None:
        return (Segment("This run did not probe the label, so its probes cannot say whether a "
                        "classifier should read the output or the hidden state."),), "missing"
    metric, unit = label_metric(results, task)
    base = estimate(results, "output@last", task, metric)
    others = [e for v in views if (e := estimate(results, v, task, metric)) is not None]
    lacking = (["`output@last`"] if base is None else []) + (
        [f"`{v}`" for v in views if v not in {e.view for e in others}] if views else [named])
    if base is None or not others:
        return (Segment(f"This run has no label probe of {_and(lacking)}, so its probes cannot "
                        "compare the output with the hidden state."),), "missing"
    outcomes = [(e, *_versus(cells, eq, base, e, task)) for e in others]
    kinds = {o for _, o, _ in outcomes}
    own, reader = setting or setting_phrases(None)
    by = own + f"by the label information that probes find, {reader} "
    within = [f"`{e.view}`" for e, o, _ in outcomes if o in ("same", "within")]
    less = [f"`{e.view}`" for e, o, _ in outcomes if o == "less"]
    more = [f"`{e.view}`" for e, o, _ in outcomes if o == "more"]
    if "untested" in kinds:
        kind, lead = "untested", (own + "this run's probes recorded no intervals for the "
                                  f"difference, so which one {reader} should read is "
                                  "untested: ")
    elif kinds <= {"same", "within"}:
        kind, lead = "either", f"{by}can read either (within noise of each other): "
    elif more:
        kind, lead = "hidden", f"{by}should read the hidden state, {_and(more)}: "
    elif not within:
        kind, lead = "output", f"{by}should read the output, `output@last`: "
    else:
        kind, lead = "mixed", (f"{by}should read `output@last` or {_and(within)} (within noise "
                               f"of each other); {_and(less)} alone "
                               f"carr{'ies' if len(less) == 1 else 'y'} less: ")
    w = _Words()(lead_in + lead[:1].upper() + lead[1:])
    bits = metric == "bits"
    w("`output@last` carries " if bits else "`output@last` reaches ")
    w(_table_number(base), href)(" bits of label information" if bits else " label accuracy")
    first_diff = True
    for i, (e, outcome, d) in enumerate(outcomes):
        w(" and " if i == len(outcomes) - 1 else ", ")(f"`{e.view}` ")(_table_number(e), href)
        if outcome == "same":
            w(" (the very same vector here)")
            continue
        if d is None:
            w(" (difference not computed)")
            continue
        paired = "paired" if d.paired else "unpaired"
        w(f" ({paired} difference from `output@last` " if first_diff else " (")
        w(d.describe(), href)(f" {'bits' if bits else 'accuracy'}" if first_diff else "")
        first_diff = False
        word = {"within": WITHIN_NOISE, "more": "more", "less": "less",
                "untested": "no interval"}[outcome]
        w(f": {word})")
    return w(".").done(), kind


def _study_answer(study: Any, href: str, first: bool) -> tuple[Segment, ...]:
    """The sentence on the readouts study's trained classifiers: ``last`` against ``hidden``,
    each with its 95 % interval across seeds, and their paired difference."""
    summary = study.summary_for()
    rows = {str(r.readout): r for r in summary.itertuples(index=False)}
    lead = _LEAD if first else ""
    page = href.split("#")[0]
    if "last" not in rows or "hidden" not in rows:
        trained = ", ".join(f"`{r}`" for r in rows) or "no readout"
        return (Segment(f"{lead}The "), Segment("readouts study", page),
                Segment(f" beside this report trained {trained}, not both `last` and "
                        "`hidden`, so it does not compare the output with the hidden state."))
    seeds = int(max(rows["last"].n_seeds, rows["hidden"].n_seeds))
    metric = study.objective.metric_label

    def pct(x: float) -> str:
        return f"{x * 100:.2f}%"

    def score(r: Any) -> str:
        ok = not (pd.isna(r.ci_low) or pd.isna(r.ci_high))
        return pct(r.mean) + (f" (95% CI {pct(r.ci_low)} to {pct(r.ci_high)})" if ok else "")

    accuracy = f"{page}#{STUDY_ACCURACY}"
    w = _Words()(f"{lead}Trained as classifiers with each readout "
                 "(the ")("readouts study", page)(
        f": this model's architecture, one training budget, {seeds} paired "
        f"seed{'s' * (seeds != 1)}), "
        "reading the output at the last valid step (`last`: the view `output@last`) gives ")
    top = final_view("h_n", int((getattr(study, "settings", None) or {}).get("layers", 1)) - 1)
    w(score(rows["last"]), accuracy)(f" {metric} and reading `h_n` of the top layer, both "
                                     f"directions concatenated (`hidden`: the view `{top}`) "
                                     )(score(rows["hidden"]), accuracy)
    pair = study.pair("last", "hidden")
    if pair is None or pd.isna(pair["mean_diff"]):
        return w(": the study holds no paired difference of the two.").done()
    diff = f"{pair['mean_diff'] * 100:+.2f} points"
    if pd.isna(pair["ci_low"]) or pd.isna(pair["ci_high"]):
        return w(": last − hidden ")(diff, f"{page}#{STUDY_PAIRS}")(
            ", with too few seeds for an interval, so the difference is untested.").done()
    diff += (f" (paired 95% CI {pair['ci_low'] * 100:+.2f} to "
             f"{pair['ci_high'] * 100:+.2f})")
    verdict = decide(pair["mean_diff"], pair["ci_low"], pair["ci_high"])
    if verdict != WITHIN_NOISE:
        verdict = better_by(pair["mean_diff"], "last" if pair["mean_diff"] > 0 else "hidden")
    return w(": last − hidden ")(diff, f"{page}#{STUDY_PAIRS}")(f", {verdict}.").done()


def make_answer(
    results: pd.DataFrame, equivalence: Equivalence | None, values: pd.DataFrame | None = None,
    *, study: Any = None, study_href: str | None = None, study_note: str | None = None,
    table: str = ANSWER_TABLE, model_card: dict[str, Any] | None = None,
    site: str | None = None, use: tuple[Segment, ...] | None = None,
) -> Answer:
    """The direct answer to "output or hidden state: which should a classifier read?".

    The first sentence compares the label information (bits, else accuracy) of ``output@last``
    with ``h_n`` of the top layer, both directions, each number with its interval and the
    paired difference from ``output@last`` with its verdict (within noise when the interval
    contains 0); the second gives the readouts study's trained-classifier comparison of the
    ``last`` and ``hidden`` readouts with its paired 95 % interval, or says that the run
    holds no such study. When the views needed were not probed, the sentence says which are
    missing instead (and the study's sentence, if any, comes first).

    Parameters
    ----------
    results, equivalence, values
        As for :func:`make_findings`.
    study : ReadoutStudy, optional
        A ``classify`` readouts study of this model's architecture on the same data.
    study_href : str, optional
        Link to the study's page (relative to the report), required with ``study``.
    study_note : str, optional
        Why no study is used (default: the run folder holds none).
    table : str
        Anchor of the table the probing numbers come from.
    model_card : dict, optional
        The run's model card: an encoder, a pair model, a language model or an
        encoder-decoder gets the answer for its setting (:func:`setting_phrases`).
    site : str, optional
        The site of a model with several whose states ``results`` hold, prefix taken off
        (:mod:`probe_rnn.report.answer_scope`); the answer names it.
    use : tuple of Segment, optional
        The sentence on which state the head uses, from the run's interventions
        (:func:`~probe_rnn.report.use_findings.use_sentence`), written last; ``None`` (a run
        without interventions) leaves the answer as it was.

    Returns
    -------
    Answer
    """
    cells = Cells(results, values)
    setting = setting_phrases(model_card)
    if site is not None:
        own, reader = setting
        setting = (f"{own}reading its `{site}` states (views `{site}:...`), ", reader)
    if study is not None and study_href:
        probing, kind = _probing_answer(results, equivalence, cells, f"#{table}",
                                        lead_in="Probes: ", setting=setting)
        trained = _study_answer(study, study_href, first=True)
        return Answer((trained, probing, _agreement(study, kind), *([use] if use else [])),
                      kind)
    probing, kind = _probing_answer(results, equivalence, cells, f"#{table}", setting=setting)
    note = study_note or ("This run folder holds no readouts study, so trained classifiers "
                          "reading each are not compared here (`probe-rnn compare-readouts` "
                          "trains one per readout).")
    return Answer((probing, (Segment(note),), *([use] if use else [])), kind)


#: What the readouts study's verdict on ``last − hidden`` corresponds to in the probing kinds.
_STUDY_KIND = {"within": {"either"}, "last": {"output"}, "hidden": {"hidden"}}


def _agreement(study: Any, kind: str) -> tuple[Segment, ...]:
    """One bottom line: whether the study (a head retrained per readout) and the probes of
    this model's states agree, and which to follow when they do not."""
    pair = study.pair("last", "hidden")
    if pair is None or kind in ("missing", "untested") or pd.isna(pair.get("ci_low")):
        return (Segment("Bottom line: follow the readouts study, which retrains a head per "
                        "readout; the probes describe this model as trained."),)
    inside = pair["ci_low"] <= 0 <= pair["ci_high"]
    said = "within" if inside else ("last" if pair["mean_diff"] > 0 else "hidden")
    if kind in _STUDY_KIND[said]:
        return (Segment("Bottom line: the study and the probes agree."),)
    return (Segment("Bottom line: follow the study, which retrains a head per readout; the "
                    "probes differ because they measure this model's states, shaped by the "
                    "readout its own head was trained on."),)
