"""Checks that name the cause, run as a user would: a row-mixing model stopped before any work
(and probed with --allow-batch-dependence, which run.json and the report then state), the
attribution completeness verdict, an adapter that runs the module once per row, a task with one
class as one summary line, and --pad-id asked for only when a batch needs padding."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from probe_rnn.data import load_dataset
from tests.integration.cli_support import assert_one_line_error, run_cli

MODELS = '''
import torch
from torch import nn

VOCAB = 64


class TutorialMixing(nn.Module):
    """The sentiment tutorial's head on a time-major LSTM: flatten, score, reshape, last."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, 8, padding_idx=0)
        self.lstm = nn.LSTM(8, 6)
        self.fc = nn.Linear(6, 1)

    def forward(self, x):
        batch_size = x.size(1)
        lstm_out, _ = self.lstm(self.embedding(x))
        out = self.fc(lstm_out.contiguous().view(-1, 6))
        return out.view(batch_size, -1)[:, -1]


class Classifier(nn.Module):
    def __init__(self, padding_idx=0):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, 8, padding_idx=padding_idx)
        self.lstm = nn.LSTM(8, 6, batch_first=True)
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        return self.fc(self.lstm(self.embedding(x))[1][0][-1])


def mixing():
    return TutorialMixing()


def saturated():
    """Weights scaled up: saturated gates, far from linear along the integration path."""
    model = Classifier()
    with torch.no_grad():
        for p in [*model.lstm.parameters(), model.fc.weight]:
            p.mul_(8.0)
    return model


def constant():
    """Predicts the first class for every row (the prediction task has one class)."""
    model = Classifier()
    with torch.no_grad():
        model.fc.bias.copy_(torch.tensor([50.0, -50.0]))
    return model


def no_padding_idx():
    return Classifier(padding_idx=None)
'''

PER_ROW = '''
import torch
from probe_rnn.models.adapters import IdsAdapter
from probe_rnn.plugins import register_adapter


@register_adapter("per-row")
class PerRow(IdsAdapter):
    """Calls the model once per row."""

    def forward(self, model, batch):
        return torch.cat([model(batch["ids"][i:i + 1, :int(n)])
                          for i, n in enumerate(batch["lengths"])])
'''


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """models.py, vocabularies (with and without <pad>), tables and one checkpoint per model."""
    folder = tmp_path_factory.mktemp("checks")
    (folder / "models.py").write_text(MODELS, encoding="utf-8")
    (folder / "plugins").mkdir()
    (folder / "plugins" / "per_row.py").write_text(PER_ROW, encoding="utf-8")
    names = load_dataset("names").sample(60, random_state=3)
    chars = sorted(set("".join(names["text"])))
    vocab = {"<pad>": 0, "<unk>": 1, **{c: i + 2 for i, c in enumerate(chars)}}
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    del vocab["<pad>"]
    (folder / "nopad.json").write_text(json.dumps(vocab), encoding="utf-8")
    names[["text", "label", "split"]].to_csv(folder / "names.csv", index=False)
    same = names[names["text"].str.len() == names["text"].str.len().mode()[0]]
    same[["text", "label"]].to_csv(folder / "same_length.csv", index=False)
    namespace: dict = {}
    exec(compile(MODELS, "models.py", "exec"), namespace)  # noqa: S102 - the test's own code
    for name in ("mixing", "saturated", "constant", "no_padding_idx"):
        torch.manual_seed(5)
        torch.save(namespace[name]().state_dict(), folder / f"{name}.pt")
    return folder


def _model(work: Path, name: str, *more: str) -> list[str]:
    return [str(work / f"{name}.pt"), "--model", f"{work / 'models.py'}:{name}", "--vocab",
            str(work / "vocab.json"), "--tokenizer", "char", *more]


QUICK = ["--tasks", "label", "--views", "output@last", "--folds", "2", "--no-mdl",
         "--no-random-baseline", "--attribution-rows", "0", "--no-umap", "--jobs", "1", "-q"]


@pytest.mark.slow
def test_a_row_mixing_model_is_named_before_any_work(work, tmp_path) -> None:
    data = ["--data", str(work / "names.csv")]
    line = assert_one_line_error(run_cli("inspect", *_model(work, "mixing"), *data),
                                 "TutorialMixing.forward(x) mixes the rows of a batch",
                                 "--allow-batch-dependence")
    assert "predictions change" in line
    out = tmp_path / "run"
    proc = run_cli("probe", *_model(work, "mixing", "--labels", "female,male"), *data,
                   "--out", str(out), *QUICK)
    assert_one_line_error(proc, "mixes the rows of a batch", "--allow-batch-dependence")
    assert not out.exists()  # before any work: no run folder


@pytest.mark.slow
def test_with_the_flag_it_is_probed_and_run_json_and_the_report_say_so(work, tmp_path) -> None:
    out = tmp_path / "run"
    proc = run_cli("probe", *_model(work, "mixing", "--labels", "female,male"), "--data",
                   str(work / "names.csv"), "--out", str(out), "--allow-batch-dependence",
                   *QUICK)
    assert proc.returncode == 0, proc.stderr
    assert "warning: TutorialMixing.forward(x) mixes the rows of a batch" in proc.stderr
    card = json.loads((out / "run.json").read_text())["model"]["batch_dependence"]
    assert card["per_row"] is False and card["allowed"] is True
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Warning: TutorialMixing.forward(x) mixes the rows of a batch" in page
    assert "allow_batch_dependence" in page


def test_a_legit_padded_model_passes_the_check(work, tmp_path) -> None:
    proc = run_cli("capture", *_model(work, "constant"), "--data", str(work / "names.csv"),
                   "--out", str(tmp_path / "states"))
    assert proc.returncode == 0, proc.stderr
    assert "batch" not in proc.stderr


@pytest.mark.slow
def test_attribute_prints_a_completeness_verdict(work, tmp_path) -> None:
    out = tmp_path / "attr"
    proc = run_cli("attribute", *_model(work, "saturated"), "--data", str(work / "names.csv"),
                   "--out", str(out), "--rows", "4", "--steps", "1")
    assert proc.returncode == 0, proc.stderr
    verdict = next(line for line in proc.stdout.splitlines() if line.startswith("completeness"))
    assert verdict.startswith("completeness: FAIL, the token attributions of ")
    assert "raise --steps (now 1) and run again" in verdict
    assert "twin" not in proc.stdout and "unrolled (step-by-step) copy" in proc.stdout
    manifest = json.loads((out / "manifest.json").read_text())["completeness"]
    errors = pd.read_parquet(out / "examples.parquet")["completeness_error"]
    assert manifest["passed"] is False
    assert manifest["tokens_failed"] == int((errors > 0.05).sum()) > 0


def test_an_adapter_calling_the_module_per_row_is_named(work, tmp_path) -> None:
    proc = run_cli("probe", *_model(work, "constant", "--labels", "female,male"), "--data",
                   str(work / "names.csv"), "--out", str(tmp_path / "run"), "--plugins",
                   str(work / "plugins"), "--adapter", "per-row", *QUICK)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "internal error" not in errors[0]  # was: internal IndexError
    assert "through adapter 'per-row' (PerRow) ran the recurrent module 'lstm' 60 times" in \
        errors[0]
    assert "an adapter that loops over rows or chunks is not supported" in errors[0]


@pytest.mark.slow
def test_a_task_with_one_class_is_one_summary_line(work, tmp_path) -> None:
    quick = [*QUICK]
    quick[1], quick[3] = "label,prediction", "output@last,h_n/L0/fwd"
    proc = run_cli("probe", *_model(work, "constant", "--labels", "female,male"), "--data",
                   str(work / "names.csv"), "--out", str(tmp_path / "run"), *quick)
    assert proc.returncode == 0, proc.stderr
    skipped = [line for line in proc.stderr.splitlines() if "skipped" in line]
    assert skipped == ["warning: task 'prediction' skipped on 2 cell(s) (trained; view(s) "
                       "output@last, h_n/L0/fwd): a single class (every probed row has the same "
                       "target: nothing to tell apart)"]
    assert "Warning:" not in proc.stderr and "warnings.warn" not in proc.stderr


@pytest.mark.slow
def test_pad_id_is_asked_for_only_when_a_batch_needs_padding(work, tmp_path) -> None:
    model = [str(work / "no_padding_idx.pt"), "--model",
             f"{work / 'models.py'}:no_padding_idx", "--vocab", str(work / "nopad.json"),
             "--tokenizer", "char"]
    same = run_cli("capture", *model, "--data", str(work / "same_length.csv"), "--out",
                   str(tmp_path / "same"))
    assert same.returncode == 0, same.stderr
    mixed = run_cli("capture", *model, "--data", str(work / "names.csv"), "--out",
                    str(tmp_path / "mixed"))
    line = assert_one_line_error(mixed, "rows of unequal length need padding", "--pad-id N")
    assert "the model's embedding has no padding_idx" not in line
