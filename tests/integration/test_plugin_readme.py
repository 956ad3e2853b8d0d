"""probes/README.md's example runs as written (the commands are read from the file and run in a
folder holding a copy of probes/, as from the repository root), and in the report it writes
the probe menu switches the figures to the plugin probe, whose numbers a real browser reads."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.integration.cli_support import run_cli
from tests.integration.report_browser import Visit, open_report, require_browser, screenshot

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_README = ROOT / "probes" / "README.md"

pytestmark = [pytest.mark.slow]


def readme_commands() -> list[list[str]]:
    """The shell commands of the README's '## The examples here' bash block."""
    text = PLUGIN_README.read_text(encoding="utf-8")
    section = text[text.index("## The examples here"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    joined = block.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def example_run(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("plugin-readme")
    shutil.copytree(ROOT / "probes", where / "probes")
    commands = readme_commands()
    assert [c[:2] for c in commands] == [["probe-rnn", "train"], ["probe-rnn", "probe"]]
    for command in commands:
        proc = run_cli(*command[1:], cwd=where)
        assert proc.returncode == 0, (command, proc.stderr[-2000:])
    out = commands[-1][commands[-1].index("--out") + 1]
    return where / out


def test_the_example_measures_both_plugins(example_run) -> None:
    results = pd.read_csv(example_run / "results.csv")
    trained = results[results["model"] == "trained"]
    assert {"logistic", "centroid"} <= set(trained["probe"])
    assert {"label", "vowel-ending"} <= set(trained["task"])
    centroid = trained[(trained["probe"] == "centroid") & (trained["metric"] == "accuracy")]
    assert centroid["value"].between(0, 1).all() and len(centroid) > 0


def test_probe_menu_switches_figures_to_the_plugin_probe(example_run) -> None:
    p_api = require_browser()
    results = pd.read_csv(example_run / "results.csv")
    visit = Visit()
    with p_api.sync_playwright() as p:
        browser, page = open_report(p, example_run / "index.html", visit)
        try:
            options = page.evaluate("Array.from(document.querySelectorAll('#probe-select "
                                    "option')).map(o => o.textContent)")
            assert options == ["logistic", "centroid"]
            read = ("() => { const box = Array.from(document.querySelectorAll('.probe-view'))"
                    ".find(b => !b.hidden && b.querySelector('div.js-plotly-plot'));"
                    " const gd = box.querySelector('div.js-plotly-plot');"
                    " return {id: gd.id, x: Array.from(gd.data[0].x), y: Array.from(gd.data[0].y),"
                    " z: Array.from(gd._fullData[0].z, row => Array.from(row)),"
                    " width: gd.getBoundingClientRect().width,"
                    " findings: document.querySelector('#findings .probe-view:not([hidden])')"
                    ".textContent}; }")
            before = page.evaluate(read)
            page.select_option("#probe-select", label="centroid")
            after = page.evaluate(read)
            assert before["id"] == "fig-heatmap" and after["id"] != before["id"]
            assert after["width"] > 300  # drawn while hidden, sized when shown
            assert "centroid" in after["findings"] and "centroid" not in before["findings"]
            for probe, seen in (("logistic", before), ("centroid", after)):
                rows = results[(results["model"] == "trained") & (results["probe"] == probe)
                               & (results["metric"] == "accuracy") & results["t"].isna()]
                for i, view in enumerate(seen["y"]):
                    for j, task in enumerate(seen["x"]):
                        want = rows[(rows["view"] == view) & (rows["task"] == task)]["value"]
                        if len(want) and seen["z"][i][j] is not None:
                            assert np.isclose(seen["z"][i][j], want.mean()), (probe, view, task)
            assert not np.allclose(np.array(before["z"], float), np.array(after["z"], float),
                                   equal_nan=True)
            # the widest tables (selectivity and MDL, ~12 columns) fit the page: nothing hidden
            widths = page.evaluate("Array.from(document.querySelectorAll('#probing "
                                   ".probe-view:not([hidden]) .table-wrap'))"
                                   ".map(w => [w.scrollWidth, w.clientWidth])")
            assert widths and all(scroll <= client + 1 for scroll, client in widths), widths
            screenshot(page, "probe-menu.png")
        finally:
            browser.close()
    visit.assert_clean()
