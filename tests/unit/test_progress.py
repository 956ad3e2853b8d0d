"""Progress of long stages: plain periodic lines with done/total, elapsed and ETA off a
terminal; nothing when quiet."""

from __future__ import annotations

import io
import re

from probe_rnn.progress import Progress, format_duration

LINE = re.compile(r"^probing\s+(\d+)/(\d+) cells \(\d+%\)  elapsed \d+:\d\d  ETA (\d+:\d\d|\?)$")


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
