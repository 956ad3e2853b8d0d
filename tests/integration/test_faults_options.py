"""Numeric options are checked before any work, against what every stage accepts: a seed
outside ``[0, 2**32)`` (which used to fail only in the report stage, or as an internal error
when negative) and ``attribute --steps 0`` are one-line usage errors naming the option and
its range, and nothing is written. The tests check the option, the bound and the exit code,
not click's wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe_rnn.cli import main

COMMANDS = {
    "probe": ["probe", "model.pt", "--dataset", "names", "--out", "run"],
    "capture": ["capture", "model.pt", "--dataset", "names", "--out", "run"],
    "attribute": ["attribute", "model.pt", "--dataset", "names", "--out", "run"],
    "train": ["train", "--dataset", "names", "--out", "run/model.pt"],
    "compare-readouts": ["compare-readouts", "--dataset", "names", "--out", "run"],
    "demo": ["demo", "--out", "run"],
    "report": ["report", "run"],
    "inspect": ["inspect", "model.pt"],
}


def _error(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("seed", "bound"), [(2**32, "4294967295"), (-1, "0")])
def test_a_seed_every_stage_cannot_take_is_refused_up_front(command, seed, bound, tmp_path,
                                                            capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _error(capsys, [*COMMANDS[command], "--seed", str(seed)])
    assert "'--seed'" in line and bound in line and f"probe-rnn {command} --help" in line
    assert list(Path(tmp_path).iterdir()) == []


def test_attribute_steps_must_be_positive(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _error(capsys, [*COMMANDS["attribute"], "--steps", "0"])
    assert "'--steps'" in line and "1" in line
    assert list(Path(tmp_path).iterdir()) == []
