"""The whole run: capture -> diagnosis -> probing -> attribution -> report, into one run folder.

``run_pipeline`` is what ``probe-rnn probe`` and ``probe-rnn demo`` call. Each stage writes its
output into the run folder before the next starts, so a crash late loses nothing earlier and
``probe-rnn report DIR`` can re-render without recomputing. Probing writes every finished cell
to ``journal/`` as it finishes, so an interrupted run (Ctrl-C, kill -9) resumes with the cells
it has. ``run.json`` records the model card, the data card, the arguments, the probing
protocol, the cells (reused, failed) and each stage's wall time; it is rewritten after every
stage. Long stages report to a :class:`~probe_rnn.progress.Progress`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import inspect
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from probe_rnn import __version__
from probe_rnn.atomic import replacing, write_text
from probe_rnn.errors import ConfigError, DataError

if TYPE_CHECKING:
    from probe_rnn.data.probed_rows import ProbedRows
    from probe_rnn.models import ModelBundle
    from probe_rnn.progress import Progress

__all__ = ["RunResult", "run_pipeline", "sample_rows", "model_card", "data_card"]

Say = Callable[[str], None]


@dataclass
class RunResult:
    """What a run produced: the folder, the results table and the report path (if built)."""

    out_dir: Path
    results: pd.DataFrame
    diagnosis: pd.DataFrame
    report_path: Path | None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        where = self.report_path or self.out_dir
        return f"<p>probe-rnn run in <code>{where}</code>: {len(self.results)} result rows</p>"


def sample_rows(df: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """A seeded sample of at most ``max_rows`` rows, keeping the table's order."""
    if max_rows is not None and max_rows < 1:
        raise ConfigError(f"--max-rows must be at least 1; received {max_rows}")
    if max_rows is None or len(df) <= max_rows:
        return df.reset_index(drop=True)
    picked = df.sample(n=max_rows, random_state=seed).sort_index()
    return picked.reset_index(drop=True)


def model_card(bundle: ModelBundle) -> dict[str, Any]:
    """Architecture, labels, tokenizer and training metadata as plain JSON values."""
    return _jsonable(bundle.card())


def data_card(df: pd.DataFrame, source: str) -> dict[str, Any]:
    """Size, splits, label counts and a checksum of the texts and labels."""
    from probe_rnn.capture.store import data_checksum

    splits = df["split"].value_counts().sort_index() if "split" in df else pd.Series(dtype=int)
    labels = df["label"].value_counts().sort_index()
    return {
        "source": source,
        "rows": int(len(df)),
        "splits": {str(k): int(v) for k, v in splits.items()},
        "label_counts": {str(k): int(v) for k, v in labels.items()},
        "checksum": data_checksum(df["text"], df["label"]),
    }


def run_pipeline(bundle: ModelBundle, df: pd.DataFrame, out_dir: str | Path, **kwargs: Any
                 ) -> RunResult:
    """Capture, diagnose, probe, attribute and report ``bundle`` on ``df`` into ``out_dir``.

    The run folder is locked for the run (:mod:`probe_rnn.runlock`): a second run into it
    fails at once naming this one's PID. Keyword arguments: see :func:`_run_pipeline`.
    """
    from probe_rnn.runlock import run_lock

    out = Path(out_dir)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        with run_lock(out):
            return _run_pipeline(bundle, df, out, **kwargs)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # nothing was written: leave no empty folder behind
        raise


def _run_pipeline(
    bundle: ModelBundle,
    df: pd.DataFrame,
    out_dir: str | Path,
    *,
    source: str = "table",
    name: str | None = None,
    views: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
    probes: Sequence[str] = ("logistic",),
    folds: int = 5,
    seeds: int = 1,
    max_rows: int | None = None,
    jobs: int = 1,
    mdl: bool = True,
    precision: float | None = None,
    probe_rows: str = "heldout",
    cell_timeout: float | None = None,
    random_baseline: bool = True,
    attribution_rows: int = 24,
    umap: bool = True,
    report: bool = True,
    seed: int = 0,
    arguments: dict[str, Any] | None = None,
    say: Say | None = None,
    progress: Progress | None = None,
    client: Any = None,
) -> RunResult:
    """The run itself (:func:`run_pipeline` holds the folder's lock around it).

    Parameters
    ----------
    bundle : ModelBundle
        The trained model with its tokenizer/adapter.
    df : DataFrame
        Columns ``text``, ``label`` and optionally ``split``.
    out_dir : path
        The run folder; complete state stores already in it are reused.
    attribution_rows : int
        Sentences to attribute (a seeded sample); 0 skips attribution.
    jobs : int
        Probing cells run in parallel (-1 = all cores).
    precision : float, optional
        Probing precision target (:mod:`probe_rnn.probing.protocol`; default 0.01).
    probe_rows : {"heldout", "train", "all"}
        Rows to probe (:mod:`probe_rnn.data.probed_rows`): by default only the dev and test
        rows, which the model did not train on; with ``heldout``, the label probe also runs on
        as many training rows, for the report's held-out vs training-row comparison.
    cell_timeout : float, optional
        Seconds a probing cell may run before it is stopped and recorded failed (default:
        no limit).
    say : callable, optional
        Receives one short line per finished stage (the CLI prints them).
    progress : Progress, optional
        Shows capture, probing and attribution progress (default: none).
    client : distributed.Client, optional
        Capture shards and probing cells run as tasks on its Dask cluster
        (:mod:`probe_rnn.cluster`); the run folder must be on a filesystem its workers see.
        The results are those of a local run.
    """
    from probe_rnn.capture import capture, diagnose
    from probe_rnn.data import ensure_splits
    from probe_rnn.data.probed_rows import choose_rows, split_source
    from probe_rnn.probing import run_probes, save_results
    from probe_rnn.probing.protocol import DEFAULT_PRECISION
    from probe_rnn.probing.timelimit import check_timeout
    from probe_rnn.progress import Progress

    _check_names(bundle, views, tasks, probes)
    check_timeout(cell_timeout)
    say = say or (lambda line: None)
    progress = progress or Progress(quiet=True)
    precision = DEFAULT_PRECISION if precision is None else precision
    split = ensure_splits(df, seed=seed)  # checks the table (label column, split values)
    source_of_split, trusted = split_source(df, getattr(bundle, "meta", None), seed)
    df = sample_rows(split, max_rows, seed)
    probed = choose_rows(df, probe_rows, source_of_split, trusted)
    _check_labels(bundle, df, say)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    previous = _read_run(out)
    run = {
        "name": name or out.name,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "probe_rnn_version": __version__,
        "seed": seed,
        "model": model_card(bundle),
        "data": data_card(df, source),
        "probed_rows": probed.card(),
        "arguments": _jsonable(arguments or {}),
        "stages": {},
    }
    run["fingerprint"] = _fingerprint(run, views, tasks, probes, folds, seeds, mdl,
                                      random_baseline, attribution_rows, precision, probe_rows)
    reusable = _reusable_stages(previous, run["fingerprint"], out)
    _clear_stale(out, reusable)
    _write_run(out, run)
    say(f"{'rows':<12} {probed.describe()}")

    n_models = 2 if random_baseline else 1
    with _stage(run, out, "capture", say) as note, \
            progress.stage("capture", len(df) * n_models, "rows") as bar:
        stores = {"trained": capture(bundle, df, out / "states", views=views, notice=say,
                                     progress=lambda done, total: bar(done), client=client)}
        if random_baseline:
            from probe_rnn.models import build_random_init

            baseline = build_random_init(bundle, seed=seed)
            stores["random-init"] = capture(
                baseline, df, out / "states-random", views=views, notice=say,
                progress=lambda done, total: bar(len(df) + done), client=client)
        note(f"{len(df)} rows, {len(stores['trained'].views)} views")

    with _stage(run, out, "diagnosis", say, reusable) as note:
        diagnosis = _reread(note, say, "diagnosis.csv", lambda: pd.read_csv(out / "diagnosis.csv"))
        if diagnosis is None:
            diagnosis = diagnose(bundle, df)
            with replacing(out / "diagnosis.csv") as tmp:
                diagnosis.to_csv(tmp, index=False)
        note(f"{len(diagnosis)} checks")

    with _stage(run, out, "probing", say, reusable) as note:
        results = _reread(note, say, "results.parquet",
                          lambda: pd.read_parquet(out / "results.parquet"))
        if results is not None:
            run["probing"] = (previous or {}).get("probing", {})
            results.attrs.update(run["probing"])  # failed cells, protocol: as when computed
            note(_probing_note(results))
        else:
            with progress.stage("probing", 0, "cells") as bar:
                results, values = run_probes(
                    stores, views=views, tasks=tasks, probes=tuple(probes), folds=folds,
                    seeds=seeds, jobs=jobs, mdl=mdl, seed=seed, precision=precision,
                    rows=probed.index, journal=out / "journal", progress=bar,
                    cell_timeout=cell_timeout, return_values=True, client=client,
                )
                training = _training_rows_probe(
                    stores["trained"], probed, views, tasks, probes, folds=folds, seeds=seeds,
                    jobs=jobs, seed=seed, precision=precision, journal=out / "journal",
                    cell_timeout=cell_timeout, client=client)
            if training is not None:
                save_results(training, out, TRAIN_ROWS_NAME)
            save_results(results, out)
            with replacing(out / VALUES_NAME) as tmp:  # the long table, for paired differences
                values.to_parquet(tmp, index=False)
            _save_cells(results, out)
            run["probing"] = _probing_card(results)
            note(_probing_note(results))

    if attribution_rows > 0:
        from probe_rnn.attribution import attribute

        with _stage(run, out, "attribution", say, reusable) as note:
            if not note.cached:
                with progress.stage("attribution", 0, "steps") as bar:
                    attribute(bundle, df, out / "attribution", rows=attribution_rows, seed=seed,
                              probes=_measured_probes(out, probes[0]),
                              progress=lambda done, total, what: bar(done, total))
            note(f"{attribution_rows} sentences")
    else:  # recorded, so the report says it was skipped (not "did not finish")
        run["stages"]["attribution"] = {"seconds": 0.0, "status": "skipped",
                                        "detail": "--attribution-rows 0"}
        _write_run(out, run)

    report_path = None
    if report:
        from probe_rnn.report import build_report

        with _stage(run, out, "report", say) as note:
            report_path = Path(build_report(out, umap=umap, seed=seed, progress=progress).path)
            note(str(report_path))
    return RunResult(out, results, diagnosis, report_path, run["stages"])


#: Results of the label probe on training rows (beside the held-out ones): memorisation.
TRAIN_ROWS_NAME = "train-rows"
#: The long table: every per-split value and bootstrap resample behind the intervals.
VALUES_NAME = "values.parquet"


def _training_rows_probe(store: Any, probed: ProbedRows, views: Sequence[str] | None,
                         tasks: Sequence[str] | None, probes: Sequence[str], **kwargs: Any
                         ) -> pd.DataFrame | None:
    """The label probe (first probe, sentence views, no control or MDL) on as many training
    rows as there are held-out ones (a seeded sample), so the report can set held-out and
    training-row accuracy side by side; None when not probing held-out rows or no label task.
    """
    from probe_rnn.probing import run_probes

    label = "label" if tasks is None or "label" in tasks else None
    if probed.choice != "heldout" or label is None or len(probed.train_index) < 2:
        return None
    names = list(views) if views is not None else store.views
    sentence = [v for v in names if store.kind(v) == "sentence"]
    if not sentence:
        return None
    n = min(len(probed.train_index), len(probed.index))
    rng = np.random.default_rng(kwargs["seed"])
    rows = np.sort(rng.choice(probed.train_index, size=n, replace=False))
    return run_probes({"trained": store}, views=sentence, tasks=[label], probes=(probes[0],),
                      rows=rows, mdl=False, control=False, **kwargs)


def _measured_probes(out: Path, probe: str) -> dict[str, Any]:
    """The label probes the probing stage measured (trained model, ``probe``), by view, rebuilt
    from their journal records (:mod:`probe_rnn.probing.exported`); cells.csv, written by the
    probing stage whether it ran or was reused, names the cells and their journal keys."""
    from probe_rnn.probing.exported import import_probe
    from probe_rnn.probing.journal import Journal

    try:
        cells = pd.read_csv(out / "cells.csv")
    except (OSError, ValueError):
        return {}
    if "key" not in cells:
        return {}  # a probing stage from before cells kept their probes
    chosen = cells[(cells["model"] == "trained") & (cells["task"] == "label")
                   & (cells["probe"] == probe) & (cells["status"] == "done")]
    book, found = Journal(out / "journal"), {}
    for view, key in zip(chosen["view"], chosen["key"], strict=True):
        record = book.get(str(key))
        if record and record.get("fitted_probe"):
            found[str(view)] = import_probe(record["fitted_probe"])
    return found


def _reread(note: _Note, say: Say, name: str, read: Callable[[], pd.DataFrame]
            ) -> pd.DataFrame | None:
    """A reusable stage's saved table, or None (not reusable, or it does not parse: then the
    stage is recomputed, with a one-line notice, instead of failing on a damaged file)."""
    if not note.cached:
        return None
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - pyarrow/pandas raise many types on bad files
        say(f"{name} cannot be read ({type(exc).__name__}); recomputing it")
        note.cached = False
        return None


def _check_labels(bundle: ModelBundle, df: pd.DataFrame, say: Say) -> None:
    """The data's labels against the model's: none in common is an error, some a notice."""
    known = {str(v) for v in (bundle.labels or [])}
    given = {str(v) for v in df["label"].dropna().unique()}
    if not known or not given or given <= known:
        return
    show = lambda values: ", ".join(sorted(values)[:10]) + (" …" if len(values) > 10 else "")  # noqa: E731
    if not given & known:
        raise DataError(f"the data's labels ({show(given)}) are none of the model's "
                        f"({show(known)}): check --label and the checkpoint")
    say(f"note: {len(given - known)} data label(s) the model does not know "
        f"({show(given - known)}); the model's labels are {show(known)}")


def _check_names(bundle: ModelBundle, views: Sequence[str] | None,
                 tasks: Sequence[str] | None, probes: Sequence[str]) -> None:
    """Every view, task and probe name checked before any work (one-line errors listing the
    valid names), so a typo never costs a capture; views also against the shape of the
    module that will be captured (the model's first recurrent module)."""
    import torch

    from probe_rnn.capture.recurrent import module_kind
    from probe_rnn.capture.views import gate_views_for, resolve_views, views_for
    from probe_rnn.probing.runner import resolve_probes
    from probe_rnn.probing.tasks import get_task
    from probe_rnn.vocabulary import parse_view

    for view in views or ():
        parse_view(view)
    module = next((m for m in bundle.model.modules() if isinstance(m, torch.nn.RNNBase)), None)
    if module is not None and views:
        dirs = 2 if module.bidirectional else 1
        gates = gate_views_for(module_kind(module) or "", module.num_layers, dirs)
        resolve_views(views_for(module.num_layers, dirs, isinstance(module, torch.nn.LSTM)),
                      views, optional=gates)
    for task in tasks or ():
        get_task(task)
    resolve_probes(probes)


def _probing_card(results: pd.DataFrame) -> dict[str, Any]:
    """What run.json records of the probing stage: method, protocol and the cells' fate."""
    attrs = dict(results.attrs)
    records = attrs.pop("cell_records", [])
    card = _jsonable(attrs)
    card["protocols"] = {p: sum(r.get("protocol") == p for r in records)
                         for p in sorted({r.get("protocol") or "" for r in records} - {""})}
    return card


def _probing_note(results: pd.DataFrame) -> str:
    a = results.attrs
    text = f"{len(results)} result rows, {a.get('cells', 0)} cells"
    if a.get("reused_cells"):
        text += f" ({a['reused_cells']} reused from the journal)"
    if a.get("unreadable_journal"):
        text += f", {a['unreadable_journal']} unreadable journal file(s) recomputed"
    if a.get("failed_cells"):
        text += f", {len(a['failed_cells'])} FAILED (see cells.csv)"
    return text


def _save_cells(results: pd.DataFrame, out: Path) -> None:
    """``cells.csv``: one row per cell (status, reason, protocol, seconds), written atomically."""
    table = pd.DataFrame(results.attrs.get("cell_records", []))
    with replacing(out / "cells.csv") as tmp:
        table.to_csv(tmp, index=False)


# help(run_pipeline) and notebooks see the run's real parameters, not **kwargs
run_pipeline.__signature__ = inspect.signature(_run_pipeline)  # type: ignore[attr-defined]


_STAGE_FILES = {
    "diagnosis": ("diagnosis.csv",),
    "probing": ("results.parquet", "results.csv", "cells.csv", VALUES_NAME),
    "attribution": ("attribution/manifest.json",),
}


#: Outputs a stage writes only in some runs (removed with the stage's other outputs).
_OPTIONAL_FILES = {"probing": (f"{TRAIN_ROWS_NAME}.parquet", f"{TRAIN_ROWS_NAME}.csv")}


def _clear_stale(out: Path, reusable: set[str]) -> None:
    """Remove the outputs of stages this run will redo, and the old report, before any work:
    a run that fails half-way never leaves earlier results presented under its new run.json.
    (Finished probing cells stay in ``journal/``, keyed on their own settings.)"""
    stale = [f for stage, files in (*_STAGE_FILES.items(), *_OPTIONAL_FILES.items())
             if stage not in reusable for f in files]
    for name in [*stale, "index.html"]:
        (out / name).unlink(missing_ok=True)


class _Note:
    """Handed to a stage body: call it with a detail line; ``cached`` says to reuse files."""

    def __init__(self, cached: bool) -> None:
        self.cached = cached
        self.detail = ""

    def __call__(self, detail: str) -> None:
        self.detail = detail


class _stage:
    """Time one stage, record it in run.json, and report a line when it ends.

    run.json says ``running`` while the stage runs, then ``done``/``reused`` or ``failed``; a
    run that dies (kill -9, or a disk too full even for run.json) leaves ``running``, which is
    never taken for finished.
    """

    def __init__(
        self, run: dict[str, Any], out: Path, name: str, say: Say, reusable: set[str] = frozenset()
    ) -> None:
        self.run, self.out, self.name, self.say = run, out, name, say
        self.note = _Note(cached=name in reusable)

    def __enter__(self) -> _Note:
        self.start = time.perf_counter()
        self.run["stages"][self.name] = {"seconds": 0.0, "status": "running", "detail": ""}
        _write_run(self.out, self.run)
        return self.note

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        seconds = round(time.perf_counter() - self.start, 2)
        status = "failed" if exc_type is not None else "reused" if self.note.cached else "done"
        self.run["stages"][self.name] = {
            "seconds": seconds, "status": status, "detail": self.note.detail,
        }
        try:
            _write_run(self.out, self.run)
        except OSError:
            if exc_type is None:
                raise
            _overwrite_run(self.out, self.run)  # a full disk: the stage's error is reported
        if exc_type is None:
            suffix = " (reused)" if self.note.cached else ""
            self.say(f"{self.name:<12} {seconds:7.1f} s  {self.note.detail}{suffix}")


def _fingerprint(run: dict[str, Any], *settings: Any) -> str:
    """Hash of what decides a run's numbers: model, data, seed and the probing settings."""
    key = [run["model"]["checksum"], run["data"]["checksum"], run["seed"], __version__]
    key += [list(s) if isinstance(s, (list, tuple)) else s for s in settings]
    return hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()


def _overwrite_run(out: Path, run: dict[str, Any]) -> None:
    """Best effort, after a failure on a full disk: rewrite run.json in place (the atomic
    write needs room for a second copy); if even that fails it keeps saying ``running``."""
    try:
        with open(out / "run.json", "r+", encoding="utf-8") as handle:
            handle.write(json.dumps(run, indent=2))
            handle.truncate()
    except OSError:
        pass


def _read_run(out: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out / "run.json").read_text())
    except (OSError, ValueError):
        return None


def _reusable_stages(previous: dict[str, Any] | None, fingerprint: str, out: Path) -> set[str]:
    """Stages a previous run with the same fingerprint finished and whose files are there
    (probing with failed cells is redone: its finished cells come back from the journal and
    the failed ones are tried again, as the journal never keeps them)."""
    if not previous or previous.get("fingerprint") != fingerprint:
        return set()
    stages = previous.get("stages", {})
    done = {n for n, s in stages.items() if s.get("status") in ("done", "reused")}
    if (previous.get("probing") or {}).get("failed_cells"):
        done.discard("probing")
    return {
        stage
        for stage, files in _STAGE_FILES.items()
        if stage in done and all((out / f).exists() for f in files)
    }


def _write_run(out: Path, run: dict[str, Any]) -> None:
    write_text(out / "run.json", json.dumps(run, indent=2, sort_keys=False))


def _jsonable(value: Any) -> Any:
    """Turn nested metadata into JSON-safe values (paths and numpy scalars become plain)."""
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
