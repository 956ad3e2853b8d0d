"""The readout study: which state should the classifier read — output or hidden state?

:func:`compare_readouts` trains the same architecture once per (readout, seed) on the same data
split with the same budget, in parallel through joblib, and returns a :class:`ReadoutStudy`
with tidy tables: per-run test accuracy and training curves, a per-readout summary with a 95%
Student-t interval across seeds, paired differences between readouts (same seed = same split
and same initialisation seed) with a plain verdict, and — per trained model — the probing
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from probe_rnn.errors import ConfigError, DataError
from probe_rnn.models.config import READOUTS, RNN_TYPES
from probe_rnn.studies.stats import paired_differences, summarize_runs, vs_best
from probe_rnn.vocabulary import (
    OUTPUT_LAST,
    OUTPUT_NAIVE_LAST,
    has_cell_state,
    readout_views,
    state_views,
)

__all__ = [
    "ReadoutStudy", "compare_readouts", "parse_readouts", "parse_losses", "READOUTS",
    "DEFAULT_EPOCHS", "READOUT_LABELS", "OBJECTIVES", "Objective",
]

#: Default training budget per run, measured so 5 readouts × 3 seeds on ``names`` (2-layer
#: BiLSTM, hidden 64) finish in under 5 minutes on the 2-core reference machine.
DEFAULT_EPOCHS = 8


@dataclass(frozen=True)
class Objective:
    """What one setting of the question trains, and how its runs are scored."""

    name: str
    setting: str  # the question's wording
    metric: str  # runs column compared across readouts (higher is better)
    dev_metric: str  # runs column of the dev score early stopping used
    metric_label: str
    readouts: tuple[str, ...]  # valid readouts
    default_readouts: tuple[str, ...]
    losses: tuple[str, ...]  # valid losses (the first alone is the default but for siamese)
    epochs: int  # default budget
    percent: bool  # the metric is shown as a percentage (else as a 0-1 number)
    short: str  # the metric in a table header
    extras: tuple[str, ...] = ()  # further runs columns shown on the page


#: The question's three settings.
OBJECTIVES: dict[str, Objective] = {
    "classify": Objective(
        "classify", "text classifier (the head reads the readout)", "test_accuracy",
        "dev_accuracy", "test accuracy", READOUTS, READOUTS, ("cross-entropy",), DEFAULT_EPOCHS,
        True, "test acc"),
    "autoencode": Objective(
        "autoencode", "encoder–decoder (the decoder starts from the readout)",
        "test_token_accuracy", "dev_token_accuracy",
        "held-out token reconstruction accuracy", (*READOUTS, "zero"),
        ("hidden", "last", "mean", "max", "naive-last", "zero"), ("cross-entropy",), 15, True,
        "test token acc", ("test_perplexity",)),
    "siamese": Objective(
        "siamese", "siamese similarity (pairs scored by the cosine of their readouts)",
        "test_auc", "dev_auc", "held-out pair ROC AUC", READOUTS, READOUTS,
        ("mse", "contrastive"), DEFAULT_EPOCHS, False, "test pair AUC",
        ("test_pair_accuracy", "test_auc_distance")),
}
#: Most held-out (dev + test) rows captured per trained model for the probing headline.
PROBE_ROWS = 600
#: Cross-validation folds of the label probe (split by sentence).
PROBE_FOLDS = 5

#: One-line meaning of each readout, used in tables and the report.
READOUT_LABELS = {
    "last": "output at each row's own last valid step",
    "hidden": "h_n of the top layer (directions concatenated)",
    "mean": "mean of output over valid steps",
    "max": "max of output over valid steps",
    "naive-last": "output[:, -1] of the padded batch (reads padding for short rows)",
    "zero": "no readout: the decoder starts from zeros (baseline)",
}

Progress = Callable[[int, int, str], None]
_TABLES = ("runs", "curves", "summary", "pairs", "probing", "diagnosis")


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


@dataclass
class ReadoutStudy:
    """Results of :func:`compare_readouts`; every table is a tidy DataFrame.

    Attributes
    ----------
    runs : pd.DataFrame
        One row per (readout, seed): ``readout, seed, dev_accuracy, test_accuracy, epochs_run,
        best_epoch, seconds``.
    curves : pd.DataFrame
        Training history: ``readout, seed, epoch, train_loss, dev_accuracy``.
    summary : pd.DataFrame
        Per readout: ``readout, n_seeds, mean, std, ci_low, ci_high, min, max, vs_best``
        (test accuracy as a fraction; 95% Student-t interval across seeds).
    pairs : pd.DataFrame
        Paired differences ``a − b``: ``readout_a, readout_b, n_pairs, mean_diff, std_diff,
        ci_low, ci_high, p_value, verdict``.
    probing : pd.DataFrame
        Label probing per trained model: ``readout, seed, view, metric, value, ci_low,
        ci_high`` (metrics ``bits``, ``accuracy``, ``entropy_bits``); empty when not probed.
    diagnosis : pd.DataFrame
        :func:`probe_rnn.capture.diagnose` of one trained model (``settings["diagnosed"]``
        names its readout and seed), measured on the probing sample with the training batch
        size: ``module, check, value, unit, explanation``.
    settings : dict
        Objective, metric, architecture, budget, data sizes, seeds, jobs, wall time.
    models : dict
        Run name (``objective-loss-readout-seedN``) -> trained
        :class:`~probe_rnn.models.ModelBundle`; empty for a study read back by :meth:`load`
        (the checkpoints are in ``DIR/models``).

    For ``autoencode`` and ``siamese`` the score columns are the objective's
    (:data:`OBJECTIVES`: ``settings["metric"]`` names the compared one), every table has a
    ``loss`` column, and summaries and paired differences are computed within each loss.
    """

    runs: pd.DataFrame
    curves: pd.DataFrame
    summary: pd.DataFrame
    pairs: pd.DataFrame
    probing: pd.DataFrame
    diagnosis: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def objective(self) -> Objective:
        """The setting studied (``classify`` for studies written before objectives existed)."""
        return OBJECTIVES[self.settings.get("objective", "classify")]

    @property
    def losses(self) -> list[str | None]:
        """Losses in study order (``[None]`` for a table without a ``loss`` column)."""
        if "loss" not in self.summary:
            return [None]
        return list(dict.fromkeys(self.summary["loss"]))

    def summary_for(self, loss: str | None = None) -> pd.DataFrame:
        """The summary rows of one loss (the first loss by default)."""
        loss = self.losses[0] if loss is None else loss
        if loss is None:
            return self.summary
        return self.summary[self.summary["loss"] == loss].reset_index(drop=True)

    @property
    def best(self) -> str:
        """The readout with the highest mean score (first in order on ties; first loss)."""
        return self.best_for()

    def best_for(self, loss: str | None = None) -> str:
        """The readout with the highest mean score under ``loss`` (first loss by default)."""
        part = self.summary_for(loss)
        return str(part.loc[part["mean"].idxmax(), "readout"])

    @property
    def seconds(self) -> float:
        """Wall time of the whole study in seconds."""
        return float(self.settings.get("seconds", float("nan")))

    def probing_headline(self, loss: str | None = None) -> pd.DataFrame:
        """Label bits per readout (rows) and view (columns), mean over seeds, of the models
        trained with ``loss`` (the first loss by default)."""
        if self.probing.empty:
            return pd.DataFrame()
        bits = self.probing[self.probing["metric"] == "bits"]
        loss = self.losses[0] if loss is None else loss
        if loss is not None and "loss" in bits:
            bits = bits[bits["loss"] == loss]
        table = bits.pivot_table(index="readout", columns="view", values="value", aggfunc="mean")
        order = [r for r in self.summary_for(loss)["readout"] if r in table.index]
        return table.loc[order, [v for v in self.settings.get("probe_views", []) if v in table]]

    def diagnosis_value(self, check: str) -> float | None:
        """Value of one diagnosis check (first recurrent module), ``None`` when absent."""
        d = self.diagnosis
        if d.empty or "check" not in d:
            return None
        hit = d[d["check"] == check]
        return float(hit["value"].iloc[0]) if not hit.empty else None

    def pair(self, a: str, b: str, loss: str | None = None) -> pd.Series | None:
        """The paired-difference row of ``a − b`` (sign flipped when stored as ``b − a``),
        within ``loss`` (the first loss by default)."""
        p = self.pairs
        loss = self.losses[0] if loss is None else loss
        if loss is not None and "loss" in p:
            p = p[p["loss"] == loss]
        hit = p[(p["readout_a"] == a) & (p["readout_b"] == b)]
        if not hit.empty:
            return hit.iloc[0]
        hit = p[(p["readout_a"] == b) & (p["readout_b"] == a)]
        if hit.empty:
            return None
        row = hit.iloc[0].copy()
        row["readout_a"], row["readout_b"] = a, b
        row["mean_diff"] = -row["mean_diff"]
        row["ci_low"], row["ci_high"] = -hit.iloc[0]["ci_high"], -hit.iloc[0]["ci_low"]
        return row

    def answer(self) -> list[str]:
        """Plain sentences answering "output or hidden state?" from this study's numbers."""
        from probe_rnn.studies.answer import answer_sentences, objective_sentences

        if self.objective.name == "classify":
            return answer_sentences(self)
        return objective_sentences(self)

    def save(self, out_dir: str | Path) -> Path:
        """Write every table as csv (and settings as json) into ``out_dir``, and every trained
        model as ``out_dir/models/<run>.pt``; return ``out_dir``."""
        import json

        from probe_rnn.models import save_checkpoint

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in _TABLES:
            getattr(self, name).to_csv(out / f"{name}.csv", index=False)
        for run, bundle in self.models.items():
            save_checkpoint(out / "models" / f"{run}.pt", bundle)
        (out / "study.json").write_text(
            json.dumps({"settings": self.settings}, indent=2, default=str), encoding="utf-8")
        return out

    @classmethod
    def load(cls, out_dir: str | Path) -> ReadoutStudy:
        """Read a study written by :meth:`save` (to re-render its page without training)."""
        import json

        from probe_rnn.errors import ReportError

        folder = Path(out_dir)
        try:
            frames = {name: _read_csv(folder / f"{name}.csv") for name in _TABLES}
            settings = json.loads((folder / "study.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReportError(f"{folder} does not hold a complete readout study ({exc}); run "
                              "probe-rnn compare-readouts again") from exc
        return cls(**frames, settings=settings["settings"])

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False, float_format=lambda x: f"{x:.4f}")


def _names(what: str, value: str | Sequence[str], valid: Sequence[str], context: str
           ) -> tuple[str, ...]:
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    names = [n for n in names if n]
    if not names:
        raise ConfigError(f"{what}s must name at least one of {', '.join(valid)}")
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ConfigError(
            f"unknown {what} {', '.join(map(repr, unknown))}{context}; "
            f"valid {what}s: {', '.join(valid)}"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"{what}s must not repeat; received {', '.join(names)}")
    return tuple(names)


def _objective(name: str) -> Objective:
    if name not in OBJECTIVES:
        raise ConfigError(f"unknown objective {name!r}; valid objectives: "
                          f"{', '.join(OBJECTIVES)}")
    return OBJECTIVES[name]


def parse_readouts(value: str | Sequence[str], objective: str = "classify") -> tuple[str, ...]:
    """Readout names from ``"last,hidden"`` or a sequence; unknown or repeated names raise
    (``zero`` exists only for the ``autoencode`` objective)."""
    obj = _objective(objective)
    return _names("readout", value, obj.readouts, f" for objective {obj.name}")


def parse_losses(value: str | Sequence[str] | None, objective: str = "classify"
                 ) -> tuple[str, ...]:
    """Losses of a study: ``mse``/``contrastive`` for siamese (both by default); the others
    train with cross-entropy only, and naming another loss for them raises."""
    obj = _objective(objective)
    if value is None:
        return obj.losses
    return _names("loss", value, obj.losses, f" for objective {obj.name}")


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}; received {value!r}")
    return value


def compare_readouts(
    df: pd.DataFrame, *, objective: str = "classify", losses: str | Sequence[str] | None = None,
    rnn: str = "lstm", layers: int = 2, hidden: int = 64,
    bidirectional: bool = True, readouts: str | Sequence[str] | None = None, seeds: int = 3,
    epochs: int | None = None, packed: bool = True, jobs: int = 2, seed: int = 0,
    probe: bool = True, progress: Progress | None = None, tokenizer: str = "char",
    embedding_dim: int = 64, batch_size: int = 64, lr: float = 3e-3, patience: int = 3,
    probe_rows: int = PROBE_ROWS, client: Any = None,
) -> ReadoutStudy:
    """Train one model per (loss, readout, seed) under the same split and budget; compare them.

    Parameters
    ----------
    df : pd.DataFrame
        Columns ``text``, ``label`` (optional ``split``; added once, seeded, when absent).
    objective : {"classify", "autoencode", "siamese"}
        The setting (see the module docstring and :data:`OBJECTIVES`).
    losses : str or sequence of str, optional
        Siamese losses (``mse``, ``contrastive``; default both); the other objectives train
        with cross-entropy only.
    rnn, layers, hidden, bidirectional, packed, tokenizer, embedding_dim
        The architecture shared by every run (see :class:`~probe_rnn.models.ModelConfig`).
    readouts : str or sequence of str, optional
        Readouts to compare, from ``last, hidden, mean, max, naive-last`` (and ``zero`` for
        autoencode); default: the objective's ``default_readouts``.
    seeds : int
        Runs per readout; run ``i`` uses initialisation seed ``seed + i`` for every readout
        and loss, so runs with the same seed are paired.
    epochs, batch_size, lr, patience
        The training budget shared by every run (early stopping on the dev score); ``epochs``
        defaults to the objective's (8 for classify and siamese, 15 for autoencode).
    jobs : int
        Parallel training processes (joblib); each trains with one torch thread.
    seed : int
        Seed of the data split and the first run; the probing sample uses it too.
    probe : bool
        Capture ``probe_rows`` rows per trained model and probe the label in
        ``output@last``, ``output@-1``, ``h_n`` and ``c_n`` of the top layer.
    progress : callable, optional
        Called as ``progress(done, total, "readout seed")`` after each run.
    client : distributed.Client, optional
        Train on its Dask cluster, one task per (readout, seed) (:mod:`probe_rnn.cluster`),
        instead of ``jobs`` local processes; the numbers are the same.

    Returns
    -------
    ReadoutStudy
    """
    from joblib import Parallel, delayed

    from probe_rnn.data import ensure_splits

    obj = _objective(objective)
    names = parse_readouts(obj.default_readouts if readouts is None else readouts, obj.name)
    loss_names = parse_losses(losses, obj.name)
    epochs = obj.epochs if epochs is None else epochs
    if rnn not in RNN_TYPES:
        raise ConfigError(f"rnn must be one of {', '.join(RNN_TYPES)}; received {rnn!r}")
    for name, value, low in (("layers", layers, 1), ("hidden", hidden, 1), ("seeds", seeds, 1),
                             ("epochs", epochs, 1), ("jobs", jobs, 1), ("probe_rows", probe_rows,
                                                                          20)):
        _check_int(name, value, low)
    started = time.perf_counter()
    data = ensure_splits(df, seed=seed).reset_index(drop=True)
    sample = _probe_sample(data, probe_rows, seed)
    views = _probe_views(rnn, layers, bidirectional)
    train_kwargs = dict(
        tokenizer=tokenizer, rnn=rnn, layers=layers, hidden=hidden, embedding_dim=embedding_dim,
        bidirectional=bidirectional, packed=packed, epochs=epochs, batch_size=batch_size, lr=lr,
        patience=patience,
    )
    run_seeds = [seed + i for i in range(seeds)]
    diag_readout = "last" if "last" in names else names[0]
    jobs_list = [
        _Job(readout=r, seed=s, train_kwargs=train_kwargs, probe=probe, views=views,
             diagnose=(r == diag_readout and s == run_seeds[0] and loss == loss_names[0]),
             objective=obj.name, loss=loss)
        for s in run_seeds for loss in loss_names for r in names
    ]
    if client is not None:  # one Dask task per training; the table travels once per worker
        from probe_rnn.cluster import map_unordered

        shared = [client.scatter(x, broadcast=True, hash=False) for x in (data, sample)]
        finished = map_unordered(client, _run_indexed,
                                 [(i, job, *shared) for i, job in enumerate(jobs_list)],
                                 "readout", [j.run_name for j in jobs_list])
    else:
        parallel = Parallel(n_jobs=min(jobs, len(jobs_list)), return_as="generator")
        finished = parallel(delayed(_run_indexed)(i, job, data, sample)
                            for i, job in enumerate(jobs_list))
    ordered: dict[int, dict[str, Any]] = {}
    for i, result in finished:
        ordered[i] = result
        if progress is not None:
            run = result["run"]
            what = f"{run['readout']} seed {run['seed']}"
            progress(len(ordered), len(jobs_list),
                     what if len(loss_names) == 1 else f"{run['loss']} {what}")
    results = [ordered[i] for i in range(len(jobs_list))]
    return _assemble(results, names, obj, data, sample, views, train_kwargs, dict(
        objective=obj.name, losses=list(loss_names), metric=obj.metric,
        dev_metric=obj.dev_metric, seeds=run_seeds, jobs=jobs, seed=seed, probe=probe,
        diagnosed=[diag_readout, run_seeds[0]], seconds=round(time.perf_counter() - started, 2),
    ))


@dataclass(frozen=True)
class _Job:
    readout: str
    seed: int
    train_kwargs: dict[str, Any]
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


def _probe_sample(data: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most ``rows`` held-out rows (dev + test: no model of the study trained on them),
    a seeded sample in table order; fewer when fewer are held out (never training rows)."""
    held = data[data["split"] != "train"]
    if held.empty:
        raise DataError("the study's table has no dev or test rows to probe: give it a split "
                        "column with held-out rows, or drop the column to let probe-rnn make one")
    picked = held.sample(n=rows, random_state=seed) if len(held) > rows else held
    return picked.sort_index()


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
    obj = OBJECTIVES[job.objective]
    if job.objective == "classify":
        from probe_rnn.models import train

        result = train(data, readout=job.readout, seed=job.seed, **job.train_kwargs)
        history = result.history.copy()
        best = int(history.loc[history["dev_accuracy"].idxmax(), "epoch"])
        scores = {"dev_accuracy": float(result.dev_accuracy),
                  "test_accuracy": float(result.test_accuracy)}
        return scores, history, best, result.bundle
    if job.objective == "autoencode":
        from probe_rnn.studies.autoencode import train_autoencoder

        out = train_autoencoder(data, readout=job.readout, seed=job.seed, **job.train_kwargs)
    else:
        from probe_rnn.studies.siamese import train_siamese

        out = train_siamese(data, readout=job.readout, loss=job.loss, seed=job.seed,
                            **job.train_kwargs)
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
           "best_epoch": best_epoch}
    out: dict[str, Any] = {"run": run, "history": history, "probing": None, "diagnosis": None,
                           "name": job.run_name, "bundle": bundle}
    if job.probe or job.diagnose:
        _inspect(bundle, job, sample, out)
    run["seconds"] = round(time.perf_counter() - started, 2)
    return out


def _inspect(bundle: Any, job: _Job, sample: pd.DataFrame, out: dict[str, Any]) -> None:
    """Probe the label in the headline views of one model; diagnose it when asked."""
    if job.diagnose:
        from probe_rnn.capture import diagnose

        out["diagnosis"] = diagnose(bundle, sample, batch_size=job.train_kwargs["batch_size"])
    if not job.probe:
        return
    from probe_rnn.capture import capture

    with tempfile.TemporaryDirectory(prefix="probe-rnn-readouts-") as tmp:
        store = capture(bundle, sample, Path(tmp) / "states", views=list(job.views),
                        dtype="float32", batch_size=job.train_kwargs["batch_size"])
        out["probing"] = _label_bits(store, job)


def _label_bits(store: Any, job: _Job) -> pd.DataFrame:
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


def _statistics(runs: pd.DataFrame, names: tuple[str, ...], metric: str
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summary and paired differences between readouts, within each loss."""
    summaries, pairs = [], []
    for loss in dict.fromkeys(runs["loss"]):
        part = runs[runs["loss"] == loss]
        summary = summarize_runs(part, metric=metric, order=names)
        paired = paired_differences(part, metric=metric, order=names)
        summary["vs_best"] = vs_best(summary, paired)
        summary.insert(0, "loss", loss)
        paired.insert(0, "loss", loss)
        summaries.append(summary)
        pairs.append(paired)
    return pd.concat(summaries, ignore_index=True), pd.concat(pairs, ignore_index=True)


def _assemble(
    results: list[dict[str, Any]], names: tuple[str, ...], obj: Objective, data: pd.DataFrame,
    sample: pd.DataFrame, views: tuple[str, ...], train_kwargs: dict[str, Any],
    extra: dict[str, Any],
) -> ReadoutStudy:
    losses = extra["losses"]
    runs = pd.DataFrame([r["run"] for r in results]).sort_values(
        ["loss", "readout", "seed"], key=lambda s: s.map(
            {"readout": names.index, "loss": losses.index}.get(s.name, lambda v: v)),
        kind="stable").reset_index(drop=True)
    curves = pd.concat([r["history"] for r in results], ignore_index=True)
    probing_parts = [r["probing"] for r in results if r["probing"] is not None]
    probing = (pd.concat(probing_parts, ignore_index=True) if probing_parts else pd.DataFrame(
        columns=["readout", "loss", "seed", "view", "metric", "value", "ci_low", "ci_high"]))
    diag = next((r for r in results if r["diagnosis"] is not None), None)
    summary, pairs = _statistics(runs, names, obj.metric)
    settings = {
        **train_kwargs, "readouts": list(names), "rows": int(len(data)),
        "splits": {k: int(v) for k, v in data["split"].value_counts().items()},
        "labels": sorted(map(str, data["label"].unique())), "probe_rows": int(len(sample)),
        "probe_views": list(views), "models": [r["name"] for r in results], **extra,
    }
    return ReadoutStudy(
        runs=runs, curves=curves, summary=summary, pairs=pairs, probing=probing,
        diagnosis=diag["diagnosis"] if diag else pd.DataFrame(), settings=settings,
        models={r["name"]: r["bundle"] for r in results},
    )
