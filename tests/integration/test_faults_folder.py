"""``--out`` is checked before any work, and a folder probe-rnn did not write is never written
into: every command with ``--out`` refuses the user's own folder (one line naming the folder and
``--force-out``, exit 2, every file byte-identical after), an empty ``--out`` (an unset
``$VAR``), a device, a file, a path below a file and a read-only folder; inside a run folder a
recapture deletes only the arrays its own store wrote."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from probe_rnn.cli import main
from probe_rnn.data import load_dataset
from probe_rnn.models import Architecture, TrainBudget, save_checkpoint, train
from probe_rnn.run_folder import RUN_MARKER


def _tree(folder: Path) -> dict[str, str]:
    """sha256 of every file below ``folder`` (relative path -> digest)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the CLI in-process; its exit code and its stderr lines."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    code = exit_info.value.code
    return (0 if code is None else int(code)), "\n".join(err)


def _one_line(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


@pytest.fixture
def users_folder(tmp_path: Path) -> Path:
    """The user's own folder, named like a run's files (the campaign's data-loss case)."""
    folder = tmp_path / "mine"
    (folder / "journal").mkdir(parents=True)
    (folder / "states" / "views").mkdir(parents=True)
    for name, text in {"index.html": "<p>my page</p>", "results.csv": "a,b\n1,2\n",
                       "run.json": '{"mine": true}', "cells.csv": "x\n",
                       "diagnosis.csv": "y\n", "journal/cell.json": "{}"}.items():
        (folder / name).write_text(text)
    np.save(folder / "states" / "views" / "embedding.npy", np.arange(6.0))
    return folder


COMMANDS = {
    "probe": ["probe", "model.pt", "--dataset", "names"],
    "capture": ["capture", "model.pt", "--dataset", "names"],
    "attribute": ["attribute", "model.pt", "--dataset", "names"],
    "demo": ["demo"],
    "compare-readouts": ["compare-readouts", "--dataset", "names"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_folder_probe_rnn_did_not_write_is_refused_untouched(command, users_folder, capsys):
    before = _tree(users_folder)
    code, err = _run(capsys, *COMMANDS[command], "--out", str(users_folder))
    _one_line(code, err, f"--out {users_folder} is not a probe-rnn run folder", "index.html",
              "--force-out")
    assert _tree(users_folder) == before
    assert not (users_folder / RUN_MARKER).exists()


def test_force_out_writes_into_it_and_keeps_the_users_files(users_folder, capsys):
    before = _tree(users_folder)
    code, err = _run(capsys, "capture", str(users_folder / "missing.pt"), "--dataset", "names",
                     "--out", str(users_folder), "--force-out")
    _one_line(code, err, "missing.pt")  # past the folder check: the checkpoint is named
    after = _tree(users_folder)
    assert set(after) == set(before) | {RUN_MARKER}
    assert {k: after[k] for k in before} == before


def test_train_and_report_do_not_replace_a_file_they_did_not_write(users_folder, capsys):
    before = _tree(users_folder)
    code, err = _run(capsys, "train", "--dataset", "names", "--out",
                     str(users_folder / "results.csv"))
    _one_line(code, err, "results.csv exists and was not written by probe-rnn", "--force-out")
    code, err = _run(capsys, "report", str(users_folder))  # would write its index.html
    _one_line(code, err, "index.html exists and was not written by probe-rnn", "--force-out")
    assert _tree(users_folder) == before


def test_empty_out_is_refused_and_the_current_folder_untouched(tmp_path, capsys, monkeypatch):
    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    before = _tree(tmp_path)
    for args in (["probe", "model.pt", "--dataset", "names", "--out", ""],
                 ["demo", "--out="], ["train", "--dataset", "names", "--out", " "]):
        code, err = _run(capsys, *args)
        _one_line(code, err, "--out is empty (an unset $VARIABLE?)", "e.g. --out ")
    assert _tree(tmp_path) == before


def test_dev_null_is_called_a_device_not_a_folder(capsys):
    code, err = _run(capsys, *COMMANDS["capture"], "--out", os.devnull)
    _one_line(code, err, f"--out {os.devnull} is a device or special file, not a folder",
              "give a folder to write to, e.g. --out ")
    assert Path(os.devnull).is_char_device()


def test_a_special_file_is_never_replaced_by_a_checkpoint(tmp_path, capsys):
    # a FIFO stands in for /dev/null: an atomic save would replace it with a regular file
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, err = _run(capsys, "train", "--dataset", "names", "--epochs", "1", "--out", str(fifo))
    _one_line(code, err, f"--out {fifo} is a device or special file, not a regular file",
              "e.g. --out model.pt")
    assert fifo.is_fifo()


def test_a_file_or_a_path_below_a_file_is_refused(tmp_path, capsys):
    file = tmp_path / "data.csv"
    file.write_text("text,label\n")
    before = _tree(tmp_path)
    code, err = _run(capsys, *COMMANDS["probe"], "--out", str(file))
    _one_line(code, err, "is a file, not a folder", "give a new or empty folder with --out")
    code, err = _run(capsys, *COMMANDS["demo"], "--out", str(file / "run"))
    _one_line(code, err, "cannot be created", f"{file} is a file, not a folder", "another --out")
    code, err = _run(capsys, "train", "--dataset", "names", "--out", str(tmp_path))
    _one_line(code, err, "is a folder, not a file", "e.g. --out ")
    assert _tree(tmp_path) == before


def test_a_read_only_out_names_the_fix(tmp_path, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    # the tests may run as root, for whom a chmod'ed folder stays writable: deny as the OS would
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if Path(path) == locked
                        else real_access(path, mode, **kw))
    code, err = _run(capsys, *COMMANDS["capture"], "--out", str(locked / "run"))
    _one_line(code, err, f"--out {locked / 'run'} is read-only", f"chmod u+w {locked}",
              "give a folder you can write to with --out")
    assert list(locked.iterdir()) == []


def test_a_refused_run_leaves_no_new_folder(tmp_path, capsys):
    out = tmp_path / "new"
    code, err = _run(capsys, "capture", str(tmp_path / "missing.pt"), "--dataset", "names",
                     "--out", str(out))
    _one_line(code, err, "missing.pt")
    assert not out.exists()


def test_recapture_deletes_only_the_stores_own_arrays(tmp_path, capsys):
    df = load_dataset("synthetic-last").head(40)
    data = tmp_path / "data.csv"
    df[["text", "label"]].to_csv(data, index=False)
    result = train(df, Architecture(hidden=4, embedding_dim=4), TrainBudget(epochs=1),
                   tokenizer="word", seed=0)
    save_checkpoint(tmp_path / "model.pt", result.bundle)
    out = tmp_path / "store"
    base = ["capture", str(tmp_path / "model.pt"), "--data", str(data), "--out", str(out),
            "--views", "output@last"]
    assert _run(capsys, *base)[0] == 0
    assert (out / RUN_MARKER).is_file()
    mine = out / "views" / "my_notes.npy"
    np.save(mine, np.ones(3))
    before = hashlib.sha256(mine.read_bytes()).hexdigest()
    code, err = _run(capsys, *base[:-1], "h_n/L0/fwd")  # other views: the store is rewritten
    assert code == 0, err
    names = sorted(p.name for p in (out / "views").iterdir())
    assert "my_notes.npy" in names and len(names) == 2, names
    assert hashlib.sha256(mine.read_bytes()).hexdigest() == before
