"""The question in all its settings: one readout study per objective, one answer table.

:func:`answer_question` runs :func:`~probe_rnn.studies.compare_readouts` for each objective
(classifier, encoder–decoder, siamese) on the same data, split and architecture, and returns a
:class:`QuestionAnswer`. Its :meth:`~QuestionAnswer.table` says, per setting and loss, which
readout wins, by how much over the runner-up (paired across seeds) and how sure that is, and how
hidden compares with last; :meth:`~QuestionAnswer.anecdote` checks the asker's report from
``origin/question.txt`` ("output ~98 with the classifier, hidden not as good; siamese: MSE and
output great, contrastive and output very bad, hidden bad with both") against the measured
paired differences, each claim marked *agrees*, *contradicts* or *not shown* (its 95% interval
contains 0).

The asker's "output" is ``output[-1]`` (:data:`ASKER_OUTPUT`): with PyTorch's default
``batch_first=False`` that is the last *position* of the batch, ``output[:, -1]`` batch-major.
On a padded batch that is the ``naive-last`` readout (padding for every row shorter than its
batch); it is the ``last`` readout only where no row is padded (batch size 1, or rows of one
length). The post does not say which, so every claim about "output" is checked under both
readings, each row naming the readout it maps to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from probe_rnn.errors import ParameterError
from probe_rnn.probing.verdict_wording import (
    IDENTICAL,
    IDENTICAL_TO_BEST,
    WITHIN_NOISE_OF_BEST,
    WORSE_THAN_BEST,
)
from probe_rnn.studies.objectives import OBJECTIVES, names_of
from probe_rnn.studies.readouts import compare_readouts
from probe_rnn.studies.stats import paired
from probe_rnn.studies.study import ReadoutStudy
from probe_rnn.validation import shown

#: The asker's claims, each as (setting, claim, a, b): "a beats b", a/b = (loss or None,
#: readout); the readout ``output`` is the asker's ``output[-1]`` (see :data:`ASKER_OUTPUT`).
ANECDOTE: list[tuple[str, str, tuple[str | None, str], tuple[str | None, str]]] = [
    ("classify", "classifier: the output (~98% accuracy) beats the hidden state",
     (None, "output"), (None, "hidden")),
    ("siamese", "siamese, MSE: output (great) beats hidden (bad)",
     ("mse", "output"), ("mse", "hidden")),
    ("siamese", "siamese, output: MSE (great) beats contrastive (very bad)",
     ("mse", "output"), ("contrastive", "output")),
    ("siamese", "siamese: MSE + output (great) beats contrastive + hidden (bad)",
     ("mse", "output"), ("contrastive", "hidden")),
]

#: The asker's ``output[-1]`` (time-major ``output``, i.e. ``output[:, -1]`` batch-major) ->
#: (readout, when that is what it reads).
ASKER_OUTPUT: tuple[tuple[str, str], ...] = (
    ("naive-last", "output[-1] of a padded batch: padding for rows shorter than the batch"),
    ("last", "output[-1] where no row is padded (batch size 1, or rows of one length)"),
)


def _readings(side: tuple[str | None, str], readout: str) -> tuple[str | None, str]:
    return (side[0], readout) if side[1] == "output" else side


def _claims() -> list[tuple[str, str, str, tuple[str | None, str], tuple[str | None, str]]]:
    """Every claim under each reading of the asker's ``output[-1]``: (setting, claim,
    reading, a, b)."""
    return [(setting, claim, why, _readings(a, readout), _readings(b, readout))
            for setting, claim, a, b in ANECDOTE for readout, why in ASKER_OUTPUT]


def parse_objectives(value: Sequence[str]) -> tuple[str, ...]:
    """Objective names from a list (``["classify", "siamese"]``, or ``["all"]``); a string is
    refused with the list to pass instead."""
    if not isinstance(value, str) and list(value) == ["all"]:
        return tuple(OBJECTIVES)
    return names_of("objectives", "objective", value, tuple(OBJECTIVES), note=" (or all alone)")


def _verdict(row: pd.Series) -> str:
    if row is None or row["ci_low"] != row["ci_low"]:
        return "too few seeds to tell"
    if row["verdict"] == IDENTICAL:
        return "not shown (identical on every seed)"
    if row["ci_low"] > 0:
        return "agrees"
    if row["ci_high"] < 0:
        return "contradicts"
    return "not shown (within noise)"


def margin_verdict(runner_up_vs_best: str, uncorrected: str) -> str:
    """How sure the winner's lead is, from the runner-up's Holm-corrected verdict against the
    best (the winner was picked from the same numbers), else the pair's own verdict."""
    text = runner_up_vs_best
    if text.startswith(WORSE_THAN_BEST):
        holm_p = text[text.index("(Holm") + 1:-1] if "(Holm" in text else ""
        return ", ".join(x for x in ("measurably ahead", holm_p) if x)
    if text.startswith(WITHIN_NOISE_OF_BEST):
        rest = text[len(WITHIN_NOISE_OF_BEST):].strip(" ()")
        return "; ".join(x for x in ("not measurably ahead", rest) if x)
    if text == IDENTICAL_TO_BEST:
        return IDENTICAL
    return uncorrected


@dataclass
class QuestionAnswer:
    """One :class:`ReadoutStudy` per objective, and the answer drawn from all of them."""

    studies: dict[str, ReadoutStudy]
    settings: dict[str, Any] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Per (objective, loss): winner, its score and interval, the runner-up, the paired
        difference winner − runner-up, hidden − last, and their verdicts."""
        rows = []
        for name, study in self.studies.items():
            for loss in study.losses:
                summary = study.summary_for(loss).sort_values("mean", ascending=False,
                                                              kind="stable")
                best = summary.iloc[0]
                row: dict[str, Any] = {
                    "objective": name, "setting": study.objective.setting, "loss": loss,
                    "metric": study.objective.metric_label, "winner": best["readout"],
                    "mean": best["mean"], "ci_low": best["ci_low"], "ci_high": best["ci_high"],
                    "percent": study.objective.percent,
                }
                if len(summary) > 1:
                    second = summary.iloc[1]
                    pair = study.pair(best["readout"], second["readout"], loss)
                    row.update(runner_up=second["readout"], margin=pair["mean_diff"],
                               margin_low=pair["ci_low"], margin_high=pair["ci_high"],
                               margin_verdict=margin_verdict(str(second.get("vs_best", "")),
                                                             pair["verdict"]))
                names = set(summary["readout"])
                if {"hidden", "last"} <= names:
                    pair = study.pair("hidden", "last", loss)
                    row.update(hidden_minus_last=pair["mean_diff"], hl_low=pair["ci_low"],
                               hl_high=pair["ci_high"], hl_verdict=pair["verdict"])
                rows.append(row)
        return pd.DataFrame(rows)

    def anecdote(self) -> pd.DataFrame:
        """The asker's claims against the measured paired differences, each under both
        readings of the asker's ``output[-1]`` (column ``output[-1] read as``; module doc)."""
        rows = []
        for setting, claim, reading, a, b in _claims():
            study = self.studies.get(setting)
            row = paired(study, a, b) if study is not None else None
            rows.append({
                "setting": setting, "claim": claim, "output[-1] read as": reading,
                "a": " + ".join(x for x in a if x), "b": " + ".join(x for x in b if x),
                "mean_diff": None if row is None else row["mean_diff"],
                "ci_low": None if row is None else row["ci_low"],
                "ci_high": None if row is None else row["ci_high"],
                "n_pairs": 0 if row is None else int(row["n_pairs"]),
                "verdict": "not measured (setting or readout not run)" if row is None
                else _verdict(row),
                "percent": study.objective.percent if study is not None else True,
            })
        return pd.DataFrame(rows)

    def save(self, out_dir: str | Path) -> Path:
        """Each study into ``out_dir/<objective>/`` and both answer tables as csv."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name, study in self.studies.items():
            study.save(out / name)
        self.table().to_csv(out / "answer.csv", index=False)
        self.anecdote().to_csv(out / "anecdote.csv", index=False)
        return out

    @classmethod
    def load(cls, out_dir: str | Path) -> QuestionAnswer:
        """Read the studies written by :meth:`save` back."""
        out = Path(out_dir)
        return cls({name: ReadoutStudy.load(out / name) for name in OBJECTIVES
                    if (out / name / "study.json").exists()})


def answer_question(
    df: pd.DataFrame, *, objectives: Sequence[str] = tuple(OBJECTIVES),
    progress: Callable[[str, int, int, str], None] | None = None, **study_kwargs: Any,
) -> QuestionAnswer:
    """Run the readout study for each objective (same data, seed and architecture).

    ``study_kwargs`` go to :func:`compare_readouts` (``architecture``, ``budget``, ``seeds``,
    ...; ``losses`` only to siamese; ``readouts``, and a budget's ``epochs`` left None,
    default per objective); ``progress(objective, done, total, what)``.
    """
    names = parse_objectives(objectives)
    losses = study_kwargs.pop("losses", None)
    if losses is not None and "siamese" not in names:
        raise ParameterError("losses", "None unless the objectives include siamese",
                             shown(losses), "add siamese to the objectives or drop the losses")
    studies = {}
    for name in names:
        report = None
        if progress is not None:
            def report(done: int, total: int, what: str, name: str = name) -> None:
                progress(name, done, total, what)
        extra = {"losses": losses} if name == "siamese" else {}
        studies[name] = compare_readouts(df, objective=name, progress=report, **extra,
                                         **study_kwargs)
    return QuestionAnswer(studies)
