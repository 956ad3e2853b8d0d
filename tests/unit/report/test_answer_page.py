"""The answer page's sentences (``probe_rnn.report.answer_page.answer_sentences``): one per
setting and loss, built from the answer's table: the winner and its score (a percentage or a
plain number), the margin over the runner-up and hidden − last in points with their intervals
where there are some, each with its verdict."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from probe_rnn.report.answer_page import answer_sentences

NAN = float("nan")


@dataclass
class _Answer:
    """What the page reads from a QuestionAnswer: its table."""

    rows: list[dict]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def test_one_sentence_per_setting_with_margins_and_verdicts() -> None:
    rows = [
        {"objective": "classifier", "setting": "text classifier", "loss": "ce",
         "metric": "accuracy", "winner": "hidden", "mean": 0.85, "percent": True,
         "runner_up": "last", "margin": 0.02, "margin_low": 0.005, "margin_high": 0.035,
         "margin_verdict": "measurably ahead", "hidden_minus_last": 0.02, "hl_low": 0.005,
         "hl_high": 0.035, "hl_verdict": "hidden better"},
        {"objective": "siamese", "setting": "siamese similarity", "loss": "mse",
         "metric": "pair ROC AUC", "winner": "last", "mean": 0.7123, "percent": False,
         "runner_up": "mean", "margin": 0.01, "margin_low": NAN, "margin_high": NAN,
         "margin_verdict": "too close to call", "hidden_minus_last": NAN, "hl_low": NAN,
         "hl_high": NAN, "hl_verdict": NAN},
    ]
    first, second = answer_sentences(_Answer(rows))
    assert first == ("Text classifier: hidden is best by point estimate with accuracy 85.0%, "
                     "ahead of last by +2.0 (+0.5 to +3.5) points (measurably ahead); "
                     "hidden − last = +2.0 (+0.5 to +3.5) points (hidden better).")
    assert second == ("Siamese similarity (mse loss): last is best by point estimate with "
                      "pair ROC AUC 0.712, ahead of mean by +1.0 points (too close to call).")


def test_a_single_readout_has_no_runner_up() -> None:
    row = {"objective": "encoder", "setting": "encoder-decoder", "loss": "ce",
           "metric": "accuracy", "winner": "h_n", "mean": NAN, "percent": True,
           "runner_up": None, "hl_verdict": None}
    assert answer_sentences(_Answer([row])) == [
        "Encoder-decoder: h_n is best by point estimate with accuracy –."]
