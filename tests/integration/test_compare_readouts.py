"""``probe-rnn compare-readouts`` end to end on a tiny table with hostile text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from probe_rnn.data import make_synthetic

HOSTILE_LABEL = "<script>window.PWNED=1</script>"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # Rich wraps tables to the terminal width
    return subprocess.run([sys.executable, "-m", "probe_rnn", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    df = make_synthetic("first", n_rows=160, seed=2, min_len=3, max_len=8)
    df["label"] = df["label"].map({"pos": HOSTILE_LABEL, "neg": '"neg" & <b>'})
    path = tmp_path_factory.mktemp("data") / "tiny.csv"
    df[["text", "label"]].to_csv(path, index=False)
    return path


def test_compare_readouts_writes_the_page(table: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    res = _cli("compare-readouts", "--data", str(table), "--rnn", "gru", "--layers", "1",
               "--no-bidirectional", "--hidden", "8", "--readouts", "last,hidden",
               "--seeds", "2", "--epochs", "2", "--jobs", "1", "--out", str(out), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for column in ("readout", "mean test acc", "95% CI", "verdict vs best"):
        assert column in res.stdout
    assert "wall time:" in res.stdout and "Answer:" in res.stdout
    assert f"report: {out / 'index.html'}" in res.stdout
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "<script>window.PWNED" not in html
    assert "&lt;script&gt;window.PWNED=1&lt;/script&gt;" in html
    assert "&#34;neg&#34; &amp; &lt;b&gt;" in html
    assert html.count("<table") >= 4  # settings, accuracy, pairs, probing (+ runs, diagnosis)
    for heading in ("Test accuracy", "Paired differences", "What each trained model"):
        assert heading in html
    assert "last − hidden" in html  # GRU, packed: the same vector, so the same runs
    assert "identical on every seed" in html and "identical to best" in html
    assert "each seed its own" in html  # a table without a split: every seed draws one
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["readout"]) == ["last", "hidden"]
    assert (summary["n_seeds"] == 2).all()
    probing = pd.read_csv(out / "probing.csv")
    assert set(probing["view"]) == {"output@last", "output@-1", "h_n/L0/fwd"}  # GRU: no c_n


def test_unknown_readout_is_one_line_exit_2(table: Path, tmp_path: Path) -> None:
    res = _cli("compare-readouts", "--data", str(table), "--readouts", "last,final",
               "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --readouts ")
    assert "unknown readout 'final'" in lines[0]
    assert "last, hidden, mean, max, naive-last" in lines[0]
    assert not (tmp_path / "r").exists()


def test_every_setting_writes_an_answer_page_and_probe_able_encoders(table: Path,
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "all"
    res = _cli("compare-readouts", "--data", str(table), "--objective", "all", "--layers", "1",
               "--no-bidirectional", "--hidden", "8", "--readouts", "last,hidden",
               "--seeds", "2", "--epochs", "1", "--jobs", "1", "--no-probe", "--out", str(out),
               cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"report: {out / 'index.html'}" in res.stdout
    page = (out / "index.html").read_text(encoding="utf-8")
    for name in ("classify", "autoencode", "siamese"):
        assert f'href="{name}/index.html"' in page
        assert (out / name / "index.html").exists()
    assert "The asker's report, checked" in page and "&lt;script&gt;" not in page
    answer = pd.read_csv(out / "answer.csv")
    assert list(answer["objective"]) == ["classify", "autoencode", "siamese", "siamese"]
    assert list(answer["loss"].iloc[2:]) == ["mse", "contrastive"]
    siamese = pd.read_csv(out / "siamese" / "summary.csv")
    assert len(siamese) == 4 and set(siamese["loss"]) == {"mse", "contrastive"}
    models = sorted(p.name for p in (out / "siamese" / "models").glob("*.pt"))
    assert len(models) == 8 and "siamese-contrastive-hidden-seed1.pt" in models
    # an encoder trained on the siamese objective is probed like any model
    probe = _cli("probe", str(out / "siamese" / "models" / "siamese-mse-hidden-seed0.pt"),
                 "--data", str(table), "--out", str(tmp_path / "p"), "--views",
                 "output@last,h_n/L0/fwd", "--tasks", "label", "--folds", "2",
                 "--attribution-rows", "0", "--no-umap", cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr[-2000:]
    results = pd.read_csv(tmp_path / "p" / "results.csv")
    assert {"output@last", "h_n/L0/fwd"} <= set(results["view"])


def test_a_loss_without_the_siamese_setting_is_one_line_exit_2(table: Path,
                                                               tmp_path: Path) -> None:
    res = _cli("compare-readouts", "--data", str(table), "--objective", "classify", "--loss",
               "mse", "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert lines == ["error: --loss applies to the siamese objective only: add --objective "
                     "siamese or drop --loss"]
    res = _cli("compare-readouts", "--data", str(table), "--objective", "classify",
               "--readouts", "zero", "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert res.returncode == 2 and "unknown readout 'zero' for objective classify" in res.stderr
    assert not (tmp_path / "r").exists()


def test_studies_default_to_five_seeds(tmp_path: Path) -> None:
    import inspect

    from probe_rnn.studies import compare_readouts

    assert inspect.signature(compare_readouts).parameters["seeds"].default == 5
    res = _cli("compare-readouts", "--help", cwd=tmp_path)
    assert res.returncode == 0
    line = next(x for x in res.stdout.splitlines() if "--seeds" in x)
    assert "[default: 5]" in line
