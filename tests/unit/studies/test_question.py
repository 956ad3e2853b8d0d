"""The answer across settings: winners, margins and the anecdote check, from hand-built studies."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from probe_rnn.errors import ParameterError
from probe_rnn.report.answer_page import render_answer_page
from probe_rnn.studies import ReadoutStudy
from probe_rnn.studies.question import QuestionAnswer, parse_objectives
from tests.unit.studies.study_support import objective_study

SEEDS = range(5)


def _study(objective: str, scores: dict[tuple[str, str], list[float]]) -> ReadoutStudy:
    assert all(len(v) == len(SEEDS) for v in scores.values())
    return objective_study(objective, scores, seconds=1.0)


def _paired_t(a: list[float], b: list[float]) -> tuple[float, float, float]:
    d = np.subtract(a, b)
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return d.mean(), d.mean() - half, d.mean() + half


CLASSIFY = {("cross-entropy", "last"): [0.95, 0.96, 0.94, 0.95, 0.97],
            ("cross-entropy", "hidden"): [0.90, 0.91, 0.92, 0.89, 0.90]}
SIAMESE = {("mse", "last"): [0.80, 0.82, 0.79, 0.81, 0.80],
           ("mse", "hidden"): [0.81, 0.79, 0.83, 0.78, 0.82],
           ("contrastive", "last"): [0.88, 0.90, 0.87, 0.89, 0.91],
           ("contrastive", "hidden"): [0.70, 0.72, 0.69, 0.71, 0.73]}


@pytest.fixture()
def answer() -> QuestionAnswer:
    return QuestionAnswer({"classify": _study("classify", CLASSIFY),
                           "siamese": _study("siamese", SIAMESE)})


def test_the_table_names_each_winner_with_its_paired_margin(answer) -> None:
    table = answer.table().set_index(["objective", "loss"])
    row = table.loc[("classify", "cross-entropy")]
    assert row["winner"] == "last" and row["runner_up"] == "hidden"
    mean, low, high = _paired_t(CLASSIFY[("cross-entropy", "last")],
                                CLASSIFY[("cross-entropy", "hidden")])
    assert row["margin"] == pytest.approx(mean) and row["margin_low"] == pytest.approx(low)
    assert row["margin_high"] == pytest.approx(high)
    # one comparison with the best: Holm leaves scipy's paired p-value as it is
    p = stats.ttest_rel(CLASSIFY[("cross-entropy", "last")],
                        CLASSIFY[("cross-entropy", "hidden")]).pvalue
    assert row["margin_verdict"] == f"measurably ahead, Holm p = {p:.3g}"
    assert table.loc[("siamese", "contrastive"), "winner"] == "last"
    mse = table.loc[("siamese", "mse")]  # 0.804 vs 0.806: interval holds 0
    assert mse["margin_verdict"].startswith("not measurably ahead; minimum detectable difference")
    assert mse["hl_verdict"].startswith("within noise (minimum detectable difference")


def test_the_anecdote_is_checked_claim_by_claim(answer) -> None:
    table = answer.anecdote()
    # every claim under both readings of the asker's output[-1]; naive-last was not run here
    assert len(table) == 8
    naive = table[table["output[-1] read as"].str.startswith("output[-1] of a padded batch")]
    assert len(naive) == 4 and (naive["verdict"] == "not measured (setting or readout "
                                                     "not run)").all()
    claims = table[table["output[-1] read as"].str.contains("no row is padded")].set_index(
        "claim")
    assert len(claims) == 4 and (claims["n_pairs"] == 5).all()
    classifier = claims.iloc[0]
    mean, low, high = _paired_t(CLASSIFY[("cross-entropy", "last")],
                                CLASSIFY[("cross-entropy", "hidden")])
    assert classifier["verdict"] == "agrees"
    assert classifier["mean_diff"] == pytest.approx(mean)
    assert classifier["ci_low"] == pytest.approx(low)
    assert classifier["ci_high"] == pytest.approx(high)
    mse_output_vs_hidden, mse_vs_contrastive, best_vs_worst = (claims.iloc[i] for i in (1, 2, 3))
    assert mse_output_vs_hidden["verdict"] == "not shown (within noise)"
    mean, low, high = _paired_t(SIAMESE[("mse", "last")], SIAMESE[("contrastive", "last")])
    assert mse_vs_contrastive["verdict"] == "contradicts" and high < 0
    assert mse_vs_contrastive["mean_diff"] == pytest.approx(mean)
    assert best_vs_worst["verdict"] == "agrees"


def test_a_missing_setting_is_said_not_measured() -> None:
    answer = QuestionAnswer({"classify": _study("classify", CLASSIFY)})
    table = answer.anecdote()
    verdicts = table[table["output[-1] read as"].str.contains("no row is padded")][
        "verdict"].tolist()
    assert verdicts[0] == "agrees"
    assert verdicts[1:] == ["not measured (setting or readout not run)"] * 3


def test_the_page_leads_with_one_sentence_per_setting(answer) -> None:
    html = render_answer_page(answer, "<b>hostile</b> & title")
    assert "&lt;b&gt;hostile&lt;/b&gt; &amp; title" in html and "<b>hostile" not in html
    first = html.index('<ol class="findings">')
    assert html.index("Text classifier") > first
    assert "contradicts" in html and "agrees" in html
    assert 'href="classify/index.html"' in html and 'href="siamese/index.html"' in html


def test_objectives_parse() -> None:
    assert parse_objectives(["all"]) == ("classify", "autoencode", "siamese")
    assert parse_objectives(["siamese", "classify"]) == ("siamese", "classify")
    with pytest.raises(ParameterError) as caught:
        parse_objectives(["classify", "seq2seq"])
    assert caught.value.parameter == "objectives" and "'seq2seq'" in caught.value.hint
    with pytest.raises(ParameterError) as caught:
        parse_objectives(["classify", "classify"])
    assert caught.value.parameter == "objectives" and "once" in caught.value.hint
    with pytest.raises(ParameterError) as caught:  # "all" stands alone
        parse_objectives(["all", "classify"])
    assert "'all'" in caught.value.hint


def test_the_askers_output_minus_one_is_read_as_naive_last_on_a_padded_batch() -> None:
    scores = {**CLASSIFY, ("cross-entropy", "naive-last"): [0.60, 0.62, 0.58, 0.61, 0.59]}
    table = QuestionAnswer({"classify": _study("classify", scores)}).anecdote()
    first = table[table["setting"] == "classify"].set_index("a")
    assert first.loc["naive-last", "b"] == "hidden"
    assert "padded batch" in first.loc["naive-last", "output[-1] read as"]
    mean, low, high = _paired_t(scores[("cross-entropy", "naive-last")],
                                scores[("cross-entropy", "hidden")])
    assert first.loc["naive-last", "mean_diff"] == pytest.approx(mean)
    assert first.loc["naive-last", "verdict"] == "contradicts" and high < 0
    assert first.loc["last", "verdict"] == "agrees"
    assert "no row is padded" in first.loc["last", "output[-1] read as"]
    html = render_answer_page(QuestionAnswer({"classify": _study("classify", scores)}), "t")
    assert "the asker&#39;s output[-1] read as" in html
