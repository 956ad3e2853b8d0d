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

from probe_rnn.errors import ConfigError

__all__ = ["LOCK_NAME", "run_lock"]

LOCK_NAME = ".probe-rnn.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _owner(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip() or "0") or None
    except (OSError, ValueError):
        return None


@contextmanager
def run_lock(folder: str | Path) -> Iterator[Path]:
    """Hold the run folder's lock for the ``with`` block."""
    lock = Path(folder) / LOCK_NAME
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid = _owner(lock)
            if pid is not None and pid != os.getpid() and _alive(pid):
                raise ConfigError(
                    f"run folder {folder} is in use by another probe-rnn run (PID {pid}): "
                    "wait for it to finish, or give another out_dir=", parameter="out_dir"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{os.getpid()}\n")
        break
    else:  # pragma: no cover - another process won the race twice
        raise ConfigError(f"run folder {folder} is in use by another probe-rnn run")
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)
