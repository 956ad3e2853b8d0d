"""A per-cell time limit (``--cell-timeout``): a hung probe or task ends its cell, not the run.

:func:`time_limit` arms a ``SIGALRM`` timer around one cell; when it fires, the cell's code is
interrupted with :class:`CellTimeout`, which the cell records as its failure (naming the
probe) while the run goes on. Cells run in the main thread of their process (the CLI's, or a
joblib/loky worker's), where Python delivers signals. The signal interrupts Python code and
sleeps at once; a single long call into compiled code (one huge BLAS call) is interrupted when
it returns to Python.
"""

from __future__ import annotations

import signal
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from probe_rnn.errors import ConfigError, Mention, Part, render


class CellTimeout(Exception):
    """A cell ran longer than its time limit (raised inside the cell's code); ``parts`` is its
    message with the limit as a :class:`~probe_rnn.errors.Mention`."""

    def __init__(self, seconds: float) -> None:
        self.parts: tuple[Part, ...] = ("did not finish within ",
                                        Mention("cell_timeout", f"{seconds:g}"),
                                        " s and was stopped")
        super().__init__(render(self.parts))
        self.seconds = seconds

    def __reduce__(self) -> tuple[type, tuple[float]]:
        return type(self), (self.seconds,)


def timer_seconds(seconds: float | None) -> float | None:
    """A valid ``cell_timeout`` (:data:`probe_rnn.validation.CELL_TIMEOUT`) as the timer's
    seconds: None or 0 is no limit; a limit needs POSIX interval timers."""
    if seconds is None or seconds == 0:
        return None
    if not hasattr(signal, "setitimer"):
        raise ConfigError("a time limit per cell needs POSIX interval timers (Linux, macOS): "
                          "leave ", Mention("cell_timeout"), " out on this platform")
    return float(seconds)


def checked_timeout(cell_timeout: float | None, jobs: int, client: Any) -> float | None:
    """A valid ``cell_timeout`` as the timer's seconds (None or 0: no limit), refused with a
    Dask client."""
    cell_timeout = timer_seconds(cell_timeout)
    if cell_timeout and client is not None:
        raise ConfigError(Mention("cell_timeout"), " works with local processes only (a Dask "
                          "worker runs cells off its main thread, where no alarm can stop "
                          "them): leave ", Mention("cell_timeout"), " out with a scheduler (or "
                          "run without one)")
    if cell_timeout and jobs == 1 and threading.current_thread() is not threading.main_thread():
        warnings.warn("cell_timeout has no effect with jobs=1 outside the main thread (no "
                      "signal can reach it there): use jobs >= 2", stacklevel=3)
    return cell_timeout


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CellTimeout` in the block if it runs longer than ``seconds`` (None: no
    limit). Outside the main thread, where no signal can be delivered, no limit is set."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise CellTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
