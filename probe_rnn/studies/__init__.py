"""Studies: experiments that train several models and compare them with honest statistics.

``compare_readouts`` answers "should the classifier read the output or the hidden state?" for a
given dataset and architecture: same split, same budget, several seeds per readout, paired
comparisons with Student-t intervals, and the probing headline per trained model — in each of
the question's settings (``objective="classify"``, ``"autoencode"``, ``"siamese"``).
``answer_question`` runs all of them and draws the answer table.
"""

from __future__ import annotations

from probe_rnn.lazy_exports import lazy_exports

#: Each public name and the module that defines it, imported on first access: reading a saved
#: study (the report does) does not import the training code, torch with it.
_EXPORTS = {
    "READOUTS": "probe_rnn.catalogue",
    "study_answer": "answer",
    "DEFAULT_EPOCHS": "objectives", "OBJECTIVES": "objectives", "READOUT_LABELS": "objectives",
    "parse_losses": "objectives", "parse_readouts": "objectives",
    "QuestionAnswer": "question", "answer_question": "question",
    "parse_objectives": "question",
    "compare_readouts": "readouts",
    "pair_verdict": "stats", "paired_differences": "stats", "summarize_runs": "stats",
    "ReadoutStudy": "study",
}

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
