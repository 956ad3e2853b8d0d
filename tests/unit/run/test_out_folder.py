"""The ``--out`` gate (:mod:`probe_rnn.run.out_folder`), the run lock's message in the CLI's words,
and a store's clean-up that deletes only the arrays the store wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from probe_rnn.capture.store import MANIFEST, clear_store
from probe_rnn.cli import _in_cli_words
from probe_rnn.errors import ConfigError
from probe_rnn.run.lock import LOCK_NAME, run_lock
from probe_rnn.run.out_folder import check_out_file, claim_folder, claimed_folder, is_run_folder
from probe_rnn.run_folder import RUN_MARKER


def test_a_new_or_empty_folder_is_claimed_and_marked(tmp_path):
    for folder in (tmp_path / "a" / "b", tmp_path / "empty"):
        if folder.name == "empty":
            folder.mkdir()
        assert claim_folder(folder) == folder
        assert is_run_folder(folder)
        assert json.loads((folder / RUN_MARKER).read_text())["tool"] == "probe-rnn"
        (folder / "user.txt").write_text("x")
        claim_folder(folder)  # ours now: claimed again whatever it holds


def test_a_foreign_folder_is_refused_in_library_words(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"out_dir=.* is not a probe-rnn run folder .*"
                       r"notes\.txt.*force_out=True"):
        claim_folder(tmp_path)
    assert not is_run_folder(tmp_path)
    claim_folder(tmp_path, force_out=True)
    assert is_run_folder(tmp_path) and (tmp_path / "notes.txt").read_text() == "mine"


def test_a_failed_block_removes_the_folder_it_created_only(tmp_path):
    new = tmp_path / "new"
    with pytest.raises(RuntimeError), claimed_folder(new):
        raise RuntimeError("model failed")
    assert not new.exists()
    with pytest.raises(RuntimeError), claimed_folder(new):
        (new / "results.csv").write_text("kept")
        raise RuntimeError("late stage failed")
    assert (new / "results.csv").read_text() == "kept"


def test_an_output_file_is_replaced_only_when_ours(tmp_path):
    page = tmp_path / "index.html"
    page.write_text("<p>mine</p>")
    with pytest.raises(ConfigError, match="not written by probe-rnn"):
        check_out_file(page, ours=lambda p: False)
    assert check_out_file(page, ours=lambda p: True) == page
    assert check_out_file(page, force_out=True) == page
    assert check_out_file(tmp_path / "new.pt") == tmp_path / "new.pt"


def test_the_lock_message_names_the_out_option(tmp_path):
    (tmp_path / LOCK_NAME).write_text("1\n")  # PID 1 is alive in every process tree
    with pytest.raises(ConfigError) as info, run_lock(tmp_path):
        pass
    assert info.value.parameters == ("out_dir",)
    line = _in_cli_words(info.value)
    assert "--out" in line and "out_dir" not in line


def test_clear_store_deletes_only_the_arrays_its_manifest_lists(tmp_path):
    views = tmp_path / "views"
    views.mkdir()
    for name in ("ours.npy", "begun.npy", "users.npy"):
        np.save(views / name, np.zeros(2))
    (tmp_path / MANIFEST).write_text(json.dumps({"views": {"v": {"file": "views/ours.npy"}}}))
    (tmp_path / "offsets.npy").write_bytes(b"x")
    clear_store(tmp_path, ["views/begun.npy", "../outside.npy"])
    assert sorted(os.listdir(views)) == ["users.npy"]
    assert not (tmp_path / MANIFEST).exists() and not (tmp_path / "offsets.npy").exists()


def test_clear_store_without_a_manifest_keeps_every_array(tmp_path):
    (tmp_path / "views").mkdir()
    np.save(tmp_path / "views" / "embedding.npy", np.zeros(2))
    clear_store(tmp_path)
    assert Path(tmp_path / "views" / "embedding.npy").is_file()


def test_a_folder_another_run_holds_is_left_to_the_lock(tmp_path):
    (tmp_path / LOCK_NAME).write_text("1\n")
    assert is_run_folder(tmp_path)
    claim_folder(tmp_path)  # the run lock, not the folder check, then names the other run
    with pytest.raises(ConfigError, match=r"in use by another probe-rnn run \(PID 1\)"), \
            run_lock(tmp_path):
        pass
