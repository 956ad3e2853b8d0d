"""One run at a time per run folder: a lock file holding the owner's PID.

``with run_lock(folder):`` creates ``folder/.probe-rnn.lock`` atomically (``O_EXCL``) with the
process id and removes it on exit. A second run into the same folder fails at once with a
one-line error naming the other run's PID; a lock left by a process that no longer exists
(killed with ``kill -9``, a crash) is taken over.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from probe_rnn.errors import ConfigError, Mention

LOCK_NAME = ".probe-rnn.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), "" where unknown: with the
    PID it names one process, so a PID reused by another process is told apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _owner(lock: Path) -> int | None:
    """The lock's live owner's PID, or None when the lock is stale (its process is gone, or
    its PID now names another process than the one that wrote it)."""
    try:
        fields = lock.read_text().split()
        pid = int(fields[0]) if fields else 0
    except (OSError, ValueError):
        return None
    if pid <= 0 or not _alive(pid):
        return None
    written, now = (fields[1] if len(fields) > 1 else ""), _started(pid)
    return None if written and now and written != now else pid


@contextmanager
def run_lock(folder: str | Path) -> Iterator[Path]:
    """Hold the run folder's lock for the ``with`` block."""
    lock = Path(folder) / LOCK_NAME
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid = _owner(lock)
            if pid is not None and pid != os.getpid():
                raise ConfigError(
                    f"run folder {folder} is in use by another probe-rnn run (PID {pid}): "
                    "wait for it to finish, or give another ", Mention("out_dir")) from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{os.getpid()} {_started(os.getpid())}\n")
        break
    else:  # pragma: no cover - another process won the race twice
        raise ConfigError(f"run folder {folder} is in use by another probe-rnn run")
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)
