"""The report of a real (tiny) run in a real headless chromium: no errors, no network,
every figure drawn, UMAP hover shows the sentence, and a screenshot for people."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from probe_rnn.report import build_report
from tests.integration.report_browser import (
    Visit,
    assert_opening,
    assert_use_sentence,
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


def test_opening_says_what_the_head_uses(names_report, tmp_path) -> None:
    """A copy of the run folder with an interventions table (the head reads ``output@last``;
    the erasure of ``h_n/L1/fwd``, the largest drop, failed its check), re-rendered by
    ``probe-rnn report DIR``: the page's opening says which state the head uses, with the
    table's numbers, and makes no claim on the failed erasure."""
    from probe_rnn.cli import main
    from tests.unit.report.use_factory import write_use_table

    run = tmp_path / "run"
    shutil.copytree(names_report.path.parent, run, ignore=shutil.ignore_patterns("readouts"))
    write_use_table(run)
    try:
        main(["report", str(run), "--no-umap"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    p_api = require_browser()
    visit = Visit()
    with p_api.sync_playwright() as p:
        browser, page = open_report(p, run / "index.html", visit)
        try:
            sentence = assert_use_sentence(page, run / "index.html")
            assert "h_n/L1/fwd" not in sentence
            # "carries the label yet unused" only where the probe's bits are clearly above 0
            results = pd.read_parquet(run / "results.parquet")
            bits = results[(results["view"] == "h_n/L1/bwd") & (results["task"] == "label")
                           & (results["metric"] == "bits") & (results["model"] == "trained")
                           & (results["probe"] == "logistic") & results["t"].isna()]
            carries = bool(bits["ci_low"].mean() > 0)
            assert ("h_n/L1/bwd carries" in sentence) == carries, (carries, sentence)
            assert_opening(page, run / "index.html", study=False)
            page.locator("#use").scroll_into_view_if_needed()
            screenshot(page, "report-use.png")
        finally:
            browser.close()
    visit.assert_clean()
