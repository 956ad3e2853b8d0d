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
           probe: bool = True) -> ReadoutStudy:
    runs = pd.DataFrame([
        {"readout": r, "seed": s, "dev_accuracy": v, "test_accuracy": v, "epochs_run": 2,
         "best_epoch": 2, "seconds": 1.0}
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
    assert "Within noise of it (paired 95% interval contains 0): last" in text
    assert "Measurably worse than hidden: " in text and "naive-last" in text
    assert "does not matter measurably" in text
    assert "Never read output[:, -1]" in text and "62.0% of the diagnosed rows" in text
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
    assert "within noise of best" in html and "worse by" in html
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
