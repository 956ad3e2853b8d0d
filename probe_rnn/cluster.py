"""Dask distributed: where probe-rnn's independent tasks run past one machine.

``--scheduler tcp://HOST:8786`` (or ``PROBE_RNN_SCHEDULER``) connects to a running Dask
cluster; ``--scheduler local:N`` starts a :class:`distributed.LocalCluster` of N single-threaded
worker processes. Without either, nothing here is imported and work runs locally (joblib).

What travels, each as one Dask task: a probing cell (``probe-rnn-cell-*``), a capture shard of
consecutive rows (``probe-rnn-capture-*``), one readout training (``probe-rnn-readout-*``).
A task receives what it needs to read its slice (a store's path and rows, a checkpoint's path
and loading options), never the dataset: workers must see the run folder and the checkpoint
at the same paths (a shared filesystem). A task whose worker dies is re-run on another one
(``retries``), and as every task is seeded, the results are those of an undisturbed run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from probe_rnn.errors import ConfigError, Mention

SCHEDULER_ENV = "PROBE_RNN_SCHEDULER"
KEY_PREFIX = "probe-rnn"
RETRIES = 3
CONNECT_TIMEOUT = "5s"  # an unreachable scheduler fails in about this long
HANDSHAKE_SECONDS = 5.0  # a server that accepts but never answers fails in this long


def scheduler_address(given: str | None) -> str | None:
    """``--scheduler``, else ``$PROBE_RNN_SCHEDULER``, else None (run locally)."""
    address = given if given is not None else os.environ.get(SCHEDULER_ENV)
    return address.strip() or None if address is not None else None


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError("a Dask scheduler needs Dask: pip install 'probe-rnn[cluster]' (dask "
                          "and distributed)") from None
    return distributed


@contextlib.contextmanager
def connect(address: str | None) -> Iterator[Any]:
    """A ``distributed.Client`` for ``address`` (closed on exit), or None for local work.

    ``local:N`` starts N worker processes on this machine (one thread each); any other
    address is a running scheduler's. An unreachable one is a one-line error naming it,
    before any work starts.
    """
    if address is None:
        yield None
        return
    distributed = _distributed()
    if address.startswith("local:"):
        count = address.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise ConfigError(Mention("address", address), ": local:N needs a number of "
                              "workers N >= 1, e.g. local:2")
        saved = dict(os.environ)
        cluster = distributed.LocalCluster(n_workers=int(count), threads_per_worker=1,
                                           processes=True, dashboard_address=None)
        # its nannies leave OMP_NUM_THREADS=1 (and more) in this process's environment: a torch
        # imported afterwards would run single-threaded here, and compute other last bits than
        # a local run (measured: one row in 3,000 of a 2-layer BiLSTM's states)
        os.environ.clear()
        os.environ.update(saved)
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    import dask

    handshake(address)
    try:
        with dask.config.set({"distributed.comm.timeouts.connect": CONNECT_TIMEOUT}):
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise _unreachable(address, exc) from None
    try:
        yield client
    finally:
        client.close()


def _unreachable(address: str, exc: BaseException) -> ConfigError:
    return ConfigError(f"cannot reach the Dask scheduler at {address!r} ({type(exc).__name__}"
                       "): start it (dask scheduler) or check ", Mention("address"),
                       f" / {SCHEDULER_ENV}")


def handshake(address: str, seconds: float = HANDSHAKE_SECONDS) -> dict[str, Any]:
    """Ask the server at ``address`` who it is (Dask's ``identity``), all within ``seconds``:
    a server that accepts connections but is no Dask scheduler is a one-line error, not a
    client waiting for ever. Returns the scheduler's identity."""
    import asyncio

    from distributed.comm import connect as open_comm

    async def identity() -> Any:
        comm = await open_comm(address, timeout=seconds)
        try:
            await comm.write({"op": "identity"})
            return await comm.read()
        finally:
            comm.abort()

    async def bounded() -> Any:
        return await asyncio.wait_for(identity(), seconds)

    try:
        reply = asyncio.run(bounded())
    except (OSError, TimeoutError, ValueError) as exc:
        if isinstance(exc, TimeoutError) and _accepts(address, seconds):
            raise ConfigError(
                f"the server at {address!r} accepts connections but did not answer as a Dask "
                f"scheduler within {seconds:g} s: check the port (a scheduler's is usually "
                "8786) in ", Mention("address"), f" / {SCHEDULER_ENV}") from None
        raise _unreachable(address, exc) from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        kind = reply.get("type") if isinstance(reply, dict) else type(reply).__name__
        raise ConfigError(f"the server at {address!r} is a Dask {kind}, not a scheduler: give "
                          "the scheduler's address in ", Mention("address"), f" / {SCHEDULER_ENV}")
    return reply


def _accepts(address: str, seconds: float) -> bool:
    """True when a plain TCP connection to ``address`` succeeds."""
    import socket

    from distributed.comm import parse_address, parse_host_port

    scheme, location = parse_address(address)
    if scheme not in ("tcp", "tls"):
        return False
    try:
        host, port = parse_host_port(location)
        with socket.create_connection((host, port), timeout=seconds):
            return True
    except (OSError, ValueError):
        return False


def _invoke(payload: bytes, *shared: Any) -> Any:
    """On a worker: unpickle ``fn`` and its arguments, put the shared (scattered) values
    back in their slots, call."""
    import cloudpickle

    fn, args, slots = cloudpickle.loads(payload)
    args = list(args)
    for slot, value in zip(slots, shared, strict=True):
        args[slot] = value
    return fn(*args)


def _submit(client: Any, fn: Callable[..., Any], args: tuple[Any, ...], key: str) -> Any:
    """One task. The call is pickled here with cloudpickle, which ships plugins loaded from
    files by value (:func:`probe_rnn.probing.runner.ship_by_value`; Dask's own pickling would
    send them by a module name the workers cannot import); scattered values stay futures."""
    import cloudpickle
    import distributed

    slots = [i for i, a in enumerate(args) if isinstance(a, distributed.Future)]
    plain = tuple(None if i in slots else a for i, a in enumerate(args))
    payload = cloudpickle.dumps((fn, plain, slots))
    return client.submit(_invoke, payload, *(args[i] for i in slots), key=key, pure=False,
                         retries=RETRIES)


def map_unordered(client: Any, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]],
                  kind: str, names: Sequence[str] | None = None) -> Iterable[Any]:
    """Run ``fn(*args)`` for every ``args`` of ``calls`` on the cluster; yield the results
    as they finish (any order). Task keys read ``probe-rnn-<kind>-<name>``."""
    if not calls:
        return
    distributed = _distributed()
    names = list(names) if names is not None else [str(i) for i in range(len(calls))]
    futures = [_submit(client, fn, args, f"{KEY_PREFIX}-{kind}-{name}")
               for args, name in zip(calls, names, strict=True)]
    try:
        for future in distributed.as_completed(futures):
            yield future.result()
    finally:
        for future in futures:
            future.release()


def lost_work(exc: BaseException, client: Any = None) -> str | None:
    """What went away, in words, when ``exc`` means the work's processes were lost (a joblib
    worker that died, Dask workers that died running one task ``RETRIES`` + 1 times, or the
    Dask scheduler gone); None for any other exception."""
    import concurrent.futures

    name = type(exc).__name__
    if name == "TerminatedWorkerError":  # joblib (loky): the process itself ended
        return ("a worker process died while running cells (its probe or task ended the "
                "process, e.g. with os._exit, or it crashed or ran out of memory)")
    if name == "KilledWorker":
        task = getattr(exc, "task", None)
        return (f"Dask workers died {RETRIES + 1} times running the same task"
                f"{f' ({task})' if task else ''} (its probe or task ends the process, e.g. "
                "with os._exit, or it runs out of memory)")
    gone = client is not None and getattr(client, "status", "running") != "running"
    if name in ("CommClosedError", "FutureCancelledError") or gone or (
            client is not None and isinstance(exc, concurrent.futures.CancelledError)):
        return "the connection to the Dask scheduler was lost"
    return None
