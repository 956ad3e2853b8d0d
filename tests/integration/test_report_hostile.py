"""Hostile text in the data (markup, script tags, quotes, plotly and TeX syntax, newlines)
renders literally in tables, hover labels and token heatmaps, and never runs."""

from __future__ import annotations

import pandas as pd
import pytest

from probe_rnn.report import build_report
from tests.integration.report_browser import (
    Visit,
    hover_point,
    open_report,
    require_browser,
    screenshot,
    shown,
)
from tests.unit.report.factory import HOSTILE, pipeline_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LABELS = ["<i>a</i>", 'b" onmouseover="window.__pwned=1']


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    texts = [f"{h} {i}" for i in range(6) for h in HOSTILE]
    labels = [LABELS[i % 2] for i in range(len(texts))]
    df = pd.DataFrame({"text": texts, "label": labels})
    run = pipeline_run(tmp_path_factory.mktemp("hostile") / "run", df, random_baseline=False,
                       attribution_rows=6)
    return build_report(run, umap=False, seed=0)


def test_hostile_text_renders_literally_and_never_runs(hostile_report) -> None:
    p_api = require_browser()
    visit = Visit()
    with p_api.sync_playwright() as p:
        browser, page = open_report(p, hostile_report.path, visit)
        try:
            assert page.evaluate("typeof window.__pwned") == "undefined"
            assert page.evaluate("document.querySelectorAll('img').length") == 0
            # token heatmaps: every token span shows its text literally
            sentences = page.evaluate("Array.from(document.querySelectorAll('.tokens"
                                      " .sentence')).map(s => s.textContent)")
            run = hostile_report.path.parent
            attributed = pd.read_parquet(run / "attribution" / "tokens.parquet")
            expected = attributed.sort_values(["row", "position"]).groupby("row")["token"]
            assert sorted(sentences) == sorted("".join(t) for _, t in expected)
            assert any("<" in s for s in sentences)
            titles = page.evaluate("Array.from(document.querySelectorAll('.tok'))"
                                   ".map(s => s.title)")
            assert any(t.startswith("<") for t in titles)
            # hover labels: each hostile sentence shows literally
            seen = set()
            n = page.evaluate("document.getElementById('fig-proj-1').data[0].text.length")
            for point in range(n):
                raw, label = hover_point(page, "fig-proj-1", 0, point)
                assert shown(raw) in label
                seen.update(h for h in HOSTILE if h.replace("\n", "") in label)
            assert {"<script>window.__pwned=1</script>", "%{x} %{text} %{customdata[0]}",
                    "$x$", "<b>bold</b> & <i>it</i>"} <= seen
            assert page.evaluate("document.querySelectorAll('.hovertext b').length") == 0
            # tables and legends: the label names show literally
            cards = page.evaluate("document.getElementById('model').innerText")
            assert all(label in cards for label in LABELS)
            legend = page.evaluate("Array.from(document.querySelectorAll('#fig-proj-1"
                                   " .legendtext')).map(e => e.textContent)")
            assert set(LABELS) <= set(legend)
            facts = page.evaluate("Array.from(document.querySelectorAll('.tokens .facts'))"
                                  ".map(e => e.textContent).join(' ')")
            assert any(label in facts for label in LABELS)
            assert page.evaluate("typeof window.__pwned") == "undefined"
            screenshot(page, "report-hostile.png")
        finally:
            browser.close()
    visit.assert_clean()
