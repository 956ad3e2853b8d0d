"""The report of a real (tiny) run in a real headless chromium: no errors, no network,
every figure drawn, UMAP hover shows the sentence, and a screenshot for people."""

from __future__ import annotations

import pytest

from probe_rnn.report import build_report
from tests.integration.report_browser import (
    Visit,
    assert_opening,
    hover_point,
    open_report,
    require_browser,
    screenshot,
    shown,
)
from tests.unit.report.factory import pipeline_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def names_report(tmp_path_factory):
    from probe_rnn.data import load_dataset
    from probe_rnn.models import Architecture, TrainBudget
    from probe_rnn.report.readouts import write_readout_report
    from probe_rnn.studies import compare_readouts

    df = load_dataset("names").sample(100, random_state=0).reset_index(drop=True)
    run = pipeline_run(tmp_path_factory.mktemp("browser") / "run", df)
    # a tiny readouts study of the same architecture beside it (in-process: jobs=1)
    study = compare_readouts(df, Architecture(rnn="lstm", layers=2, hidden=8, embedding_dim=8,
                                          bidirectional=True), TrainBudget(epochs=1),
                             readouts=["last", "hidden"], seeds=2, jobs=1, probe=False)
    write_readout_report(study, run / "readouts")
    return build_report(run, umap=True, seed=0)


def test_report_in_chromium(names_report) -> None:
    p_api = require_browser()
    visit = Visit()
    with p_api.sync_playwright() as p:
        browser, page = open_report(p, names_report.path, visit)
        try:
            drawn = page.evaluate("document.querySelectorAll('.js-plotly-plot').length")
            assert drawn == len(names_report.figures)
            assert sum(f.startswith("fig-proj") for f in names_report.figures) == 4
            raw, label = hover_point(page, "fig-proj-1", 0, 0)
            assert raw and shown(raw) in label
            # the sortable results table sorts numbers as numbers
            col = page.evaluate("Array.from(document.querySelectorAll('#results thead th'))"
                                ".findIndex(th => th.textContent.trim() === 'accuracy')")
            page.locator("#results thead th").nth(col).click()
            keys = page.evaluate(
                "(c) => Array.from(document.querySelectorAll('#results tbody tr'))"
                ".map(r => r.cells[c].getAttribute('data-key')).filter(k => k)"
                ".map(Number)", col)
            assert len(keys) > 3 and keys == sorted(keys)
            assert_opening(page, names_report.path)
            screenshot(page, "report.png")
        finally:
            browser.close()
    visit.assert_clean()


def test_rerender_reuses_umap_and_is_identical(names_report) -> None:
    strip = [line for line in names_report.path.read_text().splitlines()
             if "report built" not in line]
    again = build_report(names_report.path.parent, umap=True, seed=0)
    assert again.projection_hits and all(again.projection_hits.values())
    assert strip == [line for line in again.path.read_text().splitlines()
                     if "report built" not in line]
