"""The report's opening answer to "output or hidden state?": only what the numbers show."""

from __future__ import annotations

import pandas as pd
import pytest

from probe_rnn.report import build_report
from probe_rnn.report.equivalence import Comparison, Equivalence
from probe_rnn.report.opening import ANSWER_TABLE, make_answer
from probe_rnn.studies import ReadoutStudy
from tests.unit.report.factory import make_run, result_row, results_frame

NAN = float("nan")


def _results(last: tuple, fwd: tuple | None, bwd: tuple | None,
             metric: str = "bits") -> pd.DataFrame:
    rows = [result_row("output@last", metric, *last)]
    rows += [result_row("h_n/L1/fwd", metric, *fwd)] if fwd else []
    rows += [result_row("h_n/L1/bwd", metric, *bwd)] if bwd else []
    rows += [result_row("h_n/L0/fwd", metric, 0.1, 0.0, 0.2)]  # a lower layer: never compared
    return results_frame(rows)


def _study(last: tuple[float, float, float], hidden: tuple[float, float, float],
           diff: tuple[float, float, float], seeds: int = 3) -> ReadoutStudy:
    """A classify study by hand: (mean, low, high) accuracy per readout and last − hidden."""
    summary = pd.DataFrame([
        {"loss": "cross-entropy", "readout": r, "n_seeds": seeds, "mean": m, "std": 0.01,
         "ci_low": lo, "ci_high": hi, "min": lo, "max": hi, "vs_best": ""}
        for r, (m, lo, hi) in (("last", last), ("hidden", hidden))])
    pairs = pd.DataFrame([{"loss": "cross-entropy", "readout_a": "last", "readout_b": "hidden",
                           "n_pairs": seeds, "mean_diff": diff[0], "std_diff": 0.01,
                           "ci_low": diff[1], "ci_high": diff[2], "p_value": 0.01,
                           "verdict": ""}])
    empty = pd.DataFrame()
    return ReadoutStudy(runs=empty, curves=empty, summary=summary, pairs=pairs, probing=empty,
                        diagnosis=empty, settings={"objective": "classify",
                                                   "seeds": list(range(seeds))})


def test_output_clearly_better_probed_and_trained() -> None:
    results = _results((0.80, 0.75, 0.85), (0.40, 0.35, 0.45), (0.30, 0.25, 0.35))
    study = _study((0.90, 0.88, 0.92), (0.85, 0.83, 0.87), (0.05, 0.03, 0.07))
    answer = make_answer(results, None, study=study, study_href="readouts/index.html")
    second, first, bottom = answer.sentence_texts  # the study (retrained heads) leads
    assert answer.kind == "output"
    assert second.startswith("Output or hidden state? ")
    assert first.startswith("Probes: For this model's own readout")
    assert "should read the output, `output@last`" in first
    assert bottom == "Bottom line: the study and the probes agree."
    assert "`output@last` carries 0.800 [0.750, 0.850] bits of label information" in first
    assert "`h_n/L1/fwd` 0.400 [0.350, 0.450]" in first and "`h_n/L1/bwd` 0.300" in first
    assert "difference from `output@last` -0.400 [" in first and ": less)" in first
    assert "within noise" not in first and "h_n/L0" not in first
    assert "90.00% (95% CI 88.00% to 92.00%)" in second
    assert "85.00% (95% CI 83.00% to 87.00%)" in second
    assert "+5.00 points (paired 95% CI +3.00 to +7.00), last better by 5.0 points." in second
    assert "3 paired seeds" in second
    # every number links to its table: probing ones to the label table, the study's to its page
    numbers = [s for sentence in answer.sentences for s in sentence if s.href]
    assert {s.href for s in numbers} == {f"#{ANSWER_TABLE}", "readouts/index.html",
                                         "readouts/index.html#accuracy",
                                         "readouts/index.html#pairs"}
    assert all(any(c.isdigit() for c in s.text) for s in numbers if s.text != "readouts study")


def test_within_noise_claims_no_winner() -> None:
    results = _results((0.50, 0.40, 0.60), (0.48, 0.38, 0.58), (0.47, 0.37, 0.57))
    study = _study((0.86, 0.83, 0.89), (0.87, 0.85, 0.88), (-0.009, -0.031, 0.013))
    answer = make_answer(results, None, study=study, study_href="readouts/index.html")
    second, first, bottom = answer.sentence_texts
    assert answer.kind == "either" and "agree" in bottom
    assert "can read either (within noise of each other)" in first
    assert first.count("within noise") == 3 and "more" not in first and "less" not in first
    assert "unpaired difference" in first  # no per-split values were given: said so
    assert "-0.90 points (paired 95% CI -3.10 to +1.30), within noise." in second
    assert "better" not in second


def test_mixed_and_hidden_better() -> None:
    mixed = make_answer(_results((0.50, 0.45, 0.55), (0.49, 0.44, 0.54), (0.20, 0.15, 0.25)),
                        None)
    assert mixed.kind == "mixed"
    assert ("should read `output@last` or `h_n/L1/fwd` (within noise of each other); "
            "`h_n/L1/bwd` alone carries less") in mixed.sentence_texts[0]
    hidden = make_answer(_results((0.20, 0.15, 0.25), (0.60, 0.55, 0.65), None), None)
    assert hidden.kind == "hidden"
    assert "should read the hidden state, `h_n/L1/fwd`" in hidden.sentence_texts[0]
    assert ": more)" in hidden.sentence_texts[0]


def test_same_vector_in_a_unidirectional_model() -> None:
    eq = Equivalence(1, False, Comparison("h_n/L1/fwd", "output@last", 0.0, 0, 50), None, None)
    answer = make_answer(_results((0.5, 0.4, 0.6), (0.5, 0.4, 0.6), None), eq)
    assert answer.kind == "either"
    assert "`h_n/L1/fwd` 0.500 [0.400, 0.600] (the very same vector here)" in answer.text


def test_no_intervals_leave_the_answer_untested() -> None:
    answer = make_answer(_results((0.8, NAN, NAN), (0.4, NAN, NAN), None), None)
    assert answer.kind == "untested"
    first = answer.sentence_texts[0]
    assert "which one a classifier should read is untested" in first
    assert "should read the" not in first and "can read" not in first and "within" not in first


def test_accuracy_when_no_bits() -> None:
    answer = make_answer(_results((0.90, 0.85, 0.95), (0.60, 0.55, 0.65), None,
                                  metric="accuracy"), None)
    assert "`output@last` reaches 0.900 [0.850, 0.950] label accuracy" in answer.text


@pytest.mark.parametrize(("results", "missing"), [
    (results_frame([result_row("output@last", "bits", 0.5)]), "`h_n` of the top layer"),
    (results_frame([result_row("h_n/L1/fwd", "bits", 0.5)]), "`output@last`"),
    (results_frame([result_row("output@last", "bits", 0.5, task="length")]), "the label"),
])
def test_missing_views_are_named_not_invented(results, missing) -> None:
    answer = make_answer(results, None)
    assert answer.kind == "missing"
    first = answer.sentence_texts[0]
    assert missing in first and "cannot" in first
    assert not any(c.isdigit() for c in first)  # no number without its view
    assert "holds no readouts study" in answer.sentence_texts[1]
    # with a study, its trained comparison answers first and the gap is still named
    study = _study((0.9, 0.88, 0.92), (0.85, 0.83, 0.87), (0.05, 0.03, 0.07))
    both = make_answer(results, None, study=study, study_href="r/index.html")
    assert both.sentence_texts[0].startswith("Output or hidden state? Trained as classifiers")
    assert missing in both.sentence_texts[1]


def test_missing_bwd_half_is_named() -> None:
    eq = Equivalence(1, True, Comparison("h_n/L1/fwd", "output@last", 0.0, 0, 50), None, None)
    answer = make_answer(_results((0.5, 0.4, 0.6), None, None), eq)
    # neither half nor the concatenated view probed: the concatenated one is named missing
    assert answer.kind == "missing" and "no label probe of `h_n/L1`," in answer.text


def test_concatenated_h_n_is_the_comparison_and_disagreement_is_explained() -> None:
    rows = [result_row("output@last", "bits", 0.80, 0.75, 0.85),
            result_row("h_n/L1", "bits", 0.40, 0.35, 0.45),
            result_row("h_n/L1/fwd", "bits", 0.30, 0.25, 0.35),
            result_row("h_n/L1/bwd", "bits", 0.20, 0.15, 0.25)]
    eq = Equivalence(1, True, Comparison("h_n/L1/fwd", "output@last", 0.0, 0, 50), None, None)
    study = _study((0.86, 0.83, 0.89), (0.87, 0.85, 0.88), (-0.009, -0.031, 0.013))
    study.settings["layers"] = 2
    answer = make_answer(results_frame(rows), eq, study=study, study_href="r/index.html")
    trained, probing, bottom = answer.sentence_texts
    assert "`output@last`" in trained and "the view `h_n/L1`)" in trained
    assert "`h_n/L1` 0.400 [0.350, 0.450]" in probing and "h_n/L1/fwd" not in probing
    assert answer.kind == "output"  # probes: output more; the study: within noise
    assert bottom.startswith("Bottom line: follow the study, which retrains a head per readout")


def test_study_without_both_readouts_or_seeds() -> None:
    results = _results((0.5, 0.4, 0.6), (0.5, 0.4, 0.6), None)
    study = _study((0.9, 0.88, 0.92), (0.85, 0.83, 0.87), (0.05, NAN, NAN), seeds=1)
    one_seed = make_answer(results, None, study=study, study_href="r/index.html")
    assert "too few seeds for an interval, so the difference is untested" in one_seed.text
    study.summary = study.summary[study.summary["readout"] == "last"]
    alone = make_answer(results, None, study=study, study_href="r/index.html")
    assert "trained `last`, not both `last` and `hidden`" in alone.text


def test_report_opens_with_the_answer_and_finds_the_study(tmp_path) -> None:
    run = make_run(tmp_path / "run")
    study = _study((0.90, 0.88, 0.92), (0.85, 0.83, 0.87), (0.05, 0.03, 0.07))
    study.settings.update(rnn="lstm", layers=2, hidden=8, bidirectional=True,
                          labels=["no", "yes"])
    study.save(run / "readouts")
    (run / "readouts" / "index.html").write_text('<section id="accuracy"></section>')
    report = build_report(run, umap=False)
    page = report.path.read_text(encoding="utf-8")
    header = page[page.index("<h1>"):page.index("</header>")]
    after_title = header[header.index("</h1>"):]
    assert after_title.index('<p class="answer">') < after_title.index("<p>")  # first, right under
    assert report.answer is not None and "last better by 5.0 points" in report.answer.text
    assert 'href="readouts/index.html#pairs"' in header
    assert f'href="#{ANSWER_TABLE}"' in header and f'id="{ANSWER_TABLE}"' in page
    # another architecture's study is left out, and the answer says why
    study.settings["hidden"] = 64
    study.save(run / "readouts")
    other = build_report(run, umap=False)
    assert "trained another architecture than this model (hidden 64 vs 8)" in other.answer.text
    assert "readouts/index.html" not in other.answer.links


@pytest.mark.parametrize("card, who, reader", [
    (None, "For this model's own readout", "a classifier"),
    ({"returns": "states", "texts": 1}, "For this encoder",
     "a decoder or a classifier built on it"),
    ({"returns": "score", "texts": 2}, "For this pair model", "a pair score"),
    ({"returns": "step-logits", "texts": 1}, "For this language model", "a classifier built on it"),
    ({"returns": "step-logits", "texts": 2}, "For this encoder-decoder", "a decoder"),
])
def test_the_answer_speaks_of_the_models_own_setting(card, who, reader) -> None:
    hidden = make_answer(_results((0.20, 0.15, 0.25), (0.60, 0.55, 0.65), None), None,
                         model_card=card)
    assert who in hidden.text and f"{reader} should read the hidden state" in hidden.text


def test_the_sentence_on_use_comes_last_and_only_when_given() -> None:
    from probe_rnn.report.opening import Segment

    results = _results((0.5, 0.48, 0.52), (0.4, 0.38, 0.42), (0.3, 0.28, 0.32))
    use = (Segment("Which state does the head use? "), Segment("0.40 [0.34, 0.46]", "#use"))
    plain = make_answer(results, None)
    with_use = make_answer(results, None, use=use)
    assert with_use.sentences == (*plain.sentences, use)
    assert with_use.kind == plain.kind and with_use.links[-1] == "#use"
    study = _study((0.9, 0.88, 0.92), (0.85, 0.83, 0.87), (0.05, 0.03, 0.07))
    assert make_answer(results, None, study=study, study_href="readouts/index.html",
                       use=use).sentences[-1] == use
