"""The main job: `probe-rnn demo` from the CLI, its report in a real browser, and its cache.

Runs the real demo (train a 2-layer BiLSTM on bundled names, a small readouts study, probe,
attribute, report: about three minutes on 2 cores), then checks the run folder against the
contracts and opens the report in headless chromium, whose first sentence is checked against
the run's own tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

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
from tests.integration.verdict_check import check_findings

pytestmark = [pytest.mark.slow, pytest.mark.browser]

RESULT_COLUMNS = ["model", "view", "view_kind", "layer", "direction", "t", "task", "task_kind",
                  "probe", "metric", "value", "ci_low", "ci_high", "chance", "n_train",
                  "n_test", "folds", "seeds", "seed"]


def run_demo(out: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONHASHSEED="0")
    return subprocess.run([sys.executable, "-m", "probe_rnn", "demo", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("demo") / "demo"
    proc = run_demo(out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_demo_fills_the_run_folder(demo) -> None:
    out, proc = demo
    report = out / "index.html"
    assert f"report: {report}" in proc.stdout
    assert report.stat().st_size <= 10 * 1024 * 1024  # size budget of the issue
    run = json.loads((out / "run.json").read_text())
    assert {s["status"] for s in run["stages"].values()} == {"done"}
    assert set(run["stages"]) == {"capture", "diagnosis", "probing", "interventions",
                                  "attribution", "report"}
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns[: len(RESULT_COLUMNS)]) == RESULT_COLUMNS
    assert set(results["model"]) == {"trained", "random-init"}
    label = results[(results.model == "trained") & (results.view == "output@last")
                    & (results.task == "label") & (results.metric == "accuracy")]
    majority = results[(results.view == "output@last") & (results.task == "label")
                       & (results.metric == "majority_accuracy")]
    assert label["value"].iloc[0] > majority["value"].iloc[0]  # the model learned something
    assert results["t"].notna().any()  # per-timestep rows for the curves over t
    diagnosis = pd.read_csv(out / "diagnosis.csv")
    same = diagnosis[diagnosis["check"].str.contains("output@last - h_n top fwd", regex=False)]
    assert float(same["value"].iloc[0]) == 0.0  # output@last is h_n's forward half, exactly
    # the readouts study: last and hidden, 3 paired seeds, its page inside the demo folder
    study = out / "readouts"
    assert (study / "index.html").is_file() and (study / "study.json").is_file()
    summary = pd.read_csv(study / "summary.csv")
    assert list(summary["readout"]) == ["last", "hidden"] and set(summary["n_seeds"]) == {3}
    assert any(line.startswith("readouts") and "last minus hidden" in line
               for line in proc.stderr.splitlines()), proc.stderr
    assert run["arguments"]["readouts_study"]["seeds"] == 3


def test_demo_report_in_chromium(demo) -> None:
    out, _ = demo
    p_api = require_browser()
    visit = Visit()
    with p_api.sync_playwright() as p:
        browser, page = open_report(p, out / "index.html", visit)
        try:
            figures = page.evaluate("document.querySelectorAll('div.figure').length")
            drawn = page.evaluate("document.querySelectorAll('.js-plotly-plot').length")
            assert figures >= 6 and drawn == figures
            first = page.evaluate("document.querySelector('div.figure[id^=fig-proj]').id")
            raw, label = hover_point(page, first, 0, 0)
            assert raw and shown(raw) in label  # the hovered point shows its name
            assert_opening(page, out / "index.html")  # opens with the answer, from its tables
            assert_use_sentence(page, out / "index.html")  # and what the head uses, measured
            screenshot(page, "demo.png")
        finally:
            browser.close()
    visit.assert_clean()


def test_second_demo_run_reuses_everything(demo) -> None:
    out, first = demo
    before = (out / "results.csv").read_bytes()
    study = (out / "readouts" / "summary.csv").read_bytes()
    proc = run_demo(out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "reusing" in proc.stderr
    for stage in ("readouts", "diagnosis", "probing", "interventions", "attribution"):
        assert any(line.startswith(stage) and "(reused)" in line
                   for line in proc.stderr.splitlines()), proc.stderr
    assert (out / "results.csv").read_bytes() == before
    assert (out / "readouts" / "summary.csv").read_bytes() == study


def test_report_command_finds_the_study(demo) -> None:
    out, _ = demo
    (out / "index.html").unlink()
    proc = subprocess.run([sys.executable, "-m", "probe_rnn", "report", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = (out / "index.html").read_text(encoding="utf-8")
    header = page[page.index("<h1>"):page.index("</header>")]
    assert 'href="readouts/index.html#pairs"' in header
    assert 'href="readouts/index.html#accuracy"' in header


def test_demo_findings_agree_with_its_own_values(demo) -> None:
    """Every above/below/within-noise verdict of the findings, recomputed from the run's own
    values.parquet with scipy (Holm by hand over each family), and each sentence says it."""
    out, _ = demo
    checked = check_findings(out)
    # 14 views against the majority, 13 against the best, the positions scanned, the pairs
    assert checked >= 30, checked
    page = (out / "index.html").read_text(encoding="utf-8")
    answer = page[page.index('<p class="answer">'):]
    first = answer[:answer.index("</span>")]
    # the opening compares output@last with both directions of the top layer's h_n
    assert "<code>output@last</code>" in first and "<code>h_n/L1</code>" in first

