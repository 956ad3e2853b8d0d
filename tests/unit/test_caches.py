"""probe_rnn.caches: the cache folder is $PROBE_RNN_CACHE or a per-user folder in the temporary
folder (never under $HOME), and a library variable the user set is kept."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from probe_rnn.caches import CACHE_ENV, cache_folder, use_cache_folder


def test_the_default_folder_is_per_user_in_the_temporary_folder(monkeypatch):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    folder = cache_folder()
    assert folder.parent == Path(tempfile.gettempdir())
    assert folder.name == f"probe-rnn-cache-{os.getuid()}"
    assert not folder.is_relative_to(Path.home())


def test_unset_variables_point_into_the_cache_and_set_ones_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert use_cache_folder() == tmp_path / "c"
    assert os.environ["MPLCONFIGDIR"] == str(tmp_path / "c" / "matplotlib")
    assert (tmp_path / "c" / "matplotlib").is_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")
    assert not (tmp_path / "c" / "numba").exists()
