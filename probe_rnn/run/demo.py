"""``probe-rnn demo``: train (or reuse) a 2-layer BiLSTM on bundled names, probe it, report.

The demo is the whole product on embedded data with no arguments: it trains a character-level
2-layer bidirectional LSTM to tell female from male US census first names, saves it as
``<out>/model.pt``, runs a small readouts study (:data:`DEMO_READOUTS`: the same architecture
and budget trained once per readout, ``last`` and ``hidden``, with 3 paired seeds) into
``<out>/readouts/``, then runs :func:`probe_rnn.run.pipeline.probe` into the same folder,
whose report opens with the direct answer, both from probing and from the study.
A second run reuses the checkpoint, the study, the state stores and every finished stage.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from probe_rnn.catalogue import final_view, state_views
from probe_rnn.errors import CheckpointError
from probe_rnn.report.compiled_umap import warm_in_background
from probe_rnn.run.pipeline import RunResult, Say, probe
from probe_rnn.run.settings import RunSettings

if TYPE_CHECKING:
    from probe_rnn.progress import Progress

#: The demo's model: what `probe-rnn train` would build with these options.
DEMO_MODEL: dict[str, Any] = {
    "tokenizer": "char",
    "rnn": "lstm",
    "layers": 2,
    "bidirectional": True,
    "hidden": 64,
    "embedding_dim": 32,
    "readout": "last",
    "epochs": 8,
    "batch_size": 64,
    "lr": 3e-3,
}

#: Sentence views of the state catalogue for the demo's 2-layer BiLSTM (each layer's ``h_n``
#: per direction and both directions concatenated, ``h_n/L{l}``, what a ``hidden`` head
#: reads), plus the top layer's per-timestep hidden states, both directions, for the curves
#: over t.
DEMO_VIEWS: list[str] = [
    "output@last", "output@-1", "mean(output)", "max(output)",
    *state_views("h_n", (0, 1), 2), *(final_view("h_n", layer) for layer in (0, 1)),
    *state_views("c_n", (0, 1), 2),
    "hidden/L1/fwd", "hidden/L1/bwd",
]

#: The demo's probing run (``run_demo`` sets its ``seed``, ``umap`` and ``jobs``): 5 folds
#: and 2 seeds (10 paired splits), not 3 folds. The findings test each view against the
#: majority baseline with the Nadeau–Bengio t over the splits, Holm-corrected over the views:
#: 3 splits (2 degrees of freedom, variance factor 1/3 + 1/2) found 1 of 12 views "clearly
#: above", and so did 5 splits (1 of 14; 4 degrees of freedom: Holm's first step needs t > 6),
#: where every forward view is about +0.09 above it; 10 splits (9 degrees of freedom, factor
#: 1/10 + 1/4) have the power.
DEMO_FOLDS, DEMO_SEEDS = 5, 2
DEMO_RUN = RunSettings(
    views=DEMO_VIEWS,
    tasks=["label", "length", "word-content", "first-token", "last-token",
           "token-back-1", "token-back-2"],
    folds=DEMO_FOLDS,
    seeds=DEMO_SEEDS,
    max_rows=None,
    attribution_rows=16,
)


#: The demo's readouts study (:func:`probe_rnn.studies.compare_readouts`): the demo model's
#: architecture and budget (its ``last`` run with seed 0 has the demo model's settings),
#: trained once per readout and seed, seeds paired across readouts, no probing of the
#: trained models; measured inside the demo on the 2-core reference machine: 25 s idle,
#: 60 s while other jobs shared its cores. It keeps 3 seeds (studies default to 5) to stay
#: cheap; its intervals stay honest because every seed redraws the names' split
#: (``split_per_seed``: the test set's sampling error is in them, never zero-wide), and each
#: "within noise" carries its minimum detectable difference, so 3 seeds cannot read as "equal".
DEMO_READOUTS: dict[str, Any] = {
    "readouts": ["last", "hidden"],
    "seeds": 3,
    "epochs": DEMO_MODEL["epochs"],
    "probe": False,
    "split_per_seed": True,
}
#: The study's folder inside the demo folder (where the report looks for it).
READOUTS_DIR = "readouts"
_STUDY_MODEL = ("tokenizer", "rnn", "layers", "bidirectional", "hidden", "embedding_dim",
                "batch_size", "lr")
_STAMP = "demo-stage.json"


def run_demo(
    out: str | Path = "reports/demo",
    *,
    seed: int = 0,
    umap: bool = True,
    retrain: bool = False,
    jobs: int = -1,
    readouts: bool | dict[str, Any] = True,
    say: Say | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Train or reuse the demo model and its readouts study, then probe, attribute and report
    into ``out``.

    Parameters
    ----------
    out : str or Path
        The demo folder (model, run folder, ``readouts/`` study, ``index.html``).
    seed : int
        Seed of the split, the training, the study's first run and the probing.
    umap : bool
        Project states with UMAP (else PCA).
    retrain : bool
        Train the model and the study again even if they exist.
    jobs : int
        Parallel probing cells and study trainings (-1 = all cores).
    readouts : bool or dict
        The readouts study: ``True`` runs :data:`DEMO_READOUTS`; a dict overrides some of
        its keys (``readouts``, ``seeds``, ``epochs``, ``probe``; e.g. ``{"epochs": 1}`` for
        a quick test); ``False`` runs none (the report then says it has no study).
    say, progress
        Stage lines and progress bars (the CLI prints them).
    """
    from probe_rnn.data import load_dataset

    say = say or (lambda line: None)
    from probe_rnn.run.out_folder import claim_folder

    out = claim_folder(out)  # a folder probe-rnn did not write is refused before any work
    if umap:
        warm_in_background()  # umap-learn's compile, beside the one-thread training
    df = load_dataset("names", seed=seed)
    bundle = _demo_model(df, out / "model.pt", seed=seed, retrain=retrain, say=say)
    study = None
    if readouts is not False:
        study = {**DEMO_READOUTS, **(readouts if isinstance(readouts, dict) else {})}
        _readout_study(df, out / READOUTS_DIR, study, seed=seed, jobs=jobs, retrain=retrain,
                       say=say, progress=progress)
    settings = replace(DEMO_RUN, seed=seed, umap=umap, jobs=jobs)
    return probe(
        bundle, df, out, settings, source="dataset:names", name="demo",
        arguments={"command": "demo", **DEMO_MODEL, **settings.to_json(),
                   "readouts_study": study},
        say=say, progress=progress,
    )


def _demo_model(df: Any, model_path: Path, *, seed: int, retrain: bool, say: Say) -> Any:
    """The demo model: the checkpoint at ``model_path`` when it loads (and not ``retrain``),
    else trained on ``df`` with :data:`DEMO_MODEL` and saved there."""
    import torch

    from probe_rnn.models import load_model, save_checkpoint, train
    from probe_rnn.models.config import split_settings

    if model_path.exists() and not retrain:
        try:
            bundle = load_model(model_path)
            say(f"{'model':<12} reusing {model_path}")
            return bundle
        except CheckpointError as exc:
            say(f"{'model':<12} cannot reuse {model_path} ({exc}); training again")
    # a model this small trains fastest on one thread: measured here 8.9 s on one,
    # 30 s on two with the CLI's passive OpenMP waits (7.5 s with busy-waiting threads)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        architecture, budget, rest = split_settings(DEMO_MODEL)
        result = train(df, architecture, budget, seed=seed, source="dataset:names", **rest)
    finally:
        torch.set_num_threads(threads)
    save_checkpoint(model_path, result.bundle)
    say(f"{'train':<12} dev accuracy {result.dev_accuracy:.3f}  "
        f"test accuracy {result.test_accuracy:.3f}  -> {model_path}")
    return load_model(model_path)


def _cores(jobs: int) -> int:
    """``jobs`` as a process count (-1 = every core, -2 = all but one, as joblib counts)."""
    if jobs >= 1:
        return jobs
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) + 1 + jobs)


def _readout_study(df: Any, folder: Path, settings: dict[str, Any], *, seed: int, jobs: int,
                   retrain: bool, say: Say, progress: Progress | None) -> None:
    """Run the demo's readouts study into ``folder`` (its page and tables), or reuse the one
    there when it was made from the same data, settings and probe-rnn version (a stamp file
    written last records them, so an interrupted study is never reused)."""
    from probe_rnn import __version__
    from probe_rnn.errors import ProbeRnnError
    from probe_rnn.hashing import data_checksum, json_sha256
    from probe_rnn.models.config import split_settings
    from probe_rnn.progress import Progress
    from probe_rnn.report.readouts import write_readout_report
    from probe_rnn.studies import ReadoutStudy, compare_readouts

    kwargs = {**{k: DEMO_MODEL[k] for k in _STUDY_MODEL}, **settings, "seed": seed}
    key = json_sha256([__version__, data_checksum(df["text"], df["label"]), kwargs],
                      default=str)
    stamp = folder / _STAMP
    if not retrain and (folder / "index.html").is_file():
        try:
            reusable = json.loads(stamp.read_text(encoding="utf-8")).get("fingerprint") == key
            study = ReadoutStudy.load(folder) if reusable else None
        except (OSError, ValueError, AttributeError, ProbeRnnError):
            study = None
        if study is not None:
            say(f"{'readouts':<12} {0.0:7.1f} s  {_study_line(study, folder)} (reused)")
            return
    if (folder / "study.json").is_file() or stamp.is_file():
        shutil.rmtree(folder)  # an older or unfinished study: none of its files stay
    started = time.perf_counter()
    runs = len(settings["readouts"]) * settings["seeds"]
    with (progress or Progress(quiet=True)).stage("readouts", runs, "runs") as bar:
        architecture, budget, rest = split_settings(kwargs)
        study = compare_readouts(df, architecture, budget, jobs=_cores(jobs), progress=bar,
                                 **rest)
    write_readout_report(study, folder, title="probe-rnn demo: bundled names",
                         own_report=folder.parent / "index.html")
    seconds = round(time.perf_counter() - started, 2)
    from probe_rnn.atomic import write_text

    write_text(stamp, json.dumps({"fingerprint": key, "settings": kwargs, "seconds": seconds},
                                 indent=2, default=str))
    say(f"{'readouts':<12} {seconds:7.1f} s  {_study_line(study, folder)}")


def _study_line(study: Any, folder: Path) -> str:
    """``last minus hidden -0.91 points [-3.15, +1.33] over 3 seeds, within noise -> DIR``."""
    pair = study.pair("last", "hidden")
    if pair is None:
        return f"{', '.join(map(str, study.summary['readout']))} -> {folder / 'index.html'}"
    return (f"last minus hidden {pair['mean_diff'] * 100:+.2f} points "
            f"[{pair['ci_low'] * 100:+.2f}, {pair['ci_high'] * 100:+.2f}] over "
            f"{int(pair['n_pairs'])} seeds, {pair['verdict']} -> {folder / 'index.html'}")
