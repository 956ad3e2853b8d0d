"""The probing runner: plans the cells of a run and runs them, resumably and in parallel.

``run_probes`` reads each store (``"trained"`` and optionally ``"random-init"``, the same
architecture with re-initialised weights) and plans one :class:`~probe_rnn.probing.cells.Cell`
per (model, view, task, probe) without building any matrix; every name is checked before the
first cell runs. Cells run through :class:`joblib.Parallel` (``jobs``), each single-threaded
and building its own matrix from the memory-mapped store, so memory stays bounded whatever
the number of cells. With a ``journal`` folder every finished cell is written there as it
finishes (:mod:`probe_rnn.probing.journal`) and a rerun computes only the missing cells.

Which tasks run on which views: sentence-level tasks on sentence views (stored ones and derived
``@t`` views, rows without position t left out), token-level tasks on per-token views,
``level="both"`` tasks (``label``, ``prediction``) on both; on per-token views those are also
reported per position t (``t`` = 0..max_t-1 from the start, -1..-max_t from the end), where
estimable (:func:`~probe_rnn.probing.cells.reportable_positions`).
A probe that cannot serve a task's kind (a classifier for a regression task) is skipped for it;
when none of the probes can, ``logistic`` (classification) or ``ridge`` (regression) is used.
A cell whose probe raises or returns invalid probabilities is recorded as failed (with the
probe's name, its plugin file and the error) and the other cells go on; the table holds the
cells that finished, ``attrs["failed_cells"]`` the others. A cell that runs past
``cell_timeout`` (a hung plugin) is stopped and recorded failed the same way.

Every random choice is seeded from ``seed``, so results do not depend on ``jobs`` or on the
order in which cells finish.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import is_classifier, is_regressor

from probe_rnn import validation as v
from probe_rnn.errors import ConfigError, Mention, ParameterError, WorkLostError
from probe_rnn.probing.cells import (
    Cell,
    Settings,
    cell_code,
    cell_key,
    run_cell,
)
from probe_rnn.probing.journal import Journal
from probe_rnn.probing.probe_results import ProbeResults
from probe_rnn.probing.probe_settings import ProbeSettings
from probe_rnn.probing.protocol import DEFAULT_PRECISION
from probe_rnn.probing.specs import make_probe
from probe_rnn.probing.state_source import StateSource
from probe_rnn.probing.tasks import DEFAULT_TASKS, Task, get_task
from probe_rnn.probing.timelimit import checked_timeout

_FALLBACK = {"classification": "logistic", "regression": "ridge"}


def views_to_probe(store: StateSource, views: Sequence[str] | None, tasks: Sequence[Task]
                   ) -> list[str]:
    """The views to probe: the given ones (checked), or every stored sentence view, plus the
    per-token views when a task is token-only."""
    if views is not None:
        for name in views:
            store.kind(name)  # raises StoreError listing the stored views
        return list(dict.fromkeys(views))
    levels = view_levels(tasks)
    return [v for v in store.views if store.kind(v) in levels]


def view_levels(tasks: Sequence[Task]) -> set[str]:
    """The view kinds probing reads by default for ``tasks``: sentence views, and per-token
    views only when a task is per-token only (the run's capture stores no more)."""
    return {"sentence"} | {"token" for t in tasks if t.level == "token"}


def resolve_probes(probes: Iterable[Any]) -> list[tuple[str, Any, str]]:
    """``(name, spec, kind)`` per probe; kind is classification, regression or any."""
    from probe_rnn.plugins import registry

    out: list[tuple[str, Any, str]] = []
    for spec in probes:
        name = spec if isinstance(spec, str) else getattr(spec, "__name__", type(spec).__name__)
        obj = registry.get("probe", spec) if isinstance(spec, str) and "." not in spec else spec
        proto = make_probe(spec, 0)
        kind = "classification" if is_classifier(proto) else (
            "regression" if is_regressor(proto) else "any"
        )
        ship_by_value(obj)
        out.append((name, obj, kind))
    return out


def ship_by_value(obj: Any) -> None:
    """Let joblib's workers unpickle a plugin loaded from a file (they cannot import it)."""
    module = getattr(obj if isinstance(obj, type) or callable(obj) else type(obj),
                     "__module__", "")
    if module.startswith("probe_rnn_plugin_") and module in sys.modules:
        _cloudpickle().register_pickle_by_value(sys.modules[module])


def _cloudpickle() -> Any:
    """The cloudpickle joblib's workers use (standalone since joblib 1.5, vendored before)."""
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - older joblib
        from joblib.externals import cloudpickle
    return cloudpickle


def probe_origin(name: str, kind: str = "probe") -> str:
    """Where a registered plugin probe (or ``kind``) comes from (its file or entry point); ""
    if built in."""
    from probe_rnn.plugins import registry

    entry = next((e for e in registry.entries() if e.kind == kind and e.name == name), None)
    if entry is None or entry.origin == "built-in":
        return ""
    origin = entry.origin
    try:
        rel = os.path.relpath(origin)
        return rel if not rel.startswith("..") else origin
    except ValueError:
        return origin


def _rows(n: int, rows: Sequence[int] | None, max_rows: int | None, seed: int) -> np.ndarray:
    """The store rows to probe: ``rows`` (default: all), then a seeded ``max_rows`` sample."""
    pool = np.arange(n) if rows is None else np.unique(np.asarray(rows, dtype=np.int64))
    if len(pool) and (pool[0] < 0 or pool[-1] >= n):
        raise ParameterError("rows", f"store rows, 0..{n - 1}", f"{pool[0]}..{pool[-1]}")
    if len(pool) < 2:
        raise ConfigError(f"at least 2 rows are needed to probe; {len(pool)} given")
    if max_rows is None or max_rows >= len(pool):
        return pool
    return np.sort(np.random.default_rng(seed).choice(pool, size=max_rows, replace=False))


#: What each argument of :func:`run_probes` accepts (:mod:`probe_rnn.validation`).
PARAMETER_CONSTRAINTS: dict[str, Any] = {
    "views": [None, v.Names("names of state views (str)", example="output@last")],
    "tasks": [None, v.Items(None, "tasks (names, Task classes or objects)", example="label")],
    "probes": v.Items(None, "probes (names, import paths, classes or estimators)",
                      example="logistic", min_items=1),
    "folds": v.Interval(int, 2, None), "seeds": v.Interval(int, 1, None),
    "max_rows": [None, v.Interval(Integral, 2, None)],
    "rows": [None, v.Items(Integral, "row numbers (int)", example=0)], "jobs": v.JOBS,
    "mdl": v.Boolean(), "control": v.Boolean(), "seed": v.SEED,
    "max_t": v.Interval(int, 1, None),
    "precision": v.Interval(float, 0, 0.5, closed="neither"), "journal": [None, v.PathLike()],
    "cell_timeout": v.CELL_TIMEOUT, "return_values": v.Boolean(),
}


def _check(stores: Mapping[str, StateSource]) -> None:
    if not stores:
        raise ConfigError("stores is empty: pass {'trained': StateStore(...)}")
    sizes = {name: len(s.meta) for name, s in stores.items()}
    if len(set(sizes.values())) > 1:
        raise ConfigError(f"stores hold different rows {sizes}: capture them from the same data")


def plan_cells(
    stores: Mapping[str, StateSource], views: Sequence[str] | None, tasks: list[Task],
    probe_specs: list[tuple[str, Any, str]], rows: np.ndarray,
) -> list[Cell]:
    """Every (model, view, task, probe) cell, in a stable order; no matrix is built."""
    cells: list[Cell] = []
    origins: dict[str, str] = {}
    for model, store in stores.items():
        for view in views_to_probe(store, views, tasks):
            vkind = store.kind(view)
            for task in (t for t in tasks if t.applies_to(vkind)):
                chosen = [s for s in probe_specs if s[2] in (task.kind, "any")] or \
                    resolve_probes([_FALLBACK[task.kind]])
                for pname, spec, _ in chosen:
                    if pname not in origins:
                        origins[pname] = probe_origin(pname)
                    cells.append(Cell(model, store, view, vkind, task, pname, spec, rows,
                                      origins[pname], probe_origin(task.name, "task")))
    return cells


def _execute(cells: list[Cell], settings: Settings, keys: list[str], journal: Journal | None,
             jobs: int, progress: Callable[[int, int], None] | None,
             timeout: float | None = None, client: Any = None
             ) -> tuple[list[dict[str, Any]], int]:
    """Run the cells not in the journal; every record lands in the journal as it arrives.

    Returns the records in the cells' order and how many came from the journal."""
    records: list[dict[str, Any] | None] = [None] * len(cells)
    if journal is not None:
        for i, key in enumerate(keys):
            records[i] = journal.get(key)
    # per-token cells (many rows) first, so that no long cell starts last and runs alone
    todo = sorted((i for i, r in enumerate(records) if r is None),
                  key=lambda i: (cells[i].view_kind != "token", i))
    done = reused = len(cells) - len(todo)
    if progress is not None:
        progress(done, len(cells))
    if todo:
        if client is not None:  # one Dask task per cell (probe_rnn.cluster)
            from probe_rnn.cluster import map_unordered

            finished = map_unordered(client, _indexed,
                                     [(i, cells[i], settings, keys[i], None) for i in todo],
                                     "cell", [keys[i][:16] for i in todo])
        else:
            runner = Parallel(n_jobs=jobs, return_as="generator_unordered")
            finished = runner(delayed(_indexed)(i, cells[i], settings, keys[i], timeout)
                              for i in todo)
        try:
            for i, record in finished:
                records[i] = record
                if journal is not None:
                    journal.put(record)
                done += 1
                if progress is not None:
                    progress(done, len(cells))
        except Exception as exc:
            _raise_if_lost(exc, client, journal, done - reused, len(cells) - done)
            raise
    return [r for r in records if r is not None], reused


def _raise_if_lost(exc: Exception, client: Any, journal: Journal | None, finished: int,
                   left: int) -> None:
    """A one-line :class:`WorkLostError` when ``exc`` means the processes running the cells
    went away (:func:`probe_rnn.cluster.lost_work`); nothing for any other exception."""
    from probe_rnn.cluster import lost_work

    what = lost_work(exc, client)
    if what is None:
        return
    kept = (f"the {finished} cells finished in this run are kept in the journal "
            f"({journal.folder}) and the same command resumes from them" if journal is not None
            else f"the {finished} finished cells are lost (pass journal= to keep them)")
    raise WorkLostError(f"{what}, with {left} cells still to run: {kept}") from exc


def _keys(cells: list[Cell], settings: Settings, book: Journal | None) -> list[str]:
    """Each cell's journal key; with a journal, a notice per plugin whose code changed."""
    codes = [cell_code(c) for c in cells]
    keys = [cell_key(c, settings, code) for c, code in zip(cells, codes, strict=True)]
    if book is not None:
        _announce_changed_code(book, keys, codes)
    return keys


def _announce_changed_code(book: Journal, keys: list[str], codes: list[dict[str, str]]) -> None:
    """Say which plugin changed since the journal's cells were computed and how many cells
    that recomputes; then remember this run's plugin code."""
    before = book.code()
    changed: dict[str, int] = {}
    for key, code in zip(keys, codes, strict=True):
        stale = [w for w, digest in code.items() if before.get(w, digest) != digest]
        if stale and not book.has(key):
            for where in stale:
                changed[where] = changed.get(where, 0) + 1
    for where, count in changed.items():
        warnings.warn(f"plugin {where} changed since the journal was written: recomputing "
                      f"{count} cell{'s' if count != 1 else ''}", stacklevel=3)
    book.remember_code({w: d for code in codes for w, d in code.items()})


def _indexed(i: int, cell: Cell, settings: Settings, key: str, timeout: float | None
             ) -> tuple[int, dict[str, Any]]:
    return i, run_cell(cell, settings, key, timeout)


def _announce(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Warn about skipped cells (one line per task and reason) and failed cells; return the
    failed ones."""
    failed = []
    skipped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in records:
        if rec["status"] == "skipped":
            skipped.setdefault((rec["task"], rec["reason"]), []).append(rec)
    for (task, reason), recs in skipped.items():
        views = list(dict.fromkeys(r["view"] for r in recs))
        models = ", ".join(dict.fromkeys(r["model"] for r in recs))
        shown = ", ".join(views[:4]) + (f" and {len(views) - 4} more" if len(views) > 4 else "")
        why = (" (every probed row has the same target: nothing to tell apart)"
               if reason == "a single class" else "")
        warnings.warn(f"task {task!r} skipped on {len(recs)} cell(s) ({models}; view(s) "
                      f"{shown}): {reason}{why}", stacklevel=3)
    for rec in records:
        if rec["status"] == "failed":
            warnings.warn(f"cell failed: {rec['model']} {rec['view']}: {rec['reason']}",
                          stacklevel=3)
            failed.append({k: rec[k] for k in ("model", "view", "task", "probe", "reason",
                                               "reason_parts") if k in rec})
    return failed


def run_probes(
    stores: Mapping[str, StateSource], views: Sequence[str] | None = None,
    tasks: Sequence[str | Task] | None = None, probes: Sequence[Any] = ("logistic",),
    folds: int = 5, seeds: int = 1, max_rows: int | None = None,
    rows: Sequence[int] | None = None, jobs: int = 1, mdl: bool = True, control: bool = True,
    seed: int = 0, progress: Callable[[int, int], None] | None = None, max_t: int = 16,
    precision: float = DEFAULT_PRECISION, journal: str | Path | None = None,
    cell_timeout: float | None = None, return_values: bool = False, client: Any = None,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Probe every view of every store for every task with every probe.

    ``stores`` maps a model name (the ``model`` column) to its StateStore, e.g.
    ``{"trained": ..., "random-init": ...}``. ``views``: view names (stored or ``@t``;
    default every stored sentence view, plus per-token views when a task is token-only).
    ``tasks``: registered names or instances (default :data:`DEFAULT_TASKS`). ``probes``:
    registered names, import paths (``sklearn.svm.LinearSVC``), classes, factories or
    estimators. ``folds``-fold by sentence, repeated with seeds ``seed .. seed + seeds - 1``.
    ``max_rows``: a seeded sample of sentences; ``rows``: the store rows to probe (default
    all). ``jobs``: cells in parallel (joblib; -1 = all cores). ``mdl``, ``control``: the
    online codelength, the control task and selectivity. ``progress(done, total)``: finished
    cells (reused ones first). ``max_t``: positions per t for token-level tasks
    (0..max_t-1 and -1..-max_t; only estimable ones are reported). ``precision``: wanted
    half-width of a cell's 95 % accuracy interval, which decides the protocol
    (:mod:`probe_rnn.probing.protocol`). ``journal``: folder where finished cells are kept
    and reused. ``cell_timeout``: seconds a cell may run before it is recorded ``failed``
    naming its probe (:mod:`probe_rnn.probing.timelimit`; default no limit).
    ``return_values``: also return the long table
    (:func:`~probe_rnn.probing.results.values_table`) for paired comparisons. ``client``:
    run the cells as Dask tasks on its cluster (:mod:`probe_rnn.cluster`; identical results).

    Returns the results with their metadata in ``attrs`` (``ProbeResults.to_pandas()``;
    :func:`probe_stores` returns the typed :class:`~probe_rnn.probing.ProbeResults`).
    """
    v.validate_params(PARAMETER_CONSTRAINTS, locals())
    settings = ProbeSettings(views=views, tasks=tasks, probes=probes, folds=folds, seeds=seeds,
                             seed=seed, mdl=mdl, control=control, max_t=max_t,
                             precision=precision, max_rows=max_rows, jobs=jobs,
                             cell_timeout=cell_timeout)
    found = probe_stores(stores, settings, rows=rows, journal=journal, progress=progress,
                         client=client)
    return (found.to_pandas(), found.values) if return_values else found.to_pandas()


def probe_stores(stores: Mapping[str, StateSource], settings: ProbeSettings,
                 rows: Sequence[int] | None = None, journal: str | Path | None = None,
                 progress: Callable[[int, int], None] | None = None, client: Any = None
                 ) -> ProbeResults:
    """:func:`run_probes` with its settings as one object, returning the typed results
    (the settings are checked against the same constraints as :func:`run_probes`'s)."""
    s = settings
    given = {f.name: getattr(s, f.name) for f in fields(s)}
    v.validate_params(PARAMETER_CONSTRAINTS, {**given, "rows": rows, "journal": journal})
    _check(stores)
    cell_timeout = checked_timeout(s.cell_timeout, s.jobs, client)
    cells = _plan(stores, s.views, s.tasks, s.probes, rows, s.max_rows, s.seed)
    shared = s.cell_settings()
    book = Journal(journal) if journal is not None else None
    keys = _keys(cells, shared, book)
    records, reused = _execute(cells, shared, keys, book, s.jobs, progress, cell_timeout,
                               client)
    unreadable = book.unreadable if book is not None else 0
    if unreadable:
        warnings.warn(f"{unreadable} journal file(s) in {journal} could not be read (truncated or "
                      "edited) and their cells were recomputed", stacklevel=3)
    failed = _announce(records)
    _check_some_done(records, failed)
    return ProbeResults.from_records(records, shared, cells=len(cells), reused=reused,
                                     failed=failed, unreadable=unreadable)


def _plan(stores: Mapping[str, StateSource], views: Sequence[str] | None,
          tasks: Sequence[str | Task] | None, probes: Sequence[Any],
          rows: Sequence[int] | None, max_rows: int | None, seed: int) -> list[Cell]:
    """The run's cells: tasks and probes resolved (one-line errors), rows chosen."""
    task_objs = [get_task(t) for t in (DEFAULT_TASKS if tasks is None else tasks)]
    for task in task_objs:
        ship_by_value(task)
    probe_specs = resolve_probes(probes)
    chosen = _rows(len(next(iter(stores.values())).meta), rows, max_rows, seed)
    return plan_cells(stores, views, task_objs, probe_specs, chosen)




def _check_some_done(records: list[dict[str, Any]], failed: list[dict[str, Any]]) -> None:
    """At least one cell finished; else one line on why (every cell failed, or no usable pair)."""
    if any(r["status"] == "done" for r in records):
        return
    if failed:
        raise ConfigError(f"every cell failed; the first: {failed[0]['reason']}")
    raise ConfigError(
        "nothing to probe: no (view, task) pair has usable rows; check the warnings above, "
        "the views' kinds (sentence tasks need sentence views) and ", Mention("folds"))
