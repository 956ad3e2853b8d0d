"""Benchmark: the default ``probe`` on the tutorials' model size, in reference fits per core.

The model of the popular sentiment tutorials: a word-level 2-layer BiLSTM, embedding 128,
hidden 256, trained here for ``--epochs`` on ``--train-rows`` training sentences of the
``synthetic-count`` corpus (5-40 words, 22.5 on average; pos iff more positive than negative
words), then probed on ``--rows`` sentences of it by the default ``probe-rnn probe`` command
(trained + random-init, every sentence view, the default tasks, logistic, 5 folds, control,
MDL, interventions unless ``--no-interventions``; only attribution and UMAP are off) in a
subprocess, as a user would. Prints, from that one run on this machine:

- wall time of every stage (run.json) and of the whole command;
- the **reference fit**: one plain ``LogisticRegression(C=1)`` lbfgs float64 fit of the label
  on ``output@last`` of the trained model over the probed rows (held-out: dev + test),
  single-threaded, CPU seconds, timed in the same run (best of 3);
- probing cost in reference fits: the cells' summed CPU seconds over the reference fit, in all
  and per core (over ``--cores``, the cores the run's cells shared), and the probing stage's
  wall seconds over the reference fit; the heaviest cells by task.

Target (issue 31): <= 600 reference fits per core at 20,000 rows (3,283 before).

``--save FILE`` writes the run's accuracy rows (value and interval per model, view, task) to a
csv; ``--compare FILE`` prints this run's accuracies against a saved one and whether each lies
inside the saved interval (the same-science check: run once on the old code with ``--save``,
once on the new with ``--compare``, same ``--rows``).

    python tests/benchmarks/bench_probe_width.py [--rows 20000] [--save before.csv]
        [--compare before.csv] [--jobs -1] [--train-rows 4000] [--epochs 1] [--model m.pt]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits


def train_width_model(table: pd.DataFrame, rows: int, epochs: int, path: Path) -> None:
    """Train the tutorials'-size model on ``rows`` training sentences of ``table`` and save it
    to ``path``."""
    import torch

    from probe_rnn.models import Architecture, TrainBudget, save_checkpoint, train

    torch.set_num_threads(1)  # 2 threads spin against other jobs on shared cores
    sample = table[table["split"] == "train"]
    sample = sample.sample(n=min(rows, len(sample)), random_state=1)
    start = time.perf_counter()
    res = train(sample[["text", "label"]], Architecture(rnn="lstm", layers=2,
                                                        bidirectional=True, hidden=256,
                                                        embedding_dim=128),
                TrainBudget(epochs=epochs), tokenizer="word", seed=0)
    print(f"model: word-level 2-layer BiLSTM, emb 128, hidden 256; {epochs} epoch(s) on "
          f"{len(sample)} train rows in {time.perf_counter() - start:.1f} s, test accuracy "
          f"{res.test_accuracy:.3f}")
    save_checkpoint(path, res.bundle)


def _run_probe(model: Path, data: Path, out: Path, jobs: int, interventions: bool) -> float:
    cmd = [sys.executable, "-m", "probe_rnn", "probe", str(model), "--data", str(data),
           "--out", str(out), "--attribution-rows", "0", "--no-umap", "--jobs", str(jobs),
           "--interventions" if interventions else "--no-interventions"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"probe failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return time.perf_counter() - start


def reference_seconds(out: Path, repeats: int = 3) -> tuple[float, tuple[int, int]]:
    """CPU seconds of one plain LogisticRegression(C=1) lbfgs float64 fit of the label on the
    trained model's ``output@last`` over the probed (held-out) rows: best of ``repeats``."""
    from probe_rnn.capture import StateStore
    from probe_rnn.probing.cells import Cell, build_problem
    from probe_rnn.probing.tasks import get_task

    store = StateStore(out / "states")
    meta = store.meta
    rows = np.flatnonzero((meta["split"] != "train").to_numpy()) if "split" in meta \
        else np.arange(len(meta))
    cell = Cell("trained", store, "output@last", store.kind("output@last"), get_task("label"),
                "logistic", "logistic", rows)
    p = build_problem(cell)
    X, y = p.X.astype(np.float64), p.y.astype(str)
    best = float("inf")
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeats):
            start = time.process_time()
            LogisticRegression(C=1.0, max_iter=1000).fit(X, y)
            best = min(best, time.process_time() - start)
    return best, X.shape


def reprobe(run: Path, jobs: int) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Probe the stores of a kept run folder again with this code (the same rows, views and
    tasks as the run's own probing): its accuracy rows, its cell records and the wall
    seconds. The states are the very same, so only the probing code differs."""
    from probe_rnn.capture import StateStore
    from probe_rnn.probing.probe_settings import ProbeSettings
    from probe_rnn.probing.runner import probe_stores

    before = pd.read_csv(run / "results.csv")
    stores = {"trained": StateStore(run / "states"),
              "random-init": StateStore(run / "states-random")}
    meta = stores["trained"].meta
    rows = np.flatnonzero((meta["split"] != "train").to_numpy())
    start = time.perf_counter()
    found = probe_stores(stores, ProbeSettings(tasks=sorted(before["task"].unique()),
                                               jobs=jobs), rows=rows)
    wall = time.perf_counter() - start
    acc = found.table
    acc = acc[(acc["metric"] == "accuracy") & acc["t"].isna()]
    return (acc[["model", "view", "task", "value", "ci_low", "ci_high"]].reset_index(drop=True),
            pd.DataFrame(found.cell_records), wall)


def accuracies(out: Path) -> pd.DataFrame:
    """Overall accuracy (value, interval) per (model, view, task) of a run folder."""
    res = pd.read_csv(out / "results.csv")
    acc = res[(res["metric"] == "accuracy") & res["t"].isna()]
    return acc[["model", "view", "task", "value", "ci_low", "ci_high"]].reset_index(drop=True)


def compare(now: pd.DataFrame, before: pd.DataFrame) -> int:
    """Print each (model, view, task) accuracy beside the saved one; return how many lie
    outside the saved interval (or are missing)."""
    both = before.merge(now, on=["model", "view", "task"], how="outer",
                        suffixes=("_before", "_after"), indicator=True)
    both["inside"] = (both["value_after"] >= both["ci_low_before"]) & \
        (both["value_after"] <= both["ci_high_before"])
    both["diff"] = both["value_after"] - both["value_before"]
    cols = ["model", "view", "task", "value_before", "ci_low_before", "ci_high_before",
            "value_after", "diff", "inside"]
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(both[cols].round(4).to_string(index=False))
    bad = int((~both["inside"]).sum())
    print(f"same science: {len(both) - bad}/{len(both)} accuracies inside the saved interval; "
          f"max |diff| {both['diff'].abs().max():.4f}")
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--train-rows", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument("--cores", type=int, default=0, help="cores the cells shared "
                        "(default: --jobs, or all cores for -1)")
    parser.add_argument("--save", type=Path, help="write the accuracy rows to this csv")
    parser.add_argument("--compare", type=Path, help="compare accuracies with a saved csv")
    parser.add_argument("--keep", type=Path, help="keep the run folder here")
    parser.add_argument("--reprobe", type=Path, help="only probe the stores of this kept run "
                        "folder again (no training, no capture): timing and --compare/--save")
    parser.add_argument("--model", type=Path, help="probe this checkpoint (trained and saved "
                        "there when it does not exist), so runs can share one model")
    parser.add_argument("--no-interventions", dest="interventions", action="store_false",
                        help="leave the interventions stage out (it is on in a default probe)")
    args = parser.parse_args()
    from probe_rnn.data.synthetic import make_synthetic

    cores = args.cores or (os.cpu_count() or 1 if args.jobs < 0 else args.jobs)
    if args.reprobe:
        acc, cells, wall = reprobe(args.reprobe, args.jobs)
        print(f"reprobe {args.reprobe}: probing {wall:.1f} s wall, "
              f"{cells['cpu_seconds'].sum():.1f} s CPU in {len(cells)} cells; load average "
              f"{os.getloadavg()[0]:.2f}")
        print(cells.groupby("task")["cpu_seconds"].agg(["count", "sum", "max"]).round(1)
              .to_string())
        _finish(acc, args)
        return
    table = make_synthetic("count", n_rows=args.rows, seed=0, min_len=5, max_len=40)
    print(f"{args.rows} synthetic-count sentences, mean "
          f"{table['text'].str.split().str.len().mean():.1f} words; load average "
          f"{os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model, data = args.model or tmp / "model.pt", tmp / "rows.csv"
        if not model.exists():
            train_width_model(table, args.train_rows, args.epochs, model)
        table[["text", "label", "split"]].to_csv(data, index=False)
        out = args.keep or tmp / "run"
        wall = _run_probe(model, data, out, args.jobs, args.interventions)
        stages = json.loads((out / "run.json").read_text())["stages"]
        print("stages: " + ", ".join(f"{name} {stage['seconds']:.1f} s"
                                     for name, stage in stages.items()
                                     if stage.get("status") == "done"))
        cells = pd.read_csv(out / "cells.csv")
        ref, shape = reference_seconds(out)
        probing, cpu = stages["probing"]["seconds"], cells["cpu_seconds"].sum()
        print(f"load average {os.getloadavg()[0]:.2f} at end; command {wall:.1f} s; capture "
              f"{stages['capture']['seconds']:.1f} s; probing {probing:.1f} s wall, "
              f"{cpu:.1f} s CPU in {len(cells)} cells, protocols "
              f"{cells['protocol'].value_counts().to_dict()}")
        print(f"reference fit: {ref:.3f} s CPU on {shape[0]} x {shape[1]}")
        by_task = cells.groupby("task")["cpu_seconds"].agg(["count", "sum", "max"])
        print((by_task / [1, ref, ref]).rename(columns={"sum": "ref fits", "max": "worst cell"})
              .round(1).sort_values("ref fits", ascending=False).to_string())
        print(f"probing: {cpu / ref:.0f} reference fits in all, {cpu / ref / cores:.0f} per "
              f"core ({cores} cores), wall {probing / ref:.0f} reference fits (target <= 600 "
              "per core)")
        _finish(accuracies(out), args)


def _finish(acc: pd.DataFrame, args: argparse.Namespace) -> None:
    if args.save:
        acc.to_csv(args.save, index=False)
    if args.compare:
        compare(acc, pd.read_csv(args.compare))


if __name__ == "__main__":
    main()
