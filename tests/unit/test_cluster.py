"""The cluster connection (:mod:`probe_rnn.cluster`): a server that accepts connections but is no
Dask scheduler is refused within seconds; lost work is told apart from other errors."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from probe_rnn.errors import ConfigError


def test_a_server_that_is_no_scheduler_is_refused_within_seconds() -> None:
    from probe_rnn.cluster import handshake

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    start = time.monotonic()
    try:
        with pytest.raises(ConfigError, match=r"accepts connections but did not answer as a "
                                              r"Dask scheduler within 1 s: check the port"):
            handshake(f"tcp://127.0.0.1:{server.getsockname()[1]}", seconds=1.0)
    finally:
        server.close()
    assert time.monotonic() - start < 10


def test_lost_work_is_told_apart_from_other_errors() -> None:
    import concurrent.futures

    from distributed import KilledWorker
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    from probe_rnn.cluster import lost_work

    class Client:
        status = "closed"

    killed = KilledWorker("probe-rnn-cell-abc", "tcp://w:1", ["tcp://w:1"])
    assert "died 4 times running the same task (probe-rnn-cell-abc)" in lost_work(killed)
    assert "a worker process died" in lost_work(TerminatedWorkerError("gone"))
    cancelled = concurrent.futures.CancelledError()
    assert lost_work(cancelled, Client()) == "the connection to the Dask scheduler was lost"
    assert lost_work(ValueError("a user's bug")) is None  # never mistaken for a lost worker
    assert lost_work(cancelled) is None  # without a client, a cancel is not a lost scheduler
