"""`probe-rnn probe` end to end on a small trained model: the results table with intervals,
selectivity, MDL and both baselines; a plugin probe from ./probes; re-rendering the report."""

from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.integration.cli_support import run_cli

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    tmp = tmp_path_factory.mktemp("probe")
    model = tmp / "m.pt"
    proc = run_cli("train", "--dataset", "names", "--rnn", "lstm", "--layers", "2",
                   "--bidirectional", "--hidden", "16", "--epochs", "2", "--out", str(model))
    assert proc.returncode == 0, proc.stderr
    out = tmp / "run"
    # run from the repo root so ./probes (the example plugins) is loaded as a user's would be
    proc = run_cli("probe", str(model), "--dataset", "names", "--out", str(out),
                   "--max-rows", "300", "--folds", "3", "--probes", "logistic,centroid",
                   "--views", "output@last,output@-1,h_n/L1/fwd,h_n/L1/bwd,c_n/L1/fwd",
                   "--tasks", "label,length,vowel-ending", "--attribution-rows", "2",
                   "--no-umap", cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"report: {out / 'index.html'}" in proc.stdout
    return out, proc


@pytest.fixture(scope="module")
def run_dir(probed: tuple[Path, subprocess.CompletedProcess]) -> Path:
    return probed[0]


class _AnswerText(HTMLParser):
    """The text of the page's first ``<p class="answer">`` (tags dropped, as a reader sees it)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.parts, self.done = 0, [], False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += tag == "p"
        elif tag == "p" and ("class", "answer") in attrs and not self.done:
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag == "p":
            self.depth -= 1
            self.done = self.done or self.depth == 0

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


def test_probe_ends_with_the_reports_opening_answer(probed) -> None:
    out, proc = probed
    reader = _AnswerText()
    reader.feed((out / "index.html").read_text(encoding="utf-8"))
    opening = " ".join("".join(reader.parts).split())
    assert opening.startswith("Output or hidden state?")
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith("report: ")
    assert lines[-2] == opening  # piped: one line, word for word the page's
    # the capture stage names both models' rows and its kernel check
    capture = [line for line in proc.stderr.splitlines() if line.startswith("capture ")][-1]
    assert "300 rows × 2 models (trained + random-init)" in capture
    assert ("kernel check (largest |difference| from the fused kernel): trained "
            in capture)
    assert " s  " in capture  # the stage's closing line (after the progress lines)


def test_results_hold_every_measure_and_baseline(run_dir: Path) -> None:
    results = pd.read_parquet(run_dir / "results.parquet")
    assert set(results["model"]) == {"trained", "random-init"}
    assert {"logistic", "centroid"} <= set(results["probe"])  # the plugin probe was used
    assert "vowel-ending" in set(results["task"])  # the plugin task too
    label = results[(results.model == "trained") & (results.task == "label")
                    & (results.probe == "logistic")]
    metrics = set(label["metric"])
    for metric in ("accuracy", "bits", "selectivity", "control_accuracy", "mdl_bits",
                   "compression", "majority_accuracy"):
        assert metric in metrics, metric
    acc = label[(label.view == "output@last") & (label.metric == "accuracy")].iloc[0]
    assert acc.ci_low <= acc.value <= acc.ci_high
    assert acc.n_train > acc.n_test > 0
    csv = pd.read_csv(run_dir / "results.csv")
    assert list(csv.columns) == list(results.columns)


def test_report_rerenders_without_recomputing(run_dir: Path) -> None:
    before = (run_dir / "results.parquet").stat().st_mtime_ns
    proc = run_cli("report", str(run_dir), "--no-umap")
    assert proc.returncode == 0, proc.stderr
    assert (run_dir / "results.parquet").stat().st_mtime_ns == before
    html = (run_dir / "index.html").read_text()
    assert "output@last" in html and "Content-Security-Policy" in html
    run = json.loads((run_dir / "run.json").read_text())
    assert run["data"]["rows"] == 300


def test_probe_attribution_explains_the_measured_probe(run_dir: Path) -> None:
    from probe_rnn.capture.store import StateStore
    from probe_rnn.probing.exported import import_probe
    from probe_rnn.probing.journal import Journal

    manifest = json.loads((run_dir / "attribution" / "manifest.json").read_text())
    sources = manifest["probe_sources"]
    assert sources["output@last"].startswith("the measured probe: logistic, C=")
    cells = pd.read_csv(run_dir / "cells.csv")
    key = cells[(cells.model == "trained") & (cells.view == "output@last")
                & (cells.task == "label") & (cells.probe == "logistic")]["key"].iloc[0]
    measured = import_probe(Journal(run_dir / "journal").get(key)["fitted_probe"])
    # the attributed function's value at the input is the measured probe's decision score
    tokens = pd.read_parquet(run_dir / "attribution" / "probe_tokens.parquet")
    f_x = tokens[tokens.view == "output@last"].groupby("row")["f_x"].first()
    store = StateStore(run_dir / "states")
    X = np.asarray(store.sentence("output@last"), dtype=np.float64)[f_x.index.to_numpy()]
    scores = measured.decision_function(X).reshape(len(X), -1)
    target = tokens[tokens.view == "output@last"].groupby("row")["target_label"].first()
    column = [list(measured.classes_).index(c) for c in target.loc[f_x.index]]
    if scores.shape[1] == 1:  # binary: the score of classes[1]; class 0 reads its negative
        expected = np.where(np.asarray(column) == 1, scores[:, 0], -scores[:, 0])
    else:
        expected = scores[np.arange(len(X)), column]
    np.testing.assert_allclose(f_x.to_numpy(), expected, atol=0.05)  # the store holds float16
