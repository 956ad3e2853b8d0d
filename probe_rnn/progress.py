"""Progress of long stages: a Rich bar on a terminal, a live display in a notebook, plain
periodic lines elsewhere.

Every long stage (capture, probing, attribution, projections) reports ``done``/``total``
through a :class:`Progress`. On a terminal it draws a Rich bar with done/total, elapsed time
and ETA. In a Jupyter kernel each stage gets one IPython display (``display_id``) that is
updated in place, at most every ``NOTEBOOK_INTERVAL`` seconds and once more when the stage ends,
so the cell keeps the stage's final line. Elsewhere (CI logs, ``| tee``) it prints one plain line
with the same figures at the first update, at least every ``interval`` seconds while work goes
on (30 s by default, ``PROBE_RNN_PROGRESS_INTERVAL`` overrides it), and when the stage ends.
``quiet=True`` prints nothing. The library functions take plain callbacks
(``progress(done, total)``); :meth:`Progress.stage` hands one out.

The kernel is recognised without importing IPython: only when IPython is already imported and
its shell is a ``ZMQInteractiveShell`` (a Jupyter kernel; IPython in a terminal is not one).
"""

from __future__ import annotations

import html
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

DEFAULT_INTERVAL = 30.0
#: Seconds between two updates of a stage's notebook display (at most 5 a second).
NOTEBOOK_INTERVAL = 0.2


def in_kernel() -> bool:
    """True inside a Jupyter kernel (an IPython ``ZMQInteractiveShell``); imports nothing."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return shell is not None and any(
        cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)


def format_duration(seconds: float) -> str:
    """``75.2`` -> ``"1:15"``, ``3725`` -> ``"1:02:05"``; unknown (NaN/inf) -> ``"?"``."""
    if seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds < 0:
        return "?"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Stage:
    """One stage's progress; call it as ``stage(done, total)`` (total may change)."""

    def __init__(self, owner: Progress, name: str, total: int, unit: str) -> None:
        self.owner, self.name, self.unit = owner, name, unit
        self.total, self.done = int(total), 0
        self.start = time.perf_counter()
        self._last_line = -float("inf")
        self._printed = -1
        self._bar: Any = None
        self._task: Any = None
        self._display: Any = None

    # -- figures -------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Seconds since the stage started."""
        return time.perf_counter() - self.start

    def eta(self) -> float:
        """Seconds left at the rate so far (NaN before the first unit is done)."""
        if self.done <= 0 or self.total <= 0:
            return float("nan")
        return self.elapsed / self.done * max(self.total - self.done, 0)

    def line(self) -> str:
        """``probing  12/120 cells (10%)  elapsed 0:31  ETA 4:39``."""
        share = f" ({self.done / self.total:.0%})" if self.total else ""
        unit = f" {self.unit}" if self.unit else ""
        return (f"{self.name:<12} {self.done}/{self.total}{unit}{share}  "
                f"elapsed {format_duration(self.elapsed)}  ETA {format_duration(self.eta())}")

    # -- updates -------------------------------------------------------------------------
    def __call__(self, done: int, total: int | None = None, *_: Any) -> None:
        self.done = int(done)
        if total is not None:
            self.total = int(total)
        self.owner._show(self)

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units done."""
        self(self.done + n)

    def bundle(self) -> dict[str, str]:
        """The stage as a display's MIME bundle: an HTML bar with :meth:`line`, and the line."""
        line = self.line()
        bar = (f'<progress value="{min(self.done, self.total)}" max="{self.total}" '
               'style="width:16em;vertical-align:middle"></progress> ' if self.total else "")
        return {"text/plain": line,
                "text/html": f'<div>{bar}<code style="white-space:pre">'
                             f"{html.escape(line)}</code></div>"}


class Progress:
    """Where stages report progress.

    Parameters
    ----------
    stream : text stream, optional
        Where lines and bars go (default: ``sys.stderr``, so stdout holds only results).
    quiet : bool
        Print nothing.
    interval : float, optional
        Seconds between plain lines when ``stream`` is not a terminal (default 30, or
        ``PROBE_RNN_PROGRESS_INTERVAL``).
    terminal : bool, optional
        Force the Rich bar (True) or plain lines (False); default: ``stream.isatty()``.
    notebook : bool, optional
        Force (True) or forbid (False) one live IPython display per stage; default: in a
        Jupyter kernel when neither ``stream`` nor ``terminal`` is given.
    """

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False,
                 interval: float | None = None, terminal: bool | None = None,
                 notebook: bool | None = None) -> None:
        self.stream = stream
        self.quiet = quiet
        env = os.environ.get("PROBE_RNN_PROGRESS_INTERVAL")
        self.interval = float(interval if interval is not None else env or DEFAULT_INTERVAL)
        self._terminal = terminal
        self._notebook = notebook

    @property
    def out(self) -> TextIO:
        """The stream written to."""
        return self.stream if self.stream is not None else sys.stderr

    @property
    def terminal(self) -> bool:
        """True when a Rich bar is drawn."""
        if self._terminal is not None:
            return self._terminal
        isatty = getattr(self.out, "isatty", None)
        return bool(isatty and isatty())

    @property
    def notebook(self) -> bool:
        """True when each stage is one live IPython display."""
        if self._notebook is not None:
            return self._notebook
        return self.stream is None and self._terminal is None and in_kernel()

    @contextmanager
    def stage(self, name: str, total: int = 0, unit: str = "") -> Iterator[Stage]:
        """A stage's callback for the duration of the ``with`` block."""
        stage = Stage(self, name, total, unit)
        if not self.quiet and self.notebook:
            stage._display = _live_display(stage)
            if stage._display is not None:
                stage._last_line, stage._printed = time.perf_counter(), stage.done
        if stage._display is None and not self.quiet and self.terminal:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            stage._bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn(unit), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=Console(file=self.out, highlight=False), transient=True,
            )
            stage._bar.start()
            stage._task = stage._bar.add_task(name, total=total or None)
        try:
            yield stage
        finally:
            if stage._display is not None:  # the final figures and elapsed time stay shown
                stage._display.update(stage.bundle(), raw=True)
            elif stage._bar is not None:
                stage._bar.stop()
            elif not self.quiet and stage.done and stage._printed != stage.done:
                self._print(stage.line())

    def _show(self, stage: Stage) -> None:
        if self.quiet:
            return
        if stage._bar is not None:
            stage._bar.update(stage._task, completed=stage.done, total=stage.total or None)
            return
        now = time.perf_counter()
        if stage._display is not None:
            if now - stage._last_line >= NOTEBOOK_INTERVAL:
                stage._last_line, stage._printed = now, stage.done
                stage._display.update(stage.bundle(), raw=True)
            return
        if now - stage._last_line >= self.interval or stage._last_line == -float("inf"):
            stage._last_line, stage._printed = now, stage.done
            self._print(stage.line())

    def _print(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()


def _live_display(stage: Stage) -> Any:
    """The stage's one IPython display, shown now; None where IPython is missing (a forced
    ``notebook=True`` outside a kernel): the stage then shows as it would off a kernel."""
    try:
        from IPython.display import display
    except ImportError:
        return None
    return display(stage.bundle(), raw=True, display_id=True)
