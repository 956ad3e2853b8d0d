"""The cell: one (model, view, task, probe) with all its splits, seeds, control and MDL.

A cell is the unit of probing work. :class:`Cell` says what to compute and is cheap to send to
a worker (the store is re-opened there, memory-mapped; no matrix travels). :func:`run_cell`
builds the cell's matrix when the cell runs (float32: stores hold float16, so nothing is
lost), splits it (:mod:`probe_rnn.probing.protocol`), fits through one
:class:`~probe_rnn.probing.jobs.Fitter`, and returns a JSON-ready record: its result rows
(:data:`~probe_rnn.run_folder.RESULT_COLUMNS`), the per-split values, its status
(``done``, ``skipped`` with the reason, or ``failed`` with the error, naming the probe and,
for a plugin, its file), and its wall and CPU seconds. A failing probe fails its cell only.

:func:`cell_key` is the hash of everything that decides a cell's numbers (the store's
manifest, the rows, the view, the task and its parameters, the probe and its parameters, the
settings, the protocol and probe-rnn's version): the run journal keys finished cells on it.
"""

from __future__ import annotations

import json
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from probe_rnn import __version__
from probe_rnn.catalogue import OUTPUT_NAIVE_LAST
from probe_rnn.errors import ConfigError, Part, ProbeOutputError, StoreError, parts_to_json, render
from probe_rnn.hashing import json_sha256, rows_sha256, sha256
from probe_rnn.probing.controls import DEGENERATE_CONTROL, control_keys, control_targets
from probe_rnn.probing.exported import export_probe
from probe_rnn.probing.jobs import Fitter, Problem, key_classes, mdl_job, split_job
from probe_rnn.probing.protocol import DEFAULT_PRECISION, PROTOCOL_VERSION, plan_splits
from probe_rnn.probing.results import cell_rows
from probe_rnn.probing.state_source import StateSource
from probe_rnn.probing.tasks import Task, positions
from probe_rnn.probing.timelimit import CellTimeout, time_limit
from probe_rnn.probing.view_texts import context, store_identity, text_skip, view_text
from probe_rnn.usercode import code_identity, did, exits_contained

MIN_POSITION_SENTENCES = 30
POSITION_SENTENCES_PER_FOLD = 5


@dataclass(frozen=True)
class Settings:
    """What every cell of a run shares (validated by the runner, hashed into each key)."""

    folds: int = 5
    seeds: int = 1
    seed: int = 0
    control: bool = True
    mdl: bool = True
    max_t: int = 16
    precision: float = DEFAULT_PRECISION


@dataclass
class Cell:
    """One (model, view, task, probe) of a run; ``rows`` are the store rows probed."""

    model: str
    store: StateSource
    view: str
    view_kind: str
    task: Task
    probe: str
    spec: Any
    rows: np.ndarray = field(repr=False)
    origin: str = ""  # a plugin probe's file; task_origin: a plugin task's
    task_origin: str = ""

    @property
    def label(self) -> str:
        """``trained · output@last · label · logistic`` (for messages and progress)."""
        return f"{self.model} · {self.view} · {self.task.name} · {self.probe}"


def _describe(obj: Any) -> Any:
    """A stable, JSON-ready description of a task or probe spec (class and parameters)."""
    if hasattr(obj, "get_params"):
        params = {k: v for k, v in obj.get_params(deep=False).items() if k != "random_state"}
        return [f"{type(obj).__module__}.{type(obj).__qualname__}", _plain(params)]
    if isinstance(obj, type):
        return f"{obj.__module__}.{obj.__qualname__}"
    if isinstance(obj, Task):
        params = {k: v for k, v in vars(obj).items() if not k.startswith("_")}
        return [f"{type(obj).__module__}.{type(obj).__qualname__}", obj.name, _plain(params)]
    return repr(obj)


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=repr, sort_keys=True))


def cell_code(cell: Cell) -> dict[str, str]:
    """``{where: digest}`` of the user code that decides the cell's numbers: the plugin files
    (or installed packages) defining its probe and its task (:func:`~probe_rnn.usercode.
    code_identity`); empty for probe-rnn's own probes and tasks."""
    from probe_rnn.plugins import registry
    from probe_rnn.probing.specs import make_probe

    spec = cell.spec
    if isinstance(spec, str) and spec in registry.names("probe"):
        spec = registry.get("probe", spec)
    code: dict[str, str] = {}
    for obj in (spec, make_probe(cell.spec, 0), cell.task):
        code.update(code_identity(obj))
    return code


def cell_key(cell: Cell, settings: Settings, code: dict[str, str] | None = None) -> str:
    """sha256 of everything that decides the cell's numbers (``code``: its
    :func:`cell_code`, computed when not given)."""
    from probe_rnn.probing.specs import make_probe

    code = cell_code(cell) if code is None else code
    rows = rows_sha256(cell.rows)
    key = {
        "version": __version__, "protocol": PROTOCOL_VERSION, "model": cell.model,
        "store": store_identity(cell.store), "rows": rows, "view": cell.view,
        "task": _describe(cell.task), "probe": [cell.probe, _describe(make_probe(cell.spec, 0))],
        "settings": asdict(settings),
    } | ({"code": code} if code else {})  # keys of built-in probes and tasks stay as they were
    return json_sha256(key, default=repr)


# -- building the matrix --------------------------------------------------------------------
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


def _token_index(offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
    starts, ends = offsets[rows], offsets[rows + 1]
    return np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)] or [[]]
                          ).astype(np.int64)


def build_problem(cell: Cell) -> Problem:
    """The matrix (float32), targets, groups and control keys of one cell."""
    store, task, rows = cell.store, cell.task, cell.rows
    ctx = context(store, rows, view_text(store, cell.view))
    toks, offs = ctx["tokens"], ctx["offsets"]
    if cell.view_kind == "token":
        flat, store_offsets = store.tokens(cell.view)
        idx = _token_index(np.asarray(store_offsets), rows)
        if len(idx) != len(toks):
            raise StoreError(
                f"view {cell.view!r} holds {len(idx)} token states for {len(toks)} tokens in "
                "meta: the store is inconsistent, capture it again"
            )
        y = _targets(task, ctx, "token")
        keep = ~_missing(y)
        X = np.asarray(flat[idx[keep]], dtype=np.float32)
        groups = np.repeat(ctx["groups"], np.diff(offs))[keep]
        keys = toks[keep]
        t, t_end = positions(offs) if task.by_position else (None, None)
        t = None if t is None else t[keep]
        t_end = None if t_end is None else t_end[keep]
    else:
        values, mask = store.sentence_masked(cell.view)
        y = _targets(task, ctx, "sentence")
        keep = ~_missing(y) & np.asarray(mask)[rows]
        X = np.asarray(values[rows[keep]], dtype=np.float32)
        groups, t, t_end = ctx["groups"][keep], None, None
        keys = control_keys(task, toks, offs)
        keys = None if keys is None else keys[keep]
    y = y[keep]
    if task.kind == "regression":
        y = y.astype(np.float64)
    else:
        y = np.asarray([str(v) if not isinstance(v, str) else v for v in y.tolist()], dtype=object)
    return Problem(X=X, y=y, groups=groups, keys=keys, t=t, t_end=t_end, kind=task.kind)


def _pairing(plan: Any, groups: np.ndarray, seeds: list[int], ctx: dict[str, Any]) -> str:
    """Hash of the cell's splits: its sentences, and each split's test sentences per seed
    (by text: sentence ids are only positions within the cell's rows).

    Cells with equal hashes (same rows, same mask, same protocol) were scored on the very same
    splits, so their per-split values (and bootstrap resamples) pair up."""
    text = np.empty(int(ctx["groups"].max()) + 1 if len(ctx["groups"]) else 0, dtype=object)
    text[ctx["groups"]] = ctx["meta"]["text"].astype(str).to_numpy()

    def update(ids: np.ndarray) -> None:
        digest.update("\x1e".join(text[np.unique(ids)].tolist()).encode("utf-8"))

    digest = sha256(plan.protocol.encode())
    update(groups)
    for sd in seeds:
        for k, (_, te) in enumerate(plan.splits[sd]):
            digest.update(f"|{sd}:{k}|".encode())
            update(groups[te])
    return digest.hexdigest()[:16]


def _usable(p: Problem, folds: int) -> str | None:
    if len(p.y) == 0:
        return "no rows have a target"
    if p.kind == "classification" and len(np.unique(p.y)) < 2:
        return "a single class"
    if len(np.unique(p.groups)) < folds:
        return f"fewer than {folds} sentences"
    return None


def reportable_positions(
    p: Problem, splits: list[tuple[np.ndarray, np.ndarray]], folds: int, max_t: int,
) -> list[int]:
    """The positions (0..max_t-1, -1..-max_t) estimable on ``p`` with these splits.

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


# -- running ---------------------------------------------------------------------------------
class _TaskFailed(Exception):
    """The task (not the probe) raised while building the cell's targets."""


def _control_setup(cell: Cell, p: Problem, settings: Settings
                   ) -> tuple[bool, np.ndarray | None]:
    """Whether the cell runs the control task, and (sentence-level tasks with a control) the
    control's key of each row as a class to decode (:func:`~.jobs.key_classes`)."""
    control = settings.control and p.kind == "classification" and p.keys is not None
    sentence = control and cell.view_kind == "sentence"
    return control, key_classes(p.keys) if sentence else None


def _withheld(majority: float | None) -> str:
    if majority is None or not majority >= DEGENERATE_CONTROL:
        return ""
    return (f"selectivity withheld: {majority:.0%} of the control's labels are one class "
            f"(its key is nearly constant; limit {DEGENERATE_CONTROL:.0%})")


def _compute(cell: Cell, settings: Settings) -> dict[str, Any]:
    text = view_text(cell.store, cell.view)
    why = text_skip(cell.task, cell.view, cell.view_kind, text, cell.store.meta.columns)
    if why is not None:
        return {"status": "skipped", "reason": why}
    try:
        p = build_problem(cell)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a plugin task may do anything
        raise _TaskFailed(str(exc)) from exc
    why = _usable(p, settings.folds)
    if why is not None and not len(p.y) and cell.view.rsplit("@", 1)[-1].lstrip("-").isdigit() \
            and not cell.view.endswith(OUTPUT_NAIVE_LAST):
        why = f"no row has step {cell.view.rsplit('@', 1)[-1]} (every row is shorter)"
    if why is not None:
        return {"status": "skipped", "reason": why}
    seeds = [settings.seed + s for s in range(settings.seeds)]
    plan = plan_splits(p.groups, settings.folds, seeds, settings.precision)
    report_t = reportable_positions(p, [f for fs in plan.splits.values() for f in fs],
                                    settings.folds, settings.max_t)
    fitter = Fitter(cell.spec, settings.seed)
    control, key_y = _control_setup(cell, p, settings)
    splits: dict[int, list[dict[str, Any]]] = {}
    majorities = []
    for sd in plan.splits:
        ctrl = control_targets(p.y, p.keys, sd) if control else None
        if ctrl is not None:
            majorities.append(float(np.unique(ctrl, return_counts=True)[1].max() / len(ctrl)))
        splits[sd] = [split_job(fitter, p, tr, te, ctrl, cell.probe, report_t, key_y)
                      for tr, te in plan.splits[sd]]
    mdl = []
    if settings.mdl and p.kind == "classification":
        used = np.unique(np.concatenate([np.concatenate(s) for s in plan.splits[seeds[0]]]))
        keys = None if p.keys is None else p.keys[used]
        sub = Problem(p.X[used], p.y[used], p.groups[used], keys, None, None, p.kind)
        mdl = [{**mdl_job(cell.spec, sub, sd, fitter.tuned,
                          control_targets(sub.y, keys, sd) if control else None),
                "n": len(sub.y)} for sd in seeds]
    draws: dict[str, list[float]] = {}
    majority = float(np.mean(majorities)) if majorities else None
    rows, values = cell_rows(cell, p, plan, splits, mdl, settings, draws, majority)
    probe = None
    if cell.model == "trained" and cell.task.name == "label" and cell.view_kind == "sentence":
        # the measured probe, refit on all the cell's rows with its C, for probe attribution
        probe = export_probe(fitter.fit("final", p.X, p.y, p.groups), len(p.y))
    return {"status": "done", "reason": _withheld(majority), "protocol": plan.protocol,
            "rows": rows, "values": values, "draws": draws, "fitted_probe": probe,
            "pairing": _pairing(plan, p.groups, list(plan.splits),
                                context(cell.store, cell.rows, text)),
            "sentences": plan.sentences, "used_sentences": plan.used_sentences,
            "fits": fitter.fits, "not_converged": fitter.not_converged}


def run_cell(cell: Cell, settings: Settings, key: str = "",
             timeout: float | None = None) -> dict[str, Any]:
    """Run one cell single-threaded and return its JSON-ready record (never raises for the
    probe's or task's own errors: those make the cell ``failed`` with the reason; so does
    running past ``timeout`` seconds, :mod:`probe_rnn.probing.timelimit`)."""
    start, cpu = time.perf_counter(), time.process_time()
    record: dict[str, Any] = {"key": key, "model": cell.model, "view": cell.view,
                              "task": cell.task.name, "probe": cell.probe}
    try:
        with threadpool_limits(limits=1), time_limit(timeout), warnings.catch_warnings(), \
                exits_contained():
            # MDL's first blocks hold a handful of rows: sklearn's "more classes than half the
            # samples" guess at a regression target is noise there, not news
            warnings.filterwarnings("ignore", message="The number of unique classes is greater")
            record.update(_compute(cell, settings))
    except MemoryError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a user's probe or task may
        # raise anything, or exit (sys.exit, or os._exit made a ProcessExitCalled)
        parts = failure_message(cell, exc)  # reason_parts: its mentions, for a front end
        record.update(status="failed", reason=render(parts),
                      traceback=traceback.format_exc(limit=-3),
                      **({"reason_parts": parts_to_json(parts)} if len(parts) > 1 else {}))
    record["seconds"] = round(time.perf_counter() - start, 4)
    record["cpu_seconds"] = round(time.process_time() - cpu, 4)
    return record


def failure_message(cell: Cell, exc: BaseException) -> tuple[Part, ...]:
    """The parts of one line naming the probe (and its plugin) or task, and what it raised."""
    if isinstance(exc, _TaskFailed):
        cause = exc.__cause__ or exc
        text = " ".join(str(cause).split()) or "no message"
        module = type(cell.task).__module__
        where = "" if module.startswith("probe_rnn.") else \
            f" (from {f'plugin {cell.task_origin}' if cell.task_origin else module})"
        if isinstance(cause, SystemExit):
            return (f"task {cell.task.name!r}{where} {did(cause)}",)
        prefix = "" if text.startswith(f"task {cell.task.name!r}") else \
            f"task {cell.task.name!r}{where}: {type(cause).__name__}: "
        return (prefix + text,)
    where = f" (plugin {cell.origin})" if cell.origin else ""
    text = " ".join(str(exc).split()) or "no message"
    if isinstance(exc, CellTimeout):
        return f"probe {cell.probe!r}{where} on task {cell.task.name!r} ", *exc.parts
    if isinstance(exc, SystemExit):
        return (f"probe {cell.probe!r}{where} on task {cell.task.name!r} {did(exc)}",)
    if isinstance(exc, ProbeOutputError):
        return (f"{text}{where} on task {cell.task.name!r}",)
    return (f"probe {cell.probe!r}{where} on task {cell.task.name!r}: {type(exc).__name__}: "
            f"{text}",)

