"""Plain-language answer of a readout study, written only from its own numbers.

Each sentence states a measured number or a verdict of the paired comparison; nothing is
claimed that the study did not show (a difference inside its 95% interval is called noise,
however large the means look, and carries the minimum detectable difference so that it never
reads as equivalence). The best readout is "best by point estimate"; "measurably worse" than it
is Holm-corrected over the readouts compared with it. Readouts that scored the same on every
seed are called identical. What ``output[:, -1]`` cost is worded by how the batches were run
(packed: zeros for short rows; padded: the state after the pad tokens). Runs still improving at
their last epoch are counted and the comparison caveated.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from probe_rnn.probing.verdict_wording import (
    IDENTICAL,
    IDENTICAL_TO_BEST,
    WITHIN_NOISE_OF_BEST,
    WORSE_THAN_BEST,
)

if TYPE_CHECKING:
    from probe_rnn.studies.study import ReadoutStudy

def study_answer(study: ReadoutStudy) -> list[str]:
    """Plain sentences answering "output or hidden state?" from a study's own numbers (the
    classifier's answer, or another objective's)."""
    if study.objective.name == "classify":
        return answer_sentences(study)
    return objective_sentences(study)


def pct(x: float, digits: int = 1) -> str:
    """A fraction as a percentage string (``nan`` as an en dash)."""
    return "–" if x is None or math.isnan(x) else f"{x * 100:.{digits}f}%"


def interval(low: float, high: float) -> str:
    """A 95% interval of fractions as text."""
    if math.isnan(low) or math.isnan(high):
        return "no interval (one seed)"
    return f"95% CI {pct(low)} to {pct(high)}"


def _acc(study: ReadoutStudy, readout: str) -> str:
    row = study.summary[study.summary["readout"] == readout].iloc[0]
    return f"{pct(row['mean'])} ({interval(row['ci_low'], row['ci_high'])})"


def _points(row: Any) -> str:
    """Signed paired difference in accuracy points with its interval."""
    if math.isnan(row["ci_low"]):
        return f"{row['mean_diff'] * 100:+.1f} points"
    return (f"{row['mean_diff'] * 100:+.1f} points, 95% CI {row['ci_low'] * 100:+.1f} to "
            f"{row['ci_high'] * 100:+.1f}")


def _within_best(study: ReadoutStudy) -> list[str]:
    from probe_rnn.studies.stats import ties_best

    return [r for r, v in zip(study.summary["readout"], study.summary["vs_best"], strict=True)
            if ties_best(v)]


def _verdicts(study: ReadoutStudy, loss: str | None = None) -> dict[str, str]:
    part = study.summary_for(loss)
    return dict(zip(part["readout"], part["vs_best"].astype(str), strict=True))


def tie_sentences(study: ReadoutStudy, loss: str | None = None) -> list[str]:
    """Who is identical to the best, and who is within noise of it (with the minimum
    detectable difference of each comparison, so that it does not read as equivalence)."""
    verdicts, best = _verdicts(study, loss), study.best_for(loss)
    same = [r for r, v in verdicts.items() if v == IDENTICAL_TO_BEST]
    noise = [r for r, v in verdicts.items() if v.startswith(WITHIN_NOISE_OF_BEST)]
    out = []
    if same:
        out.append(f"Identical to {best} on every seed (the same scores, run by run): "
                   f"{', '.join(same)}.")
    if noise:
        mdd = [_mdd(study.pair(best, r, loss)) for r in noise]
        parts = [r if math.isnan(m) else f"{r} (a true difference below {m * 100:.1f} points "
                 "would usually be missed)" for r, m in zip(noise, mdd, strict=True)]
        out.append(f"Not measurably worse than {best} ({_family(len(verdicts) - 1)}): "
                   f"{', '.join(parts)}. Not measurably different is not the same as equal.")
    return out


def _mdd(row: Any) -> float:
    """A pair's minimum detectable difference (NaN when absent, e.g. a study saved before)."""
    value = math.nan if row is None else row.get("mdd", math.nan)
    return float(value) if value is not None else math.nan


def _family(m: int) -> str:
    """How the comparisons with the best were tested, for ``m`` of them."""
    if m == 1:
        return "paired test; the only readout compared with it"
    return f"paired test, Holm-corrected over the {m} readouts compared with it"


def budget_sentence(study: ReadoutStudy) -> str:
    """A caveat when runs were still improving at their last epoch (best epoch = last)."""
    late = study.still_improving()
    if late.empty:
        return ""
    total = len(study.runs)
    return (f"Caveat: {len(late)} of {total} runs had their best dev score at their last epoch "
            f"(budget {study.settings.get('epochs')} epochs), so they were still improving when "
            "training stopped: the comparison is between budget-limited runs, and a readout "
            "that learns more slowly is penalised. Raise --epochs before trusting a gap.")


def _mechanism_last_hidden(study: ReadoutStudy) -> str:
    s = study.settings
    fwd = study.diagnosis_value("max |output@last - h_n top fwd|")
    if not s.get("packed", True):
        return ("These batches are padded, not packed, so h_n is taken after the padding steps: "
                "for short rows its forward half is output[:, -1], not the row's last valid state"
                + (f" (max |output@last − h_n fwd| {fwd:.3g} in the diagnosed model)."
                   if fwd is not None else "."))
    same = ("their forward halves are the same vector" + (
        f" (max |difference| {fwd:.2g} in the diagnosed model)" if fwd is not None else ""))
    if s.get("bidirectional"):
        return (f"In this bidirectional model {same}; they differ in the backward half, which in "
                "output@last has read only the last token and in h_n the whole sentence.")
    return f"In this unidirectional model {same}, so a gap can only come from training noise."


def answer_sentences(study: ReadoutStudy) -> list[str]:
    """Sentences (plain text, to be escaped by the page) answering the readout question."""
    out: list[str] = []
    best = study.best
    out.append(f"Best mean test accuracy by point estimate: {best} — {_acc(study, best)}, over "
               f"{len(study.settings.get('seeds', []))} seeds{_split_note(study)}.")
    out += tie_sentences(study)
    worse = [r for r, v in _verdicts(study).items() if v.startswith(WORSE_THAN_BEST)]
    if worse:
        out.append(f"Measurably worse than {best} ({_family(len(study.summary) - 1)}): "
                   f"{', '.join(worse)}.")
    names = set(study.summary["readout"])
    if {"last", "hidden"} <= names:
        row = study.pair("hidden", "last")
        out.append(f"Output versus hidden state: hidden (h_n) − last (output at the last valid "
                   f"step) = {_points(row)}: {row['verdict']}. {_mechanism_last_hidden(study)}")
    if {"last", "naive-last"} <= names:
        row = study.pair("naive-last", "last")
        naive = study.diagnosis_value("share output@-1 != output@last")
        share = (f" output[:, -1] differs from the row's last valid output for "
                 f"{pct(naive)} of the diagnosed rows (they are padded in their batch)."
                 if naive is not None else "")
        out.append(f"naive-last − last = {_points(row)}: {row['verdict']}.{share}")
    probing = _probing_sentence(study)
    if probing:
        out.append(probing)
    out += [x for x in (budget_sentence(study), _recommendation(study)) if x]
    return out


def _split_note(study: ReadoutStudy) -> str:
    if study.settings.get("split_per_seed"):
        return ("; each seed trained and tested on its own split, so the intervals include "
                "the test set's sampling error")
    if "split_per_seed" in study.settings:
        return ("; every seed used the table's own split, so the intervals cover "
                "initialisation only, not the test set's sampling error")
    return ""


def _naive_cost(study: ReadoutStudy) -> str:
    """What reading ``output[:, -1]`` cost, named by how the batches were run."""
    cost = -study.pair("naive-last", study.best)["mean_diff"] * 100
    if study.settings.get("packed", True):
        return (" Never read output[:, -1] after unpacking a packed batch: for every "
                "row shorter than its batch it holds zeros; on these packed batches it cost "
                f"{cost:.1f} points.")
    return (" Never read output[:, -1] of a padded batch: for every row shorter than its batch "
            "it is the state after reading pad tokens; on these padded (not packed) batches it "
            f"cost {cost:.1f} points.")


def _probing_sentence(study: ReadoutStudy) -> str:
    """Label bits per view in the models trained with the best readout."""
    head = study.probing_headline()
    if head.empty or study.best not in head.index:
        return ""
    row = head.loc[study.best]
    entropy = study.probing.loc[study.probing["metric"] == "entropy_bits", "value"]
    parts = ", ".join(f"{view} {bits:.2f}" for view, bits in row.items())
    of = f" of H(label) = {entropy.mean():.2f}" if len(entropy) else ""
    return (f"Label information (bits{of}, logistic probe) in the states of the models trained "
            f"with {study.best}: {parts}.")


def _recommendation(study: ReadoutStudy) -> str:
    good = _within_best(study)
    names = list(study.summary["readout"])
    naive_bad = _verdicts(study).get("naive-last", "").startswith(WORSE_THAN_BEST)
    tail = _naive_cost(study) if naive_bad else ""
    if not study.settings.get("packed", True) and "hidden" in names:
        tail += " Pack the batches (or index the last valid step) before trusting h_n."
    if "hidden" in good and "last" in good:
        row = study.pair("hidden", "last")
        if row is not None and row["verdict"] == IDENTICAL:
            return ("Answer: here the output at the last valid step and the hidden state h_n are "
                    "identical readouts (every seed scored the same with both): use either."
                    + tail)
        mdd = _mdd(row) * 100
        miss = ("" if math.isnan(mdd) else f" (a true difference below {mdd:.1f} points would "
                "usually be missed with these seeds, so this is not a proof that they are equal)")
        return ("Answer: on this data and architecture no difference was measured between the "
                "output at the last valid step and the hidden state h_n" + miss + "; h_n is "
                "the safer default because it is right by construction on packed batches."
                + tail)
    if "hidden" in good:
        return ("Answer: feed the hidden state h_n; it is as good as the best readout here"
                + (" and better than output@last." if "last" in names else ".") + tail)
    if "last" in good:
        return ("Answer: feed the output at each row's last valid step; it is as good as the "
                "best readout here" + (" and better than h_n." if "hidden" in names else ".")
                + tail)
    return (f"Answer: neither plain output nor h_n is the best here; {study.best} is measurably "
            f"better, so pooling over the sequence pays off for this data." + tail
            if {"last", "hidden"} & set(names) else
            f"Answer: {study.best} is the best of the readouts compared." + tail)


def score_text(study: ReadoutStudy, x: float) -> str:
    """A score of the study's metric: a percentage, or a 0–1 number for an AUC."""
    if x is None or math.isnan(x):
        return "–"
    return pct(x) if study.objective.percent else f"{x:.3f}"


def diff_text(study: ReadoutStudy, row: Any) -> str:
    """A paired difference ``a − b`` with its interval, in points (a percentage point, or
    0.01 of an AUC)."""
    unit = "points" if study.objective.percent else "AUC points (0.01 AUC)"
    if math.isnan(row["ci_low"]):
        return f"{row['mean_diff'] * 100:+.1f} {unit}"
    return (f"{row['mean_diff'] * 100:+.1f} {unit}, 95% CI {row['ci_low'] * 100:+.1f} to "
            f"{row['ci_high'] * 100:+.1f}")


def _score_ci(study: ReadoutStudy, loss: str | None, readout: str) -> str:
    row = study.summary_for(loss).set_index("readout").loc[readout]
    if math.isnan(row["ci_low"]):
        return f"{score_text(study, row['mean'])} (no interval: one seed)"
    return (f"{score_text(study, row['mean'])} (95% CI {score_text(study, row['ci_low'])} to "
            f"{score_text(study, row['ci_high'])})")


def loss_pair(study: ReadoutStudy, readout: str) -> Any:
    """Paired difference of the first loss minus the second for one readout (same seeds)."""
    from probe_rnn.studies.stats import paired

    losses = study.losses
    if len(losses) < 2 or readout not in set(study.runs["readout"]):
        return None
    return paired(study, (losses[0], readout), (losses[1], readout))


def objective_sentences(study: ReadoutStudy) -> list[str]:
    """Sentences answering "output or hidden?" for an autoencode or siamese study."""
    obj = study.objective
    seeds = len(study.settings.get("seeds", []))
    out: list[str] = []
    for loss in study.losses:
        summary = study.summary_for(loss)
        best = study.best_for(loss)
        where = f" with the {loss} loss" if obj.name == "siamese" else ""
        out.append(f"Best {obj.metric_label}{where} by point estimate: {best} — "
                   f"{_score_ci(study, loss, best)}, over {seeds} seeds{_split_note(study)}.")
        out += tie_sentences(study, loss)
        names = set(summary["readout"])
        if {"last", "hidden"} <= names:
            row = study.pair("hidden", "last", loss)
            out.append(f"Output versus hidden state{where}: hidden − last = "
                       f"{diff_text(study, row)}: {row['verdict']}.")
        if "zero" in names and best != "zero":
            row = study.pair(best, "zero", loss)
            out.append(f"Against the decoder started from zeros (no readout, "
                       f"{_score_ci(study, loss, 'zero')}): {best} − zero = "
                       f"{diff_text(study, row)}: {row['verdict']}.")
    for readout in ("last", "hidden"):
        row = loss_pair(study, readout)
        if row is not None:
            a, b = study.losses[:2]
            out.append(f"Loss with the {readout} readout: {a} − {b} = {diff_text(study, row)}: "
                       f"{row['verdict']}.")
    out += [x for x in (budget_sentence(study), _objective_recommendation(study)) if x]
    return out


def _objective_recommendation(study: ReadoutStudy) -> str:
    """The last sentence: which readout to use in this setting, per loss."""
    from probe_rnn.studies.stats import ties_best

    parts = []
    for loss in study.losses:
        summary = study.summary_for(loss)
        best = study.best_for(loss)
        good = [r for r, v in zip(summary["readout"], summary["vs_best"], strict=True)
                if ties_best(v)]
        where = f"with the {loss} loss, " if study.objective.name == "siamese" else ""
        if study.objective.name == "autoencode" and "zero" in good:
            parts.append("the decoder started from zeros is within noise of the best, so no "
                         "readout measurably helps it here (it reconstructs from its own "
                         "language model): train longer or on more data before choosing")
        elif len(good) > 1:
            parts.append(f"{where}{best} is best by point estimate but "
                         f"{', '.join(r for r in good if r != best)} cannot be told apart from "
                         "it with these seeds")
        else:
            parts.append(f"{where}read {best}: it is measurably better than every other readout "
                         "(Holm-corrected)")
    target = ("start the decoder from" if study.objective.name == "autoencode"
              else "score pairs with")
    return f"Answer ({target} which readout?): " + "; ".join(parts) + "."
