"""One run per run folder (``probe_rnn.run.lock.run_lock``): the lock holds this process's PID
and start time and goes away after the block, even a failed one; a live other process's lock
refuses the run naming its PID; a lock whose process is gone, or whose PID now names another
process (told apart by its start time in /proc, Linux), is taken over."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from probe_rnn.errors import ConfigError
from probe_rnn.run.lock import LOCK_NAME, run_lock


def _start_time(pid: int) -> str:
    """Field 22 of /proc/PID/stat (proc(5)): the process's start time in clock ticks."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2:].split()[19]


@pytest.fixture()
def other_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_the_lock_holds_this_process_and_is_removed_after_the_block(tmp_path: Path) -> None:
    with run_lock(tmp_path) as lock:
        assert lock == tmp_path / LOCK_NAME
        pid, started = lock.read_text().split()
        assert int(pid) == os.getpid() and started == _start_time(os.getpid())
    assert not lock.exists()
    with pytest.raises(RuntimeError):
        with run_lock(tmp_path):
            raise RuntimeError("a stage failed")
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_live_other_run_refuses_and_a_reused_pid_is_taken_over(tmp_path: Path,
                                                                 other_process) -> None:
    pid = other_process.pid
    (tmp_path / LOCK_NAME).write_text(f"{pid} {_start_time(pid)}\n")
    with pytest.raises(ConfigError, match=rf"in use by another probe-rnn run \(PID {pid}\)"):
        with run_lock(tmp_path):
            pass
    assert (tmp_path / LOCK_NAME).exists()  # the other run's lock is left alone
    (tmp_path / LOCK_NAME).write_text(f"{pid} 1\n")  # the PID now names another process
    with run_lock(tmp_path) as lock:
        assert int(lock.read_text().split()[0]) == os.getpid()


def test_a_lock_whose_process_is_gone_is_taken_over(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (tmp_path / LOCK_NAME).write_text(f"{done.stdout.strip()} 123\n")  # a finished process
    with run_lock(tmp_path) as lock:
        assert int(lock.read_text().split()[0]) == os.getpid()
    (tmp_path / LOCK_NAME).write_text("garbage\n")
    with run_lock(tmp_path):
        pass
