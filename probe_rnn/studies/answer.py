"""Plain-language answer of a readout study, written only from its own numbers.

Each sentence states a measured number or a verdict of the paired comparison; nothing is
claimed that the study did not show (a difference inside its 95% interval is called noise,
however large the means look).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from probe_rnn.studies.study import ReadoutStudy

__all__ = ["study_answer", "answer_sentences", "objective_sentences", "pct", "interval"]


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
    return [r for r, v in zip(study.summary["readout"], study.summary["vs_best"], strict=True)
            if v in ("best", "within noise of best")]


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
    out.append(f"Best mean test accuracy: {best} — {_acc(study, best)}, over "
               f"{len(study.settings.get('seeds', []))} seeds.")
    tied = [r for r in _within_best(study) if r != best]
    worse = [r for r in study.summary["readout"] if r not in tied and r != best]
    if tied:
        out.append(f"Within noise of it (paired 95% interval contains 0): {', '.join(tied)}.")
    if worse:
        out.append(f"Measurably worse than {best}: {', '.join(worse)}.")
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
    out.append(_recommendation(study))
    return out


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
    naive_bad = "naive-last" in names and "naive-last" not in good
    tail = (" Never read output[:, -1] of a padded batch: here it cost "
            f"{-study.pair('naive-last', study.best)['mean_diff'] * 100:.1f} points."
            if naive_bad else "")
    if not study.settings.get("packed", True) and "hidden" in names:
        tail += " Pack the batches (or index the last valid step) before trusting h_n."
    if "hidden" in good and "last" in good:
        return ("Answer: on this data and architecture it does not matter measurably whether "
                "the classifier reads the output at the last valid step or the hidden state h_n; "
                "h_n is the safer default because it is right by construction on packed "
                "batches." + tail)
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
        out.append(f"Best {obj.metric_label}{where}: {best} — {_score_ci(study, loss, best)}, "
                   f"over {seeds} seeds.")
        tied = [r for r, v in zip(summary["readout"], summary["vs_best"], strict=True)
                if v == "within noise of best"]
        if tied:
            out.append(f"Within noise of it (paired 95% interval contains 0): {', '.join(tied)}.")
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
    out.append(_objective_recommendation(study))
    return out


def _objective_recommendation(study: ReadoutStudy) -> str:
    """The last sentence: which readout to use in this setting, per loss."""
    parts = []
    for loss in study.losses:
        summary = study.summary_for(loss)
        best = study.best_for(loss)
        good = [r for r, v in zip(summary["readout"], summary["vs_best"], strict=True)
                if v in ("best", "within noise of best")]
        where = f"with the {loss} loss, " if study.objective.name == "siamese" else ""
        if study.objective.name == "autoencode" and "zero" in good:
            parts.append("the decoder started from zeros is within noise of the best, so no "
                         "readout measurably helps it here (it reconstructs from its own "
                         "language model): train longer or on more data before choosing")
        elif len(good) > 1:
            parts.append(f"{where}{best} is best but {', '.join(r for r in good if r != best)} "
                         "cannot be told apart from it with these seeds")
        else:
            parts.append(f"{where}read {best}: it is measurably better than every other readout")
    target = ("start the decoder from" if study.objective.name == "autoencode"
              else "score pairs with")
    return f"Answer ({target} which readout?): " + "; ".join(parts) + "."
