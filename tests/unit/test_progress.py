"""Progress of long stages: plain periodic lines with done/total, elapsed and ETA off a
terminal; in a Jupyter kernel (faked here by module objects standing in for IPython) one display
per stage updated in place, throttled; nothing when quiet."""

from __future__ import annotations

import html
import io
import re
import sys
import types

import pytest

import probe_rnn.progress as progress_module
from probe_rnn.progress import NOTEBOOK_INTERVAL, Progress, format_duration, in_kernel

LINE = re.compile(r"^probing\s+(\d+)/(\d+) cells \(\d+%\)  elapsed \d+:\d\d  ETA (\d+:\d\d|\?)$")
ANY_LINE = re.compile(r"^\w+\s+(\d+)/(\d+) \w+ \(\d+%\)  elapsed \d+:\d\d  ETA (\d+:\d\d|\?)$")


def test_plain_lines_carry_done_total_elapsed_and_eta() -> None:
    out = io.StringIO()
    with Progress(out, interval=0.0, terminal=False).stage("probing", 4, "cells") as stage:
        for done in range(1, 5):
            stage(done)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 4 and all(LINE.match(line) for line in lines), lines
    assert [LINE.match(line).group(1) for line in lines][:4] == ["1", "2", "3", "4"]
    assert LINE.match(lines[0]).group(3) != "?"  # one unit done: an ETA exists


def test_lines_are_rate_limited_and_quiet_prints_nothing() -> None:
    out = io.StringIO()
    with Progress(out, interval=3600, terminal=False).stage("capture", 100, "rows") as stage:
        for done in range(1, 101):
            stage(done)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # the first update and the end of the stage
    assert lines[-1].startswith("capture      100/100 rows (100%)")
    quiet = io.StringIO()
    with Progress(quiet, quiet=True, interval=0.0).stage("capture", 3) as stage:
        stage(1)
        stage(3)
    assert quiet.getvalue() == ""


def test_durations_read_as_clock_time() -> None:
    assert format_duration(75.2) == "1:15"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(float("nan")) == "?"


# -- in a notebook: one IPython display per stage, updated in place --------------------------
class FakeHandle:
    """Stands in for IPython's DisplayHandle: records every update of its display."""

    def __init__(self, display_id: str, shown: dict) -> None:
        self.display_id, self.contents = display_id, [shown]

    def update(self, obj: dict, *, raw: bool = False) -> None:
        assert raw and set(obj) == {"text/plain", "text/html"}
        self.contents.append(obj)


def fake_kernel(monkeypatch: pytest.MonkeyPatch, shell: str = "ZMQInteractiveShell") -> list:
    """Module objects standing in for ``IPython`` and ``IPython.display`` in a kernel whose
    shell class is named ``shell``; returns the list of handles ``display`` hands out."""
    handles: list[FakeHandle] = []

    def display(obj: dict, *, raw: bool = False, display_id: bool = False) -> FakeHandle:
        assert raw and display_id is True
        handles.append(FakeHandle(f"id-{len(handles)}", obj))
        return handles[-1]

    package, module = types.ModuleType("IPython"), types.ModuleType("IPython.display")
    module.display = display  # type: ignore[attr-defined]
    package.display = module  # type: ignore[attr-defined]
    package.get_ipython = lambda: type(shell, (), {})()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", package)
    monkeypatch.setitem(sys.modules, "IPython.display", module)
    return handles


def fake_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The progress module's clock, read from the returned one-item list."""
    now = [0.0]
    monkeypatch.setattr(progress_module, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    return now


def shown_done(content: dict) -> tuple[int, int]:
    match = ANY_LINE.match(content["text/plain"])
    assert match, content["text/plain"]
    return int(match.group(1)), int(match.group(2))


def test_a_notebook_stage_is_one_display_updated_in_place_and_throttled(monkeypatch) -> None:
    handles = fake_kernel(monkeypatch)
    now = fake_clock(monkeypatch)
    assert in_kernel()
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    with Progress().stage("probing", 9, "cells") as stage:
        for done in range(1, 10):
            now[0] += 0.125  # 8 updates a second; the display takes one each 0.2 s at most
            stage(done)
    assert len(handles) == 1 and out.getvalue() == ""
    dones = [shown_done(content) for content in handles[0].contents]
    gaps = NOTEBOOK_INTERVAL // 0.125 + 1  # updates at least this many calls apart
    assert dones[0] == (0, 9) and dones[-1] == (9, 9)  # shown at the start, final at the end
    assert [d for d, _ in dones[1:-1]] == list(range(int(gaps), 9, int(gaps)))
    final = handles[0].contents[-1]
    assert LINE.match(final["text/plain"]) and "(100%)" in final["text/plain"]
    assert '<progress value="9" max="9"' in final["text/html"]
    assert html.escape(final["text/plain"]) in final["text/html"]


def test_a_burst_of_updates_shows_the_final_figures_one_display_a_stage(monkeypatch) -> None:
    handles = fake_kernel(monkeypatch)
    fake_clock(monkeypatch)  # the clock stands still: every update falls in the throttle
    progress = Progress()
    for name in ("capture", "probing"):
        with progress.stage(name, 1000, "rows") as stage:
            for done in range(1, 1001):
                stage(done)
    assert len(handles) == 2
    assert [len(handle.contents) for handle in handles] == [2, 2]  # the start and the end
    assert [shown_done(handle.contents[-1]) for handle in handles] == [(1000, 1000)] * 2
    assert handles[1].contents[-1]["text/plain"].startswith("probing")


def test_quiet_a_given_stream_or_a_terminal_ipython_show_no_display(monkeypatch) -> None:
    handles = fake_kernel(monkeypatch)
    with Progress(quiet=True).stage("capture", 3) as stage:
        stage(3)
    out = io.StringIO()
    with Progress(out, interval=0.0).stage("capture", 3) as stage:  # its stream: plain lines
        stage(3)
    assert handles == [] and out.getvalue().startswith("capture      3/3")
    with Progress(notebook=False, terminal=False).stage("capture", 3) as stage:
        stage(3)
    assert handles == []
    fake_kernel(monkeypatch, shell="TerminalInteractiveShell")
    assert not in_kernel() and not Progress().notebook


def test_off_a_kernel_nothing_of_ipython_is_imported(monkeypatch, capsys) -> None:
    for name in [name for name in sys.modules if name.split(".")[0] == "IPython"]:
        monkeypatch.delitem(sys.modules, name)
    assert not in_kernel()
    with Progress(interval=0.0).stage("capture", 2, "rows") as stage:
        stage(1)
        stage(2)
    assert not [name for name in sys.modules if name.split(".")[0] == "IPython"]
    assert capsys.readouterr().err.splitlines()[-1].startswith("capture      2/2 rows (100%)")


def test_a_forced_notebook_display_without_ipython_shows_plain_lines(monkeypatch) -> None:
    """``notebook=True`` where IPython cannot be imported: the stage shows as off a kernel."""
    import builtins
    import io

    real_import = builtins.__import__

    def no_ipython(name, *args, **kwargs):  # noqa: ANN001, ANN202
        if name.startswith("IPython"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ipython)
    out = io.StringIO()
    with Progress(out, notebook=True, terminal=False).stage("capture", 3, "rows") as bar:
        bar(1)
        bar(3)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("capture") and "1/3" in lines[0] and "3/3" in lines[-1]
