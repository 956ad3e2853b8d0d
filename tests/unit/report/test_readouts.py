"""The readout study's HTML page, from a hand-built study (no training): escaped, offline,
every section and figure, a stylesheet embedded verbatim."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from probe_rnn.report.readouts import render_readout_page, write_readout_report
from probe_rnn.studies import study_answer
from tests.unit.studies.study_support import TIED, hand_study


def test_page_escapes_text_and_embeds_plotly_once(tmp_path) -> None:
    study = hand_study(TIED)
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
    html = render_readout_page(hand_study({"last": [0.8, 0.82], "hidden": [0.81, 0.8]},
                                      probe=False))
    assert 'data-figure="fig-probing"' not in html
    assert "What each trained model" not in html


@pytest.mark.parametrize("packed", [True, False])
def test_page_states_how_batches_were_run(packed: bool) -> None:
    html = render_readout_page(hand_study({"last": [0.8, 0.82], "naive-last": [0.5, 0.6]},
                                      packed=packed))
    assert ("padded (not packed)" in html) != packed
    text = " ".join(study_answer(hand_study({"last": [0.8, 0.82, 0.81],
                                         "naive-last": [0.5, 0.6, 0.55]}, packed=packed)))
    assert ("on these packed batches it cost" in text) == packed
    assert ("on these padded (not packed) batches it cost" in text) != packed


def test_page_stylesheet_is_embedded_verbatim() -> None:
    # autoescape must not touch the CSS: an escaped quote inside <style> breaks the font list
    html = render_readout_page(hand_study({"last": [0.8, 0.82], "hidden": [0.81, 0.8]},
                                      probe=False))
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert '"Segoe UI"' in style and "&#34;" not in style


def test_a_study_saved_before_the_mdd_column_still_renders() -> None:
    study = hand_study(TIED)
    study.pairs = study.pairs.drop(columns="mdd")
    text = " ".join(study_answer(study))
    assert "Not measurably worse than hidden" in text and "would usually be missed" not in text
    assert "minimum detectable difference (points, 80% power)" in render_readout_page(study)


def test_a_study_inside_a_run_folder_links_the_users_own_checkpoint_report(tmp_path) -> None:
    study = hand_study({"last": [0.8, 0.82], "hidden": [0.81, 0.8]})
    alone = write_readout_report(study, tmp_path / "alone").read_text(encoding="utf-8")
    assert "your own checkpoint" not in alone.lower()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text("{}", encoding="utf-8")
    inside = write_readout_report(study, tmp_path / "run" / "readouts").read_text(encoding="utf-8")
    assert 'href="../index.html"' in inside and "your own checkpoint" in inside.lower()
