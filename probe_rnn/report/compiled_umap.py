"""umap-learn compiled once per machine, not once per process.

umap-learn JIT-compiles its numba functions on the first fit of every process, and most of
them are declared without ``cache=True``: measured on 2 cores (1,026 rows × 256), the first
fit of a fresh process took 18.9 s with pynndescent's own functions already cached, the second
2.8 s. :func:`import_umap` imports umap-learn with numba's ``njit``/``jit`` defaulting to
``cache=True`` (a decorator that names ``cache`` keeps its own choice), so the compiled code
lands in numba's cache folder (the probe-rnn cache folder under the CLI, :mod:`probe_rnn.caches`)
and a later process loads it: its first fit then took 2.5 s. Numba checks each cached entry
against its source file's timestamp and size and the machine's CPU, so a changed umap-learn or
a different machine compiles afresh; deleting the folder only costs the compile once again.

:func:`warm_umap` runs one tiny seeded fit through the same code path as the report's
projections (exact neighbours and a spectral start, as every projection of at most 4,095
points takes), which fills the cache. :func:`warm_in_background` starts it in a separate
process while a run's earlier stages work (a second when the cache is warm, the compile's
15-50 s on its first run on a machine), so the report stage does not sit on the compile;
``.ci/setup`` runs it once at install (:func:`main`). If umap-learn was imported before (a
user's notebook), its functions stay as they were compiled: the cache is then only used by
later processes.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from types import ModuleType
from typing import Any

import numpy as np

#: The report's UMAP parameters (also part of each cached projection's key).
UMAP_PARAMS = {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean"}
#: Rows of the warm-up fit: more than 50, so the start is spectral as on the report's views.
WARM_ROWS = 120
#: Longest wait, in seconds, for a running warm-up before the projections compile themselves
#: (a cold compile took 40-50 s on 2 busy cores).
WARM_UP_WAIT = 120.0


def _cached(decorator: Any) -> Any:
    """``decorator`` (numba's ``njit`` or ``jit``) with ``cache=True`` unless given."""

    def with_cache(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cache", True)
        return decorator(*args, **kwargs)

    return with_cache


def import_umap() -> ModuleType:
    """The ``umap`` module, imported (the first time in this process) with its numba functions
    compiled to numba's on-disk cache; a warm-up this process started is waited for first, so
    its compiled code is loaded rather than compiled a second time beside it."""
    if "umap" in sys.modules:
        return sys.modules["umap"]
    _wait_for_warm_up()
    import numba

    njit, jit = numba.njit, numba.jit
    numba.njit, numba.jit = _cached(njit), _cached(jit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Tensorflow not installed; ParametricUMAP ..."
            import umap
    finally:
        numba.njit, numba.jit = njit, jit
    return umap


def fit_umap(x: np.ndarray, seed: int) -> np.ndarray:
    """The report's UMAP of ``x`` (rows, dim; float32): 2-D coordinates (rows, 2), seeded
    (single-threaded: umap-learn runs one thread when seeded), :data:`UMAP_PARAMS` with
    fewer neighbours than rows, and a spectral start from 50 rows on."""
    umap = import_umap()
    n = x.shape[0]
    params = dict(UMAP_PARAMS, n_neighbors=max(2, min(UMAP_PARAMS["n_neighbors"], n - 1)))
    reducer = umap.UMAP(n_components=2, random_state=seed, n_jobs=1,
                        init="spectral" if n >= 50 else "random", **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reducer.fit_transform(x)


def warm_umap() -> None:
    """Fit umap-learn once on :data:`WARM_ROWS` seeded random rows (fills the cache)."""
    rows = np.random.default_rng(0).normal(size=(WARM_ROWS, 8)).astype(np.float32)
    fit_umap(rows, seed=0)


#: The warm-up child this process started, if any (:func:`warm_in_background`).
_warming: list[subprocess.Popen[bytes]] = []


def warm_in_background() -> None:
    """Start :func:`warm_umap` in a child process (output discarded) unless umap-learn is
    already imported here or this process started one; :func:`import_umap` waits for it. It
    never fails a run: a child that cannot start, fails or is slow leaves the projections to
    compile for themselves."""
    if "umap" in sys.modules or _warming:  # once per process: the demo's start and its
        return  # probe() both ask, and a finished warm-up has filled the cache already
    command = [sys.executable, "-c", "from probe_rnn.report.compiled_umap import warm_umap; "
               "warm_umap()"]
    try:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return
    _warming[:] = [child]


def _wait_for_warm_up() -> None:
    for child in _warming:
        try:
            child.wait(timeout=WARM_UP_WAIT)
        except subprocess.TimeoutExpired:
            pass  # compile here instead; the child finishes on its own
    _warming.clear()


def main() -> None:
    """What ``.ci/setup`` runs once at install: numba's cache pointed at the folder the CLI
    uses (:mod:`probe_rnn.caches`), then :func:`warm_umap`."""
    from probe_rnn.caches import use_cache_folder

    use_cache_folder()
    warm_umap()
