"""Hostile or broken checkpoints through the CLI: a config declaring hidden = 2,000,000,000, one
declaring more memory than there is, NaN/inf weights, and a ``torch.save`` file pickling a
function: each one line (exit 2) naming what is wrong and what to do."""

from __future__ import annotations

import math
import os

import pandas as pd
import pytest
import torch

from probe_rnn.cli import main
from probe_rnn.models import Architecture, TrainBudget, train
from probe_rnn.models.checkpoint import read_checkpoint, save_checkpoint

DF = pd.DataFrame({"text": ["ab", "ba", "abc", "cab"] * 5, "label": ["p", "q", "p", "q"] * 5})


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("model-file")
    save_checkpoint(folder / "m.pt", train(DF, Architecture(hidden=4, embedding_dim=3),
                                           TrainBudget(epochs=1), seed=0).bundle)
    return folder


def _line(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_info.value.code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: ") and "internal error" not in lines[0]
    return lines[0]


@pytest.mark.parametrize(("hidden", "needle"), [
    (2_000_000_000, "declares sizes no model can have (hidden=2000000000"),
    (400_000, "GiB of memory available: it was not allocated"),  # ~5 TB of LSTM weights
])
def test_declared_sizes_are_checked_before_allocation(saved, tmp_path, capsys, hidden, needle):
    raw = read_checkpoint(saved / "m.pt")
    raw["config"]["hidden"] = hidden
    torch.save(raw, tmp_path / "crafted.pt")
    assert needle in _line(capsys, "inspect", str(tmp_path / "crafted.pt"))


def test_nan_weights_are_named(saved, tmp_path, capsys):
    raw = read_checkpoint(saved / "m.pt")
    raw["state_dict"]["rnn.weight_ih_l0"][1, 1] = math.inf
    torch.save(raw, tmp_path / "inf.pt")
    line = _line(capsys, "inspect", str(tmp_path / "inf.pt"))
    assert "are not finite: rnn.weight_ih_l0 holds 0 NaN and 1 inf" in line
    assert "changed during the call" not in line


class _Runs:
    def __reduce__(self):  # noqa: ANN204
        return (os.getcwd, ())


def test_a_pickled_function_names_the_pickle_and_trust_checkpoint(tmp_path, capsys):
    torch.save({"model": _Runs()}, tmp_path / "code.pt")
    line = _line(capsys, "inspect", str(tmp_path / "code.pt"))
    assert "holds a pickled object (" in line and "getcwd)" in line
    assert "--trust-checkpoint" in line and "damaged" not in line and "truncated" not in line
