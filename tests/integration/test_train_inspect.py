"""`probe-rnn train` then `probe-rnn inspect` through the real CLI, and every checkpoint error."""

from __future__ import annotations

import pathlib
from pathlib import Path

import pytest
import torch

from tests.integration.cli_support import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A 2-layer BiLSTM trained for one epoch on the bundled names."""
    out = tmp_path_factory.mktemp("train") / "tmp" / "m.pt"
    proc = run_cli("train", "--dataset", "names", "--rnn", "lstm", "--layers", "2",
                   "--bidirectional", "--epochs", "1", "--hidden", "16", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("dev accuracy 0.") and "test accuracy 0." in last
    assert last.endswith(f"-> {out}")
    assert "epoch 1/1" in proc.stderr
    return out


def test_train_then_inspect(trained: Path) -> None:
    raw = torch.load(trained, weights_only=True)
    assert raw["format"] == "probe-rnn-checkpoint" and raw["config"]["bidirectional"] is True
    assert raw["meta"]["dataset"] == "dataset:names" and raw["meta"]["epochs"] == 1
    proc = run_cli("inspect", str(trained))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "LSTM" in out and "female" in out and "male" in out
    assert "probe-rnn-checkpoint v1" in out and "dataset:names" in out
    assert "char, vocabulary" in out


def test_inspect_foreign_state_dict_with_factory(trained: Path, tmp_path: Path) -> None:
    raw = torch.load(trained, weights_only=True)
    torch.save(raw["state_dict"], tmp_path / "sd.pt")
    assert_one_line_error(run_cli("inspect", str(tmp_path / "sd.pt")),
                          "bare state_dict", "--model package.module:function")
    factory = tmp_path / "make.py"
    factory.write_text(
        "import torch\n"
        "from probe_rnn.models import ModelConfig, RNNClassifier\n"
        f"RAW = torch.load({str(trained)!r}, weights_only=True)\n"
        "def build():\n"
        "    return {'model': RNNClassifier(ModelConfig.from_dict(RAW['config'])),\n"
        "            'labels': ['F', 'M']}\n"
    )
    proc = run_cli("inspect", str(tmp_path / "sd.pt"), "--model", f"{factory}:build")
    assert proc.returncode == 0, proc.stderr
    assert "state_dict + factory" in proc.stdout and "F, M" in proc.stdout


class _TouchOnLoad:
    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _bad_files(trained: Path, folder: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    data = trained.read_bytes()
    (folder / "empty.pt").write_bytes(b"")
    (folder / "truncated.pt").write_bytes(data[: len(data) // 2])
    (folder / "table.pt").write_text("text,label\nanna,female\n")
    raw = torch.load(trained, weights_only=True)
    torch.save({**raw, "format_version": 99}, folder / "future.pt")
    torch.save({**raw, "format": "keras"}, folder / "other.pt")
    torch.save(raw["state_dict"], folder / "state_dict.pt")
    torch.save({"x": _TouchOnLoad(folder / "code-ran")}, folder / "pickled.pt")
    return {
        "missing": (folder / "missing.pt", ("does not exist",)),
        "empty": (folder / "empty.pt", ("empty (0 bytes)",)),
        "truncated": (folder / "truncated.pt", ("truncated",)),
        "table": (folder / "table.pt", ("not a PyTorch file",)),
        "future": (folder / "future.pt", ("format_version 99", "upgrade probe-rnn")),
        "other": (folder / "other.pt", ("format 'keras'",)),
        "state_dict": (folder / "state_dict.pt", ("--model package.module:function",)),
        "pickled": (folder / "pickled.pt", ("arbitrary code", "--trust-checkpoint")),
    }


def test_every_checkpoint_error_is_one_line(trained: Path, tmp_path: Path) -> None:
    for _name, (path, needles) in _bad_files(trained, tmp_path).items():
        assert_one_line_error(run_cli("inspect", str(path)), *needles)
    assert not (tmp_path / "code-ran").exists()


def test_factory_import_error_is_one_line(trained: Path) -> None:
    proc = run_cli("inspect", str(trained), "--model", "no_such_pkg_q.models:build")
    assert_one_line_error(proc, "no_such_pkg_q.models", "ModuleNotFoundError")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--dataset", "names", "--rnn", "transformer"), ("error: --rnn ", "'transformer'")),
        (("--dataset", "names", "--readout", "first"), ("error: --readout ", "'first'")),
        (("--dataset", "names", "--data", "x.csv"), ("--data", "--dataset")),
        ((), ("--data", "--dataset")),
    ],
)
def test_train_argument_errors(tmp_path: Path, args, needles) -> None:
    # a refused value: its option first and the value given, not the wording around them
    proc = run_cli("train", *args, "--epochs", "1", "--out", str(tmp_path / "m.pt"))
    assert_one_line_error(proc, *needles)
    assert not (tmp_path / "m.pt").exists()


def test_train_from_a_csv_file_with_word_tokens(tmp_path: Path) -> None:
    rows = [f"{'good fine nice'.split()[i % 3]} day {i}" for i in range(30)]
    rows += [f"{'bad awful poor'.split()[i % 3]} day {i}" for i in range(30)]
    table = tmp_path / "reviews.csv"
    table.write_text("review,stars\n" + "".join(
        f"{text},{5 if i < 30 else 1}\n" for i, text in enumerate(rows)))
    out = tmp_path / "m.pt"
    proc = run_cli("train", "--data", str(table), "--text", "review", "--label", "stars",
                   "--tokenizer", "word", "--rnn", "gru", "--readout", "mean", "--epochs", "2",
                   "--hidden", "8", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    raw = torch.load(out, weights_only=True)
    assert raw["labels"] == ["1", "5"] and raw["tokenizer"]["kind"] == "word"
    assert raw["meta"]["dataset"] == str(table) and raw["config"]["readout"] == "mean"
