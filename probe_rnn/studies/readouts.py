"""The readout study: which state should the classifier read — output or hidden state?

:func:`compare_readouts` trains the same architecture once per (readout, seed) with the same
budget, each seed on its own seeded split (:mod:`probe_rnn.studies.splits`), in parallel through
joblib, and returns a :class:`ReadoutStudy` with tidy tables: per-run test accuracy and training
curves (a run whose best epoch is its last is flagged ``still_improving``), a per-readout summary
with a 95% interval across seeds that includes the test set's sampling error, paired differences
between readouts (same seed = same split and same initialisation seed) with a plain verdict and
the minimum detectable difference, Holm-corrected verdicts against the best
(:mod:`probe_rnn.studies.stats`), and — per trained model — the probing
headline (label information in bits in ``output@last``, ``h_n`` and ``c_n`` of the top layer).
One trained model is also diagnosed (output versus hidden state, padding, directions), so the
report can explain the mechanics with this model's own numbers.

The question asks "output or hidden?" in three settings, the study's ``objective``:

``classify``
    the text classifier: the head reads the readout; scored by test accuracy;
``autoencode``
    the encoder–decoder: a decoder rebuilds the sentence from the readout
    (:mod:`probe_rnn.studies.autoencode`, with the ``zero`` no-readout baseline); scored by
    held-out token reconstruction accuracy (perplexity beside it);
``siamese``
    the similarity model: pairs scored by the cosine of their readouts, trained with each of
    ``losses`` (``mse``, ``contrastive``; :mod:`probe_rnn.studies.siamese`); scored by held-out
    pair ROC AUC (pair accuracy at the dev-chosen threshold beside it).

Every objective gets the same statistics: summaries and paired differences per loss, with the
seed pairing readouts (and losses). Every trained model — for autoencode and siamese its
encoder, with a label head fitted afterwards on its frozen readout — is kept in
``ReadoutStudy.models`` and saved as a probe-rnn checkpoint by :meth:`ReadoutStudy.save`, so
``probe-rnn probe DIR/models/<run>.pt`` shows what each readout carries under each
objective.

Runs are deterministic: every run trains with one torch thread (jobs × threads ≤ cores), so
the same seeds give the same numbers whatever ``jobs`` is.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from probe_rnn.catalogue import (
    OUTPUT_LAST,
    OUTPUT_NAIVE_LAST,
    has_cell_state,
    readout_views,
    state_views,
)
from probe_rnn.data.tokenizers import TOKENIZER_KINDS
from probe_rnn.models.config import Architecture, TrainBudget
from probe_rnn.studies.objectives import (
    OBJECTIVES,
    Objective,
    objective_named,
    parse_losses,
    parse_readouts,
)
from probe_rnn.studies.splits import seed_tables, split_card
from probe_rnn.studies.stats import statistics_by_loss
from probe_rnn.studies.study import ReadoutStudy
from probe_rnn.validation import SEED, Boolean, Instance, Interval, Names, Options, validate_params

if TYPE_CHECKING:
    from probe_rnn.capture.store import StateStore
    from probe_rnn.models import ModelBundle

#: Most held-out (dev + test) rows captured per trained model for the probing headline.
PROBE_ROWS = 600
#: Cross-validation folds of the label probe (split by sentence).
PROBE_FOLDS = 5
#: Training seeds per readout by default: with 3, a true 1-sd difference is found 18% of the
#: time and the selection of the best is hard to correct for.
DEFAULT_SEEDS = 5

Progress = Callable[[int, int, str], None]

#: The architecture a study trains when given none: a 2-layer bidirectional LSTM, hidden 64.
STUDY_ARCHITECTURE = Architecture(layers=2, bidirectional=True)

#: What each parameter of :func:`compare_readouts` accepts (:mod:`probe_rnn.validation`),
#: checked before any work; which readouts and losses an objective has is checked after.
PARAMETER_CONSTRAINTS: dict[str, Any] = {
    "architecture": [None, Instance(Architecture, "an Architecture", example=STUDY_ARCHITECTURE)],
    "budget": [None, Instance(TrainBudget, "a TrainBudget", example=TrainBudget())],
    "objective": Options(OBJECTIVES),
    "losses": [None, Names("names of losses (str)", min_items=1, example="mse")],
    "readouts": [None, Names("names of readouts (str)", min_items=1, example="last")],
    "seeds": Interval(int, 1, None),
    "jobs": Interval(int, 1, None),
    "seed": SEED,
    "probe": Boolean(),
    "progress": [None, Instance(Callable, "a callable progress(done, total, what)",
                                example=print)],
    "tokenizer": Options(TOKENIZER_KINDS),
    "probe_rows": Interval(int, 20, None),
    "split_per_seed": [None, Boolean()],
}


def _diagnosed(readouts: tuple[str, ...]) -> str:
    """The readout whose first-seed model is diagnosed: ``last`` when studied."""
    return "last" if "last" in readouts else readouts[0]


def compare_readouts(
    df: pd.DataFrame, architecture: Architecture | None = None,
    budget: TrainBudget | None = None, *, objective: str = "classify",
    losses: Sequence[str] | None = None, readouts: Sequence[str] | None = None,
    seeds: int = DEFAULT_SEEDS, jobs: int = 2, seed: int = 0, probe: bool = True,
    progress: Progress | None = None, tokenizer: str = "char", probe_rows: int = PROBE_ROWS,
    client: Any = None, split_per_seed: bool | None = None,
) -> ReadoutStudy:
    """Train one model per (loss, readout, seed) with the same budget; compare them.

    Parameters
    ----------
    df : pd.DataFrame
        Columns ``text``, ``label``, optional ``split``.
    architecture : Architecture, optional
        Every run's architecture (default :data:`STUDY_ARCHITECTURE`: a 2-layer BiLSTM).
    budget : TrainBudget, optional
        Every run's budget (default ``TrainBudget()``); its ``epochs`` None means the
        objective's (:data:`~probe_rnn.studies.objectives.OBJECTIVES`: 8, 15 for autoencode).
    objective : {"classify", "autoencode", "siamese"}
        The setting (see the module docstring and :data:`OBJECTIVES`).
    losses : list of str, optional
        Siamese losses (``["mse", "contrastive"]``, the default); the others use cross-entropy.
    readouts : list of str, optional
        From ``last, hidden, mean, max, naive-last`` (``zero``: autoencode); default: all.
    seeds, seed : int
        Runs per readout (default 5); run ``i`` uses seed ``seed + i`` for its initialisation,
        split and probing sample, for every readout and loss (same seed = paired runs).
    jobs : int
        Parallel training processes (joblib); each trains with one torch thread.
    probe, probe_rows : bool, int
        Capture ``probe_rows`` held-out rows per trained model and probe the label in
        ``output@last``, ``output@-1``, ``h_n`` and ``c_n`` of the top layer.
    progress : callable, optional
        Called as ``progress(done, total, "readout seed")`` after each run.
    tokenizer : {"char", "word"}
        Every run's tokenizer.
    client : distributed.Client, optional
        Train on its Dask cluster (:mod:`probe_rnn.cluster`); the numbers are the same.
    split_per_seed : bool, optional
        Each seed draws its own split (default: when ``df`` has none; True redraws a given one,
        e.g. a bundled dataset's), so intervals include the test set's error.

    Returns
    -------
    ReadoutStudy
    """
    validate_params(PARAMETER_CONSTRAINTS, locals())  # the arguments, before any work
    obj, started = objective_named(objective), time.perf_counter()
    names = parse_readouts(obj.default_readouts if readouts is None else readouts, obj.name)
    loss_names = parse_losses(losses, obj.name)
    tables = seed_tables(df, list(range(seed, seed + seeds)), probe_rows, split_per_seed)
    training = _Training(
        tokenizer, STUDY_ARCHITECTURE if architecture is None else architecture,
        (TrainBudget() if budget is None else budget).with_default_epochs(obj.epochs))
    jobs_list = _plan(obj, names, loss_names, list(range(seed, seed + seeds)), probe, training)
    results = _run_jobs(jobs_list, tables, jobs, client, progress, len(loss_names) > 1)
    return _assemble(results, jobs_list, obj, names, tables[seed][0], dict(
        jobs=jobs, seed=seed, started=started, **split_card(df, tables, split_per_seed)))


def _plan(obj: Objective, names: tuple[str, ...], losses: tuple[str, ...], seeds: list[int],
          probe: bool, training: _Training) -> list[_Job]:
    """One job per (seed, loss, readout), in that order; the first seed's model of the first
    loss and the diagnosed readout is also diagnosed."""
    arch = training.architecture
    views = _probe_views(arch.rnn, arch.layers, arch.bidirectional)
    return [_Job(readout=r, seed=s, training=training, probe=probe, views=views,
                 diagnose=(r == _diagnosed(names) and s == seeds[0] and loss == losses[0]),
                 objective=obj.name, loss=loss)
            for s in seeds for loss in losses for r in names]


def _run_jobs(jobs_list: list[_Job], tables: dict[int, tuple[pd.DataFrame, pd.DataFrame]],
              jobs: int, client: Any, progress: Progress | None, name_loss: bool
              ) -> list[dict[str, Any]]:
    """Every job's result, in job order: on the Dask cluster (one task per training, each
    seed's tables scattered once per worker) or in ``jobs`` local processes."""
    if client is not None:
        from probe_rnn.cluster import map_unordered

        shared = {s: [client.scatter(x, broadcast=True, hash=False) for x in pair]
                  for s, pair in tables.items()}
        finished = map_unordered(client, _run_indexed,
                                 [(i, job, *shared[job.seed]) for i, job in enumerate(jobs_list)],
                                 "readout", [j.run_name for j in jobs_list])
    else:
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=min(jobs, len(jobs_list)), return_as="generator")
        finished = parallel(delayed(_run_indexed)(i, job, *tables[job.seed])
                            for i, job in enumerate(jobs_list))
    ordered: dict[int, dict[str, Any]] = {}
    for i, result in finished:
        ordered[i] = result
        if progress is not None:
            run = result["run"]
            what = f"{run['readout']} seed {run['seed']}"
            progress(len(ordered), len(jobs_list), f"{run['loss']} {what}" if name_loss else what)
    return [ordered[i] for i in range(len(jobs_list))]


@dataclass(frozen=True)
class _Training:
    """What every run of a study shares: tokenizer, architecture and budget."""

    tokenizer: str
    architecture: Architecture
    budget: TrainBudget

    def settings(self) -> dict[str, Any]:
        """The study's settings entries for them (keys and order as ``study.json`` has them;
        ``dropout`` and ``grad_clip`` only when not the defaults, which studies before them
        always had)."""
        arch, budget = self.architecture, self.budget
        return {"tokenizer": self.tokenizer, "rnn": arch.rnn, "layers": arch.layers,
                "hidden": arch.hidden, "embedding_dim": arch.embedding_dim,
                "bidirectional": arch.bidirectional, "packed": arch.packed,
                "epochs": budget.epochs, "batch_size": budget.batch_size, "lr": budget.lr,
                "patience": budget.patience,
                **({"dropout": arch.dropout} if arch.dropout else {}),
                **({"grad_clip": budget.grad_clip}
                   if budget.grad_clip != TrainBudget().grad_clip else {})}


@dataclass(frozen=True)
class _Job:
    readout: str
    seed: int
    training: _Training
    probe: bool
    views: tuple[str, ...]
    diagnose: bool
    objective: str = "classify"
    loss: str = "cross-entropy"

    @property
    def run_name(self) -> str:
        """``objective-loss-readout-seedN``: the run's model file and Dask task name."""
        return f"{self.objective}-{self.loss}-{self.readout}-seed{self.seed}"


def _probe_views(rnn: str, layers: int, bidirectional: bool) -> tuple[str, ...]:
    """``output@last``, ``output@-1`` and the top layer's ``h_n`` (what the ``hidden`` readout
    reads) and, for LSTM, ``c_n``, every direction."""
    dirs = 2 if bidirectional else 1
    views = [OUTPUT_LAST, OUTPUT_NAIVE_LAST, *readout_views("hidden", layers, dirs)]
    if has_cell_state(rnn):
        views += state_views("c_n", [layers - 1], dirs)
    return tuple(views)


def _run_indexed(i: int, job: _Job, data: pd.DataFrame, sample: pd.DataFrame
                 ) -> tuple[int, dict[str, Any]]:
    return i, _run_one(job, data, sample)


def _run_one(job: _Job, data: pd.DataFrame, sample: pd.DataFrame) -> dict[str, Any]:
    """Train (and probe, and maybe diagnose) one model with one torch and one BLAS thread.

    One thread per run keeps jobs × threads within the cores and makes every number
    independent of ``jobs`` (reduction order does not depend on the thread count).
    """
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            return _train_and_inspect(job, data, sample)
    finally:
        torch.set_num_threads(threads)


def _train(job: _Job, data: pd.DataFrame) -> tuple[dict[str, float], pd.DataFrame, int, Any]:
    """Train one run of the job's objective: scores, history, best epoch, the bundle."""
    obj, t = OBJECTIVES[job.objective], job.training
    trained_with = {"tokenizer": t.tokenizer, "architecture": t.architecture, "budget": t.budget}
    if job.objective == "classify":
        from probe_rnn.models.training import train

        result = train(data, seed=job.seed, readout=job.readout, **trained_with)
        history = result.history.copy()
        best = int(history.loc[history["dev_accuracy"].idxmax(), "epoch"])
        scores = {"dev_accuracy": float(result.dev_accuracy),
                  "test_accuracy": float(result.test_accuracy)}
        return scores, history, best, result.bundle
    if job.objective == "autoencode":
        from probe_rnn.studies.autoencode import train_autoencoder

        out = train_autoencoder(data, readout=job.readout, seed=job.seed, **trained_with)
    else:
        from probe_rnn.studies.siamese import train_siamese

        out = train_siamese(data, readout=job.readout, loss=job.loss, seed=job.seed,
                            **trained_with)
    history = pd.DataFrame(out["history"]).rename(columns={"dev_score": obj.dev_metric})
    return out["scores"], history, int(out["best_epoch"]), out["bundle"]


def _train_and_inspect(job: _Job, data: pd.DataFrame, sample: pd.DataFrame) -> dict[str, Any]:
    started = time.perf_counter()
    scores, history, best_epoch, bundle = _train(job, data)
    for i, (column, value) in enumerate((("readout", job.readout), ("loss", job.loss),
                                         ("seed", job.seed))):
        history.insert(i, column, value)
    run = {"readout": job.readout, "loss": job.loss, "seed": job.seed,
           **{k: float(v) for k, v in scores.items()}, "epochs_run": int(len(history)),
           "best_epoch": best_epoch, "still_improving": bool(best_epoch >= len(history))}
    out: dict[str, Any] = {"run": run, "history": history, "probing": None, "diagnosis": None,
                           "name": job.run_name, "bundle": bundle}
    if job.probe or job.diagnose:
        _inspect(bundle, job, sample, out)
    run["seconds"] = round(time.perf_counter() - started, 2)
    return out


def _inspect(bundle: ModelBundle, job: _Job, sample: pd.DataFrame, out: dict[str, Any]) -> None:
    """Capture the probing sample once: the label probe reads its headline views, and the
    capture's diagnosis of the same states is kept when the job is the diagnosed one."""
    from probe_rnn.capture import capture_states
    from probe_rnn.capture.diagnosis import stored_diagnosis

    with tempfile.TemporaryDirectory(prefix="probe-rnn-readouts-") as tmp:
        store = capture_states(bundle, sample, Path(tmp) / "states", views=list(job.views),
                        dtype="float32", batch_size=job.training.budget.batch_size)
        if job.diagnose:
            out["diagnosis"] = stored_diagnosis(store)
        if job.probe:
            out["probing"] = _label_bits(store, job)


def _label_bits(store: StateStore, job: _Job) -> pd.DataFrame:
    """Label probe (logistic, k-fold) on each stored view of the trained model only."""
    from probe_rnn.probing import run_probes

    results = run_probes({"trained": store}, views=list(job.views), tasks=["label"],
                         probes=["logistic"], folds=PROBE_FOLDS, seed=job.seed, mdl=False,
                         control=False, jobs=1)
    keep = results[(results["model"] == "trained") & (results["task"] == "label")
                   & results["metric"].isin(["bits", "accuracy", "entropy_bits"])]
    table = keep[["view", "metric", "value", "ci_low", "ci_high"]].copy()
    table.insert(0, "seed", job.seed)
    table.insert(0, "loss", job.loss)
    table.insert(0, "readout", job.readout)
    return table.reset_index(drop=True)


def _assemble(results: list[dict[str, Any]], jobs_list: list[_Job], obj: Objective,
              names: tuple[str, ...], data: pd.DataFrame, run: dict[str, Any]) -> ReadoutStudy:
    """The study's tables and settings from every job's result (``data``: the first seed's
    table; ``run``: the study's ``jobs``, ``seed``, ``started`` time and split card)."""
    first, diagnosed = jobs_list[0], next(j for j in jobs_list if j.diagnose)
    losses = list(dict.fromkeys(j.loss for j in jobs_list))
    runs = pd.DataFrame([r["run"] for r in results]).sort_values(
        ["loss", "readout", "seed"], key=lambda s: s.map(
            {"readout": names.index, "loss": losses.index}.get(s.name, lambda v: v)),
        kind="stable").reset_index(drop=True)
    curves = pd.concat([r["history"] for r in results], ignore_index=True)
    probing_parts = [r["probing"] for r in results if r["probing"] is not None]
    probing = (pd.concat(probing_parts, ignore_index=True) if probing_parts else pd.DataFrame(
        columns=["readout", "loss", "seed", "view", "metric", "value", "ci_low", "ci_high"]))
    diag = next((r for r in results if r["diagnosis"] is not None), None)
    floor = (int(run["splits"].get("test", 0)) or None) if obj.percent else None
    summary, pairs = statistics_by_loss(runs, names, obj.metric, float(run["nb_ratio"]), floor)
    settings = {
        **first.training.settings(), "readouts": list(names), "rows": int(len(data)),
        **{k: run[k] for k in ("splits", "split_per_seed", "nb_ratio", "probe_rows")},
        "labels": sorted(map(str, data["label"].unique())),
        "probe_views": list(first.views), "models": [r["name"] for r in results],
        "objective": obj.name, "losses": losses, "metric": obj.metric,
        "dev_metric": obj.dev_metric, "seeds": list(dict.fromkeys(j.seed for j in jobs_list)),
        "jobs": run["jobs"], "seed": run["seed"], "probe": first.probe,
        "diagnosed": [diagnosed.readout, diagnosed.seed],
        "seconds": round(time.perf_counter() - run["started"], 2),
    }
    return ReadoutStudy(
        runs=runs, curves=curves, summary=summary, pairs=pairs, probing=probing,
        diagnosis=diag["diagnosis"] if diag else pd.DataFrame(), settings=settings,
        models={r["name"]: r["bundle"] for r in results},
    )
