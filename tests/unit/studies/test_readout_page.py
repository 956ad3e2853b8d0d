"""The readout study's answer sentences and HTML page, from a hand-built study (no training)."""

from __future__ import annotations

import html as html_lib
import re

import pandas as pd
import pytest

from probe_rnn.report.readouts import render_readout_page, write_readout_report
from probe_rnn.studies import ReadoutStudy, study_answer
from probe_rnn.studies.stats import paired_differences, summarize_runs, vs_best

HOSTILE = '<script>window.PWNED=1</script> & "quotes" <img src=x onerror=alert(1)>'
ORDER = ["last", "hidden", "mean", "naive-last"]


def _study(acc: dict[str, list[float]], packed: bool = True, bidirectional: bool = True,
           probe: bool = True, best_epoch: int = 1) -> ReadoutStudy:
    runs = pd.DataFrame([
        {"readout": r, "seed": s, "dev_accuracy": v, "test_accuracy": v, "epochs_run": 2,
         "best_epoch": best_epoch if s == 0 else 1, "seconds": 1.0}
        for r, values in acc.items() for s, v in enumerate(values)])
    curves = pd.DataFrame([
        {"readout": r, "seed": s, "epoch": e, "train_loss": 1.0 / e, "dev_accuracy": v - 0.1 / e}
        for r, values in acc.items() for s, v in enumerate(values) for e in (1, 2)])
    order = list(acc)
    summary = summarize_runs(runs, order=order)
    pairs = paired_differences(runs, order=order)
    summary["vs_best"] = vs_best(summary, pairs)
    views = ["output@last", "output@-1", "h_n/L1/fwd", "h_n/L1/bwd"]
    probing = pd.DataFrame([
        {"readout": r, "seed": s, "view": v, "metric": m, "value": 0.5 + 0.01 * i,
         "ci_low": 0.4, "ci_high": 0.6}
        for r in order for s in range(len(acc[r])) for i, v in enumerate(views)
        for m in ("bits", "entropy_bits")]) if probe else pd.DataFrame(
        columns=["readout", "seed", "view", "metric", "value", "ci_low", "ci_high"])
    diagnosis = pd.DataFrame([
        {"module": "rnn", "check": "max |output@last - h_n top fwd|", "value": 0.0,
         "unit": "max |diff|", "explanation": "output@last equals h_n " + HOSTILE},
        {"module": "rnn", "check": "share output@-1 != output@last", "value": 0.62,
         "unit": "share of rows", "explanation": "62% differ"},
    ])
    settings = {"source": HOSTILE, "labels": ["<b>pos</b>", "neg"], "seeds": [0, 1, 2],
                "packed": packed, "bidirectional": bidirectional, "probe_views": views,
                "diagnosed": ["last", 0], "rnn": "lstm", "layers": 2, "hidden": 8,
                "epochs": 2, "probe": probe, "probe_rows": 60, "splits": {"train": 8}}
    return ReadoutStudy(runs, curves, summary, pairs, probing, diagnosis, settings)


TIED = {"last": [0.90, 0.91, 0.92], "hidden": [0.91, 0.90, 0.93],
        "mean": [0.88, 0.86, 0.89], "naive-last": [0.60, 0.62, 0.58]}


def test_answer_reports_noise_and_the_naive_cost() -> None:
    study = _study(TIED)
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
    study = _study({"last": [0.70, 0.71, 0.69], "hidden": [0.90, 0.91, 0.90]},
                   bidirectional=True)
    text = " ".join(study_answer(study))
    assert "feed the hidden state h_n" in text and "better than output@last" in text
    assert "backward half" in text  # the bidirectional mechanism is named
    assert "Never read" not in text  # naive-last was not measured: no claim about it


def test_padded_answer_warns_about_h_n() -> None:
    study = _study({"last": [0.95, 0.97], "hidden": [0.5, 0.52]}, packed=False)
    text = " ".join(study_answer(study))
    assert "h_n is taken after the padding steps" in text
    assert "Pack the batches" in text


def test_page_escapes_text_and_embeds_plotly_once(tmp_path) -> None:
    study = _study(TIED)
    page = write_readout_report(study, tmp_path / "out")
    html = page.read_text(encoding="utf-8")
    assert "<script>window.PWNED" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.PWNED=1&lt;/script&gt;" in html
    assert "&lt;b&gt;pos&lt;/b&gt;" in html
    assert html.count("<script>") == 2  # plotly runtime + page script, nothing else runs
    assert html.count("Plotly.newPlot") <= 2  # the runtime's own source + report.js
    csp = html_lib.unescape(
        re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1))
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    markup = re.sub(r"<script>.*?</script>", "", html, flags=re.S)
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", markup)  # no external requests
    for heading in ("The answer", "How the readouts differ in this model", "Test accuracy",
                    "Training curves", "Paired differences", "What each trained model"):
        assert heading in html
    for fig in ("fig-accuracy", "fig-curves", "fig-probing"):
        assert f'data-figure="{fig}"' in html
    assert "within noise of best" in html and "measurably worse by" in html
    assert "minimum detectable difference (points, 80% power)" in html
    for name in ("runs", "curves", "summary", "pairs", "probing", "diagnosis"):
        assert (tmp_path / "out" / f"{name}.csv").is_file()


def test_page_without_probing_leaves_the_section_out() -> None:
    html = render_readout_page(_study({"last": [0.8, 0.82], "hidden": [0.81, 0.8]},
                                      probe=False))
    assert 'data-figure="fig-probing"' not in html
    assert "What each trained model" not in html


@pytest.mark.parametrize("packed", [True, False])
def test_page_states_how_batches_were_run(packed: bool) -> None:
    html = render_readout_page(_study({"last": [0.8, 0.82], "naive-last": [0.5, 0.6]},
                                      packed=packed))
    assert ("padded (not packed)" in html) != packed
    text = " ".join(study_answer(_study({"last": [0.8, 0.82, 0.81],
                                         "naive-last": [0.5, 0.6, 0.55]}, packed=packed)))
    assert ("on these packed batches it cost" in text) == packed
    assert ("on these padded (not packed) batches it cost" in text) != packed


def test_identical_readouts_are_called_identical_not_within_noise() -> None:
    study = _study({"last": [0.8, 0.82, 0.81], "hidden": [0.8, 0.82, 0.81]},
                   bidirectional=False)
    row = study.pair("hidden", "last")
    assert row["verdict"] == "identical on every seed" and row["p_value"] == 1.0
    assert list(study.summary["vs_best"]) == ["best by point estimate", "identical to best"]
    text = " ".join(study_answer(study))
    assert "identical on every seed" in text and "Identical to last on every seed" in text
    assert "identical readouts" in text and "within noise" not in text


def test_runs_still_improving_at_their_last_epoch_are_flagged() -> None:
    study = _study(TIED, best_epoch=2)  # seed 0 of every readout peaked at its last epoch
    late = study.still_improving()
    assert len(late) == 4 and set(late["seed"]) == {0}
    text = " ".join(study_answer(study))
    assert ("Caveat: 4 of 12 runs had their best dev score at their last epoch (budget 2 "
            "epochs)") in text
    html = render_readout_page(study)
    assert "4 of 12 runs had their best dev score at their last epoch" in html


def test_saved_study_loads_back_and_renders_the_same_tables(tmp_path) -> None:
    study = _study(TIED)
    study.save(tmp_path)
    back = ReadoutStudy.load(tmp_path)
    pd.testing.assert_frame_equal(back.summary, study.summary, check_dtype=False)
    pd.testing.assert_frame_equal(back.pairs, study.pairs, check_dtype=False)
    assert study_answer(back) == study_answer(study)
    with pytest.raises(Exception, match="complete readout study"):
        ReadoutStudy.load(tmp_path / "missing")


def test_page_stylesheet_is_embedded_verbatim() -> None:
    # autoescape must not touch the CSS: an escaped quote inside <style> breaks the font list
    html = render_readout_page(_study({"last": [0.8, 0.82], "hidden": [0.81, 0.8]},
                                      probe=False))
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert '"Segoe UI"' in style and "&#34;" not in style


def test_a_study_saved_before_the_mdd_column_still_renders() -> None:
    study = _study(TIED)
    study.pairs = study.pairs.drop(columns="mdd")
    text = " ".join(study_answer(study))
    assert "Not measurably worse than hidden" in text and "would usually be missed" not in text
    assert "minimum detectable difference (points, 80% power)" in render_readout_page(study)
