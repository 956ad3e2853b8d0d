"""The per-cell time limit (``probe_rnn.probing.timelimit.time_limit``): a block that runs past
it is stopped with CellTimeout, a quick one is not, and the previous SIGALRM handler and timer
state come back either way."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from probe_rnn.probing.timelimit import CellTimeout, time_limit


def test_a_hung_block_is_stopped_at_its_limit() -> None:
    before = signal.getsignal(signal.SIGALRM)
    start = time.perf_counter()
    with pytest.raises(CellTimeout, match=r"cell_timeout=0\.2 s") as err:
        with time_limit(0.2):
            time.sleep(5)
    assert 0.15 < time.perf_counter() - start < 2.0
    assert err.value.seconds == 0.2
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_quick_block_finishes_and_no_limit_means_none() -> None:
    with time_limit(5.0):
        total = sum(range(1000))
    assert total == 499500
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    with time_limit(None):
        time.sleep(0.01)


def test_outside_the_main_thread_no_limit_is_set() -> None:
    outcome: list[str] = []

    def work() -> None:
        with time_limit(0.05):
            time.sleep(0.2)
        outcome.append("finished")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert outcome == ["finished"]
