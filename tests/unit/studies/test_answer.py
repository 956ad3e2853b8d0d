"""The readout study's answer sentences, from hand-built studies (no training): the numbers
they state are recomputed here, and nothing is claimed the study did not show."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from probe_rnn.report.readouts import render_readout_page
from probe_rnn.studies import study_answer
from probe_rnn.studies.answer import diff_text, interval, pct, score_text
from tests.unit.studies.study_support import TIED, hand_study, objective_study


def test_answer_reports_noise_and_the_naive_cost() -> None:
    study = hand_study(TIED)
    text = " ".join(study_answer(study))
    assert study.best == "hidden"
    assert "Best mean test accuracy by point estimate: hidden" in text
    mdd = study.pair("hidden", "last")["mdd"] * 100
    assert (f"Not measurably worse than hidden (paired test, Holm-corrected over the 3 readouts "
            f"compared with it): last (a true difference below {mdd:.1f} points would usually "
            "be missed)") in text
    assert "Measurably worse than hidden (paired test, Holm-corrected over the 3 readouts" in text
    assert "no difference was measured" in text and "not a proof that they are equal" in text
    assert ("Never read output[:, -1] after unpacking a packed batch: for every row "
            "shorter than its batch it holds zeros; on these packed batches it cost 31.3 "
            "points.") in text
    assert "62.0% of the diagnosed rows" in text
    assert "Caveat" not in text  # every run's best epoch came before its last
    # naive-last - last per seed: -.30 -.29 -.34 -> -31.0 points
    assert "naive-last − last = -31.0 points" in text
    assert ("models trained with hidden: output@last 0.50, output@-1 0.51, h_n/L1/fwd 0.52, "
            "h_n/L1/bwd 0.53.") in text


def test_answer_prefers_the_measurably_better_state() -> None:
    study = hand_study({"last": [0.70, 0.71, 0.69], "hidden": [0.90, 0.91, 0.90]},
                   bidirectional=True)
    text = " ".join(study_answer(study))
    assert "feed the hidden state h_n" in text and "better than output@last" in text
    assert "backward half" in text  # the bidirectional mechanism is named
    assert "Never read" not in text  # naive-last was not measured: no claim about it


def test_padded_answer_warns_about_h_n() -> None:
    study = hand_study({"last": [0.95, 0.97], "hidden": [0.5, 0.52]}, packed=False)
    text = " ".join(study_answer(study))
    assert "h_n is taken after the padding steps" in text
    assert "Pack the batches" in text


def test_identical_readouts_are_called_identical_not_within_noise() -> None:
    study = hand_study({"last": [0.8, 0.82, 0.81], "hidden": [0.8, 0.82, 0.81]},
                   bidirectional=False)
    row = study.pair("hidden", "last")
    assert row["verdict"] == "identical on every seed" and row["p_value"] == 1.0
    assert list(study.summary["vs_best"]) == ["best by point estimate", "identical to best"]
    text = " ".join(study_answer(study))
    assert "identical on every seed" in text and "Identical to last on every seed" in text
    assert "identical readouts" in text and "within noise" not in text


def test_runs_still_improving_at_their_last_epoch_are_flagged() -> None:
    study = hand_study(TIED, best_epoch=2)  # seed 0 of every readout peaked at its last epoch
    late = study.still_improving()
    assert len(late) == 4 and set(late["seed"]) == {0}
    text = " ".join(study_answer(study))
    assert ("Caveat: 4 of 12 runs had their best dev score at their last epoch (budget 2 "
            "epochs)") in text
    html = render_readout_page(study)
    assert "4 of 12 runs had their best dev score at their last epoch" in html


def _paired_t(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """Mean paired difference and its plain 95% t-interval, written out with scipy."""
    d = np.subtract(a, b)
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return d.mean(), d.mean() - half, d.mean() + half


def _points(mean: float, low: float, high: float, unit: str = "points") -> str:
    return f"{mean * 100:+.1f} {unit}, 95% CI {low * 100:+.1f} to {high * 100:+.1f}"


def test_numbers_are_written_as_percentages_and_points() -> None:
    assert pct(0.91333) == "91.3%" and pct(0.5, 0) == "50%" and pct(math.nan) == "–"
    assert interval(0.9, 0.925) == "95% CI 90.0% to 92.5%"
    assert interval(math.nan, 0.9) == "no interval (one seed)"
    classify = hand_study({"last": [0.8, 0.82], "hidden": [0.81, 0.8]})
    siamese = objective_study("siamese", {("mse", "last"): [0.8, 0.82],
                                           ("mse", "hidden"): [0.81, 0.8]}, epochs=3)
    assert score_text(classify, 0.8125) == "81.2%" and score_text(siamese, 0.8125) == "0.812"
    assert score_text(siamese, math.nan) == "–"
    row = {"mean_diff": -0.0345, "ci_low": -0.05, "ci_high": -0.019}
    assert diff_text(classify, row) == "-3.5 points, 95% CI -5.0 to -1.9"
    assert diff_text(siamese, row) == "-3.5 AUC points (0.01 AUC), 95% CI -5.0 to -1.9"
    assert diff_text(classify, {**row, "ci_low": math.nan}) == "-3.5 points"


def test_the_output_versus_hidden_sentence_states_the_paired_difference() -> None:
    study = hand_study(TIED)
    mean, low, high = _paired_t(TIED["hidden"], TIED["last"])
    text = " ".join(study_answer(study))
    assert ("Output versus hidden state: hidden (h_n) − last (output at the last valid step) = "
            f"{_points(mean, low, high)}: ") in text


def test_one_comparison_with_the_best_is_not_called_holm_corrected() -> None:
    study = hand_study({"last": [0.70, 0.71, 0.69], "hidden": [0.90, 0.91, 0.90]},
                       bidirectional=False)
    text = " ".join(study_answer(study))
    assert ("Measurably worse than hidden (paired test; the only readout compared with it): "
            "last.") in text
    assert "Holm" not in text and "unidirectional" in text and "Caveat" not in text


def test_siamese_sentences_per_loss_and_the_loss_comparison() -> None:
    scores = {("mse", "last"): [0.80, 0.82, 0.79, 0.81, 0.80],
              ("mse", "hidden"): [0.81, 0.79, 0.83, 0.78, 0.82],
              ("contrastive", "last"): [0.88, 0.90, 0.87, 0.89, 0.91],
              ("contrastive", "hidden"): [0.70, 0.72, 0.69, 0.71, 0.73]}
    study = objective_study("siamese", scores, epochs=3)
    sentences = study_answer(study)
    text = " ".join(sentences)
    contrastive = _paired_t(scores[("contrastive", "hidden")], scores[("contrastive", "last")])
    assert ("Output versus hidden state with the contrastive loss: hidden − last = "
            f"{_points(*contrastive, unit='AUC points (0.01 AUC)')}: ") in text
    loss_last = _paired_t(scores[("mse", "last")], scores[("contrastive", "last")])
    assert ("Loss with the last readout: mse − contrastive = "
            f"{_points(*loss_last, unit='AUC points (0.01 AUC)')}: ") in text
    best_mse = "hidden" if np.mean(scores[("mse", "hidden")]) > np.mean(
        scores[("mse", "last")]) else "last"
    assert text.count("Best held-out pair ROC AUC") == 2
    assert f"Best held-out pair ROC AUC with the mse loss by point estimate: {best_mse}" in text
    assert sentences[-1].startswith("Answer (score pairs with which readout?): with the mse "
                                    f"loss, {best_mse} is best by point estimate but ")
    assert sentences[-1].endswith("with the contrastive loss, read last: it is measurably "
                                  "better than every other readout (Holm-corrected).")


def test_an_autoencoder_no_better_than_zeros_is_said_to_be_no_help() -> None:
    scores = {("cross-entropy", "last"): [0.42, 0.44, 0.41, 0.44, 0.42],
              ("cross-entropy", "hidden"): [0.42, 0.41, 0.44, 0.40, 0.43],
              ("cross-entropy", "zero"): [0.43, 0.40, 0.42, 0.41, 0.44]}
    study = objective_study("autoencode", scores, epochs=3)
    sentences = study_answer(study)
    assert study.best_for("cross-entropy") == "last"  # the highest mean, 0.426
    mean, low, high = _paired_t(scores[("cross-entropy", "last")],
                                scores[("cross-entropy", "zero")])
    assert f"last − zero = {_points(mean, low, high)}: within noise" in " ".join(sentences)
    assert sentences[-1].startswith("Answer (start the decoder from which readout?): the "
                                    "decoder started from zeros is within noise of the best")
