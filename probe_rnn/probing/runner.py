"""The probing runner: views × tasks × probes × folds × seeds over one or more state stores.

``run_probes`` reads each store (``"trained"`` and optionally ``"random-init"``, the same
architecture with re-initialised weights), builds one matrix per (model, view, task), splits it
by sentence into seeded folds, fits every probe on every fold (and on the control task), runs
the online MDL code, and returns the tidy results table (:mod:`probe_rnn.probing.results`).

Which tasks run on which views: sentence-level tasks on sentence views (stored ones and derived
``@t`` views, rows without position t left out), token-level tasks on per-token views,
``level="both"`` tasks (``label``, ``prediction``) on both; on per-token views those are also
reported per position t (``t`` = 0..max_t-1 from the start, -1..-max_t from the end).
A position is reported only when it is estimable (:func:`reportable_positions`): at least
``max(MIN_POSITION_SENTENCES, POSITION_SENTENCES_PER_FOLD * folds)`` sentences (30, or 5 per
fold) reach it, and, for classification, every training fold of every seed holds at least two
classes at it; other positions are left out of the table (no NaN rows), so late positions
that only a few long sentences reach do not report noise.
A probe that cannot serve a task's kind (a classifier for a regression task) is skipped for it;
when none of the probes can, ``logistic`` (classification) or ``ridge`` (regression) is used.

Fits run through :class:`joblib.Parallel` (``jobs``); every random choice is seeded from
``seed`` so results do not depend on ``jobs`` (up to floating-point summation order in BLAS).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import is_classifier, is_regressor

from probe_rnn.errors import ConfigError, StoreError
from probe_rnn.probing.controls import control_targets
from probe_rnn.probing.jobs import Problem, fold_job, mdl_job
from probe_rnn.probing.probes import make_probe
from probe_rnn.probing.results import Combo, assemble
from probe_rnn.probing.splits import group_ids, group_kfold
from probe_rnn.probing.tasks import DEFAULT_TASKS, Task, flat_tokens, get_task, positions

__all__ = [
    "run_probes",
    "resolve_views",
    "resolve_probes",
    "reportable_positions",
    "MIN_POSITION_SENTENCES",
    "POSITION_SENTENCES_PER_FOLD",
]

MIN_POSITION_SENTENCES = 30
POSITION_SENTENCES_PER_FOLD = 5
_FALLBACK = {"classification": "logistic", "regression": "ridge"}


def resolve_views(store: Any, views: Sequence[str] | None, tasks: Sequence[Task]) -> list[str]:
    """The views to probe: the given ones (checked), or every stored sentence view, plus the
    per-token views when a task is token-only."""
    if views is not None:
        for name in views:
            store.kind(name)  # raises StoreError listing the stored views
        return list(dict.fromkeys(views))
    levels = {"sentence"} | {"token" for t in tasks if t.level == "token"}
    return [v for v in store.views if store.kind(v) in levels]


def resolve_probes(probes: Iterable[Any]) -> list[tuple[str, Any, str]]:
    """``(name, spec, kind)`` per probe; kind is classification, regression or any."""
    from probe_rnn.plugins import registry

    out = []
    for spec in probes:
        name = spec if isinstance(spec, str) else getattr(spec, "__name__", type(spec).__name__)
        obj = registry.get("probe", spec) if isinstance(spec, str) and "." not in spec else spec
        proto = make_probe(obj, 0)
        kind = "classification" if is_classifier(proto) else (
            "regression" if is_regressor(proto) else "any"
        )
        module = getattr(obj if isinstance(obj, type) or callable(obj) else type(obj),
                         "__module__", "")
        if module.startswith("probe_rnn_plugin_") and module in sys.modules:
            _cloudpickle().register_pickle_by_value(sys.modules[module])  # workers cannot import it
        out.append((name, obj, kind))
    return out


def _cloudpickle() -> Any:
    """The cloudpickle joblib's workers use (standalone since joblib 1.5, vendored before)."""
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - older joblib
        from joblib.externals import cloudpickle
    return cloudpickle


def _rows(n: int, max_rows: int | None, seed: int) -> np.ndarray:
    if max_rows is None or max_rows >= n:
        return np.arange(n)
    if max_rows < 2:
        raise ConfigError(f"max_rows must be at least 2, got {max_rows!r}")
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def _token_index(offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
    starts, ends = offsets[rows], offsets[rows + 1]
    return np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)] or [[]])


def _missing(y: np.ndarray) -> np.ndarray:
    return np.asarray(pd.isna(pd.Series(y, dtype=object)), dtype=bool)


def _targets(task: Task, ctx: dict[str, Any], level: str) -> np.ndarray:
    """The task's targets at ``level`` as an object array, checked for length."""
    y = np.asarray(task.targets(ctx["meta"], ctx["tokens"], ctx["offsets"], level=level),
                   dtype=object)
    n = len(ctx["tokens"]) if level == "token" else len(ctx["meta"])
    if y.shape != (n,):
        what = "tokens" if level == "token" else "sentences"
        raise ConfigError(
            f"task {task.name!r} returned {len(y)} targets for {n} {what}: return one per row"
        )
    return y


def _problem(store: Any, view: str, task: Task, rows: np.ndarray, ctx: dict[str, Any]) -> Problem:
    """Build the matrix, targets, groups and control keys of one (store, view, task)."""
    meta, toks, offs = ctx["meta"], ctx["tokens"], ctx["offsets"]
    if store.kind(view) == "token":
        flat, store_offsets = store.tokens(view)
        idx = _token_index(np.asarray(store_offsets), rows)
        if len(idx) != len(toks):
            raise StoreError(
                f"view {view!r} holds {len(idx)} token states for {len(toks)} tokens in meta: "
                "the store is inconsistent, re-run `probe-rnn capture`"
            )
        X = flat[idx]
        y = _targets(task, ctx, "token")
        lengths = np.diff(offs)
        groups = np.repeat(ctx["groups"], lengths)
        keys = toks
        t, t_end = positions(offs) if task.by_position else (None, None)
        keep = ~_missing(y)
    else:
        values, mask = store.sentence_masked(view)
        X = values[rows]
        y = _targets(task, ctx, "sentence")
        groups, keys, t, t_end = ctx["groups"], meta["text"].astype(str).to_numpy(), None, None
        keep = ~_missing(y) & np.asarray(mask)[rows]
    y = y[keep]
    if task.kind == "regression":
        y = y.astype(np.float64)
    return Problem(
        X=np.asarray(X[keep], dtype=np.float64), y=y, groups=groups[keep], keys=keys[keep],
        t=None if t is None else t[keep], t_end=None if t_end is None else t_end[keep],
        kind=task.kind,
    )


def _usable(p: Problem, folds: int) -> str | None:
    if len(p.y) == 0:
        return "no rows have a target"
    if p.kind == "classification" and len(np.unique(p.y)) < 2:
        return "a single class"
    if len(np.unique(p.groups)) < folds:
        return f"fewer than {folds} sentences"
    return None


def reportable_positions(
    p: Problem, splits: Sequence[tuple[np.ndarray, np.ndarray]], folds: int, max_t: int,
) -> list[int]:
    """The positions (0..max_t-1, -1..-max_t) estimable on ``p`` with these fold splits.

    A position qualifies when at least ``max(MIN_POSITION_SENTENCES,
    POSITION_SENTENCES_PER_FOLD * folds)`` distinct sentences have a row at it and, for
    classification, the training rows at it hold at least two classes in every split.
    """
    if p.t is None or p.t_end is None:
        return []
    need = max(MIN_POSITION_SENTENCES, POSITION_SENTENCES_PER_FOLD * folds)
    out = []
    for pos in [*range(max_t), *range(-1, -max_t - 1, -1)]:
        at = (p.t if pos >= 0 else p.t_end) == pos
        if len(np.unique(p.groups[at])) < need:
            continue
        if p.kind == "classification" and any(
            len(np.unique(p.y[tr][at[tr]])) < 2 for tr, _ in splits
        ):
            continue
        out.append(pos)
    return out


def _check(stores: Mapping[str, Any], folds: int, seeds: int, jobs: int) -> None:
    if not stores:
        raise ConfigError("stores is empty: pass {'trained': StateStore(...)}")
    if not isinstance(folds, int) or folds < 2:
        raise ConfigError(f"folds must be an integer >= 2, got {folds!r}")
    if not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds must be an integer >= 1, got {seeds!r}")
    if not isinstance(jobs, int) or jobs == 0:
        raise ConfigError(f"jobs must be a non-zero integer (-1 = all cores), got {jobs!r}")
    sizes = {name: len(s.meta) for name, s in stores.items()}
    if len(set(sizes.values())) > 1:
        raise ConfigError(f"stores hold different rows {sizes}: capture them from the same data")


def _plan(
    stores: Mapping[str, Any], views: Sequence[str] | None, tasks: list[Task],
    probe_specs: list[tuple[str, Any, str]], rows: np.ndarray, folds: int, seeds: int,
    seed: int, control: bool, mdl: bool, max_t: int,
) -> tuple[list[Combo], list[Any]]:
    combos: list[Combo] = []
    calls: list[Any] = []
    for model, store in stores.items():
        meta = store.meta.iloc[rows].reset_index(drop=True)
        toks, offs = flat_tokens(meta)
        ctx = {"meta": meta, "tokens": toks, "offsets": offs,
               "groups": group_ids(meta["text"].to_numpy())}
        for view in resolve_views(store, views, tasks):
            vkind = store.kind(view)
            for task in (t for t in tasks if t.applies_to(vkind)):
                p = _problem(store, view, task, rows, ctx)
                why = _usable(p, folds)
                if why is not None:
                    warnings.warn(f"task {task.name!r} skipped on view {view!r} ({model}): {why}",
                                  stacklevel=3)
                    continue
                chosen = [s for s in probe_specs if s[2] in (task.kind, "any")] or \
                    resolve_probes([_FALLBACK[task.kind]])
                splits = {seed + s: group_kfold(p.groups, folds, seed + s) for s in range(seeds)}
                report_t = reportable_positions(
                    p, [f for fs in splits.values() for f in fs], folds, max_t
                )
                for pname, spec, _ in chosen:
                    combo = Combo(model, view, vkind, task, pname, p, [], [])
                    for s in range(seeds):
                        sd = seed + s
                        ctrl = (control_targets(p.y, p.keys, sd)
                                if control and task.kind == "classification" else None)
                        for tr, te in splits[sd]:
                            combo.fold_calls.append(len(calls))
                            calls.append(delayed(fold_job)(spec, p, tr, te, sd, ctrl, report_t))
                        if mdl and task.kind == "classification":
                            combo.mdl_calls.append(len(calls))
                            calls.append(delayed(mdl_job)(spec, p, sd))
                    combos.append(combo)
    return combos, calls


def run_probes(
    stores: Mapping[str, Any],
    views: Sequence[str] | None = None,
    tasks: Sequence[str | Task] | None = None,
    probes: Sequence[Any] = ("logistic",),
    folds: int = 5,
    seeds: int = 1,
    max_rows: int | None = None,
    jobs: int = 1,
    mdl: bool = True,
    control: bool = True,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    max_t: int = 16,
) -> pd.DataFrame:
    """Probe every view of every store for every task with every probe.

    Parameters
    ----------
    stores : mapping of str to StateStore
        ``{"trained": ..., "random-init": ...}``; the key becomes the ``model`` column.
    views : sequence of str, optional
        View names (stored or ``@t``); default: every stored sentence view (plus per-token
        views when a task is token-only).
    tasks : sequence of str or Task, optional
        Registered names or instances; default :data:`DEFAULT_TASKS`.
    probes : sequence
        Registered names, import paths (``sklearn.svm.LinearSVC``), classes, factories or
        estimator instances.
    folds, seeds : int
        K-fold by sentence, repeated with seeds ``seed .. seed + seeds - 1``.
    max_rows : int, optional
        Use a seeded sample of this many sentences.
    jobs : int
        joblib ``n_jobs`` for the fits (-1 = all cores).
    mdl, control : bool
        Compute the online codelength / the control task and selectivity.
    seed : int
        Base seed of every random choice.
    progress : callable(done, total), optional
        Called after each finished fit.
    max_t : int
        Positions considered per t for token-level tasks (0..max_t-1 and -1..-max_t); only
        the estimable ones are reported (:func:`reportable_positions`).

    Returns
    -------
    DataFrame
        Columns :data:`~probe_rnn.probing.results.RESULT_COLUMNS`; ``attrs`` holds the run's
        ``ci_method``, ``bits``, ``folds``, ``seeds`` and ``seed``.
    """
    _check(stores, folds, seeds, jobs)
    task_objs = [get_task(t) for t in (DEFAULT_TASKS if tasks is None else tasks)]
    probe_specs = resolve_probes(probes)
    rows = _rows(len(next(iter(stores.values())).meta), max_rows, seed)
    combos, calls = _plan(stores, views, task_objs, probe_specs, rows, folds, seeds, seed,
                          control, mdl, max_t)
    if not combos:
        raise ConfigError(
            "nothing to probe: no (view, task) pair has usable rows; check the warnings above, "
            "the views' kinds (sentence tasks need sentence views) and --folds"
        )
    outputs: list[Any] = []
    if calls:
        runner = Parallel(n_jobs=jobs, return_as="generator")
        for out in runner(calls):
            outputs.append(out)
            if progress is not None:
                progress(len(outputs), len(calls))
    return assemble(combos, outputs, folds=folds, seeds=seeds, seed=seed)
