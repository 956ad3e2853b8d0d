"""Studies: experiments that train several models and compare them with honest statistics.

``compare_readouts`` answers "should the classifier read the output or the hidden state?" for a
given dataset and architecture: same split, same budget, several seeds per readout, paired
comparisons with Student-t intervals, and the probing headline per trained model — in each of
the question's settings (``objective="classify"``, ``"autoencode"``, ``"siamese"``).
``answer_question`` runs all of them and draws the answer table.
"""

from __future__ import annotations

from probe_rnn.catalogue import READOUTS
from probe_rnn.studies.answer import study_answer
from probe_rnn.studies.objectives import (
    DEFAULT_EPOCHS,
    OBJECTIVES,
    READOUT_LABELS,
    parse_losses,
    parse_readouts,
)
from probe_rnn.studies.question import QuestionAnswer, answer_question, parse_objectives
from probe_rnn.studies.readouts import compare_readouts
from probe_rnn.studies.stats import pair_verdict, paired_differences, summarize_runs
from probe_rnn.studies.study import ReadoutStudy

__all__ = [
    "DEFAULT_EPOCHS",
    "OBJECTIVES",
    "QuestionAnswer",
    "answer_question",
    "parse_losses",
    "parse_objectives",
    "READOUTS",
    "READOUT_LABELS",
    "ReadoutStudy",
    "compare_readouts",
    "pair_verdict",
    "paired_differences",
    "parse_readouts",
    "summarize_runs",
    "study_answer",
]
