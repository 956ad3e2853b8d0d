"""Where a command writes (``--out``): checked before any work, and never someone else's folder.

Every folder a probe-rnn command writes (a probe run, a demo, a state store, attribution files,
a readouts study) carries :data:`~probe_rnn.run_folder.RUN_MARKER`, a small JSON file written
into it first. :func:`claimed_folder` is the one gate: before any work it refuses

* an empty path (``--out ''``, an unset ``$VARIABLE``), a device such as ``/dev/null``, a file,
  a path below a file, and a folder this user cannot write to, each with a one-line error naming
  the fix;
* an existing folder that holds files but no marker (not a probe-rnn run): the user's own
  folder is never written into unless ``force_out=True`` (``--force-out``) says so.

A folder with the marker is ours, so a later run may replace the files it wrote there (each
stage replaces or removes only the files of its own names; a state store deletes only the
arrays its manifest lists). :func:`check_out_file` is the same gate for commands that write one
file (``train``'s checkpoint, ``report --out``'s HTML): an existing file is replaced only when
probe-rnn wrote it (the caller says how to tell) or with ``force_out=True``.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from probe_rnn import __version__
from probe_rnn.errors import ConfigError, Mention

_EXAMPLE = "reports/run"
_FORCE = Mention("force_out", "True")


def is_run_folder(folder: str | Path) -> bool:
    """True when ``folder`` holds probe-rnn's run marker (a probe-rnn command wrote it) or a
    run's lock (a probe-rnn run is writing it now; :mod:`probe_rnn.run.lock` then names it)."""
    from probe_rnn.run.lock import LOCK_NAME
    from probe_rnn.run_folder import RUN_MARKER

    return (Path(folder) / RUN_MARKER).is_file() or (Path(folder) / LOCK_NAME).is_file()


def _writable_error(path: Path, where: Path, option: str) -> ConfigError:
    return ConfigError(Mention(option, str(path)), f" is read-only (cannot write in {where}): "
                       "give a folder you can write to with ", Mention(option),
                       f", or make it writable (chmod u+w {where})")


def check_out_path(out: str | Path, kind: str = "folder", option: str = "out_dir") -> Path:
    """``out`` as a path after the checks that need no writing: not empty, not a device, a
    folder (``kind="folder"``) or not a folder (``kind="file"``), and below a folder this user
    can write to.

    Raises
    ------
    ConfigError
        One line naming the problem and the fix (the CLI says ``--out``).
    """
    example = _EXAMPLE if kind == "folder" else "model.pt"
    if out is None or not str(out).strip():
        raise ConfigError(Mention(option), " is empty (an unset $VARIABLE?): give the place to "
                          "write to, e.g. ", Mention(option, example))
    path = Path(out)
    if path.is_symlink() and not path.exists():
        raise ConfigError(Mention(option, str(path)), f" is a symbolic link to "
                          f"{os.readlink(path)}, which does not exist: give another ",
                          Mention(option), ", or " + ("create that folder" if kind == "folder"
                                                      else "remove the link"))
    if path.exists():
        mode = path.stat().st_mode
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            raise ConfigError(Mention(option, str(path)), " is a device or special file, not a "
                              f"{'folder' if kind == 'folder' else 'regular file'}: give a "
                              f"{kind} to write to, e.g. ", Mention(option, example))
        if kind == "folder" and not stat.S_ISDIR(mode):
            raise ConfigError(Mention(option, str(path)), " is a file, not a folder: give a new "
                              "or empty folder with ", Mention(option), ", e.g. ",
                              Mention(option, _EXAMPLE))
        if kind == "file" and stat.S_ISDIR(mode):
            raise ConfigError(Mention(option, str(path)), " is a folder, not a file: give the "
                              "file to write, e.g. ", Mention(option, str(path / "model.pt")))
    parent = path if kind == "folder" else path.parent
    existing = parent.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(Mention(option, str(path)), f" cannot be created: {existing} is a "
                          "file, not a folder; give another ", Mention(option))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise _writable_error(path, existing, option)
    return path


def _contents(folder: Path, n: int = 4) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def _write_marker(folder: Path, option: str) -> None:
    from probe_rnn.run_folder import RUN_MARKER

    marker = folder / RUN_MARKER
    if marker.is_file():
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"tool": "probe-rnn", "version": __version__}) + "\n",
                          encoding="utf-8")
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise _writable_error(folder, Path(exc.filename or folder), option) from None
        raise


def claim_folder(out: str | Path, force_out: bool = False, option: str = "out_dir") -> Path:
    """Check ``out`` (:func:`check_out_path`), refuse a folder that is not a probe-rnn run
    unless it is empty or ``force_out``, and mark it as a run (creating it)."""
    path = check_out_path(out, "folder", option)
    if path.exists() and not is_run_folder(path) and any(path.iterdir()) and not force_out:
        raise ConfigError(Mention(option, str(path)), " is not a probe-rnn run folder and "
                          f"already holds files ({_contents(path)}): give a new or empty folder "
                          "with ", Mention(option), ", or pass ", _FORCE, " to write into it "
                          "(probe-rnn's own file names there are replaced)")
    _write_marker(path, option)
    return path


@contextmanager
def claimed_folder(out: str | Path, force_out: bool = False,
                   option: str = "out_dir") -> Iterator[Path]:
    """:func:`claim_folder` for the ``with`` block: a folder created here that still holds
    nothing but the marker when the block fails is removed again (a refused or failed command
    leaves no empty folder behind)."""
    created = not (bool(str(out).strip()) and Path(out).exists())
    path = claim_folder(out, force_out, option)
    try:
        yield path
    except BaseException:
        from probe_rnn.run_folder import RUN_MARKER

        if created and path.is_dir() and [p.name for p in path.iterdir()] == [RUN_MARKER]:
            (path / RUN_MARKER).unlink(missing_ok=True)
            path.rmdir()
        raise


def check_out_file(out: str | Path, force_out: bool = False,
                   ours: Callable[[Path], bool] | None = None, option: str = "out") -> Path:
    """Check a single output file ``out`` before any work: the path checks of
    :func:`check_out_path`, and an existing file is replaced only when ``ours(path)`` says
    probe-rnn wrote it, or with ``force_out``."""
    path = check_out_path(out, "file", option)
    if path.exists() and not force_out and not (ours is not None and ours(path)):
        raise ConfigError(Mention(option, str(path)), " exists and was not written by "
                          "probe-rnn: give another ", Mention(option), ", or pass ", _FORCE,
                          " to replace it")
    return path


def is_probe_rnn_html(path: Path) -> bool:
    """True for an HTML page probe-rnn wrote (its ``generator`` meta tag)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return '<meta name="generator" content="probe-rnn' in head


def is_probe_rnn_checkpoint(path: Path) -> bool:
    """True for a checkpoint probe-rnn's ``train`` wrote (read safely: no code runs)."""
    from probe_rnn.models.checkpoint import FORMAT, read_checkpoint

    try:
        obj = read_checkpoint(path)
    except Exception:  # noqa: BLE001 - anything unreadable is not ours
        return False
    return isinstance(obj, dict) and obj.get("format") == FORMAT


#: Names probe-rnn writes at the top of a folder it claims (run, capture store, study).
_WRITTEN = frozenset({
    "run.json", "results.csv", "results.parquet", "cells.csv", "diagnosis.csv",
    "values.parquet", "train-rows.csv", "train-rows.parquet", "index.html", "manifest.json",
    "meta.parquet", "offsets.npy", "token_ids.npy",
    "study.json", "summary.csv", "pairs.csv", "runs.csv", "curves.csv", "probing.csv",
    "journal", "states", "states-random", "attribution", "projections", "views", "readouts"})


def check_inputs_apart(out: str | Path | None, inputs: dict[str, Any], kind: str) -> None:
    """Refuse an input file (``--data``, the checkpoint, ``--vocab``) that the command would
    replace: the ``out`` file itself, or a file inside the ``out`` folder at a name or in a
    subfolder probe-rnn writes (refused even with ``--force-out``: it is being read)."""
    if out is None or not str(out).strip():
        return
    target = Path(out).expanduser().resolve()
    for option, value in inputs.items():
        if not isinstance(value, str | Path) or not Path(value).is_file():
            continue
        source = Path(value).resolve()
        if kind != "folder":
            clash = source == target
        else:
            inside = source.relative_to(target).parts if source.is_relative_to(target) else ()
            clash = bool(inside) and inside[0] in _WRITTEN
        if clash:
            raise ConfigError(f"{option} {value} would be overwritten by this command's output in "
                        f"--out {out}: move the input out of it or give another --out")
