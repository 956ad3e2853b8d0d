"""Benchmark: the default ``probe-rnn probe`` at real sizes, in reference fits per cell.

Trains a 2-layer BiLSTM (hidden 64) for one epoch on 20,000 ``names-kind`` rows, then for each
size runs the default ``probe-rnn probe`` command (trained + random-init, every sentence view,
label and sentence tasks, logistic, 5 folds, control, MDL; only attribution and UMAP are off)
in a subprocess, as a user would, and prints, from that one run on this machine:

- wall time of the probing stage (run.json) and of the whole command;
- peak RSS of the command's whole process tree (parent and joblib workers, summed, sampled
  every 0.2 s);
- cost per cell in **reference fits**: a cell's CPU seconds (measured inside the cell) over the
  time of one plain ``LogisticRegression(C=1)`` lbfgs float64 fit on that cell's full matrix,
  timed here, single-threaded, for a seeded sample of ``--ref-cells`` cells (every task, both
  models). Targets (issue "probing at real sizes"): ≤ 3 reference fits per cell; 20,000 rows
  probed in ≤ 180 s; ~92,000 rows (``--full``) in ≤ 15 min with peak RSS ≤ 2 GB.

    python tests/benchmarks/bench_probe_scale.py [--sizes 5000,20000] [--full] [--ref-cells 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits


def _tree_rss(pid: int) -> int:
    """Summed RSS (bytes) of ``pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


def _run_probe(model: Path, data: Path, out: Path, jobs: int) -> tuple[float, int, str]:
    cmd = [sys.executable, "-m", "probe_rnn", "probe", str(model), "--data", str(data),
           "--out", str(out), "--attribution-rows", "0", "--no-umap", "--jobs", str(jobs)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.2)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    output, _ = proc.communicate()
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"probe failed:\n{output[-3000:]}")
    return time.perf_counter() - start, peak[0], output


def _reference_seconds(out: Path, records: pd.DataFrame, n_cells: int, seed: int
                       ) -> pd.DataFrame:
    """One plain LogisticRegression(C=1) lbfgs float64 fit on the full matrix of sampled cells
    (the probed rows: dev + test, as the default ``--probe-rows heldout``)."""
    from probe_rnn.capture import StateStore
    from probe_rnn.probing.cells import Cell, build_problem
    from probe_rnn.probing.tasks import get_task

    stores = {"trained": StateStore(out / "states"),
              "random-init": StateStore(out / "states-random")}
    done = records[records["status"] == "done"]
    # every task on both models, then a seeded sample of views
    per = max(1, n_cells // max(1, done.groupby(["model", "task"]).ngroups))
    picked = pd.concat([g.sample(n=min(len(g), per), random_state=seed)
                        for _, g in done.groupby(["model", "task"])])
    rows = []
    for rec in picked.itertuples():
        store = stores[rec.model]
        meta = store.meta  # the rows the run probed: held-out (dev + test) by default
        probed = np.flatnonzero((meta["split"] != "train").to_numpy()) if "split" in meta \
            else np.arange(len(meta))
        cell = Cell(rec.model, store, rec.view, store.kind(rec.view), get_task(rec.task),
                    rec.probe, rec.probe, probed)
        p = build_problem(cell)
        X = p.X.astype(np.float64)
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.process_time()
            LogisticRegression(C=1.0, max_iter=1000).fit(X, p.y.astype(str))
            ref = time.process_time() - start
        rows.append({"model": rec.model, "view": rec.view, "task": rec.task,
                     "protocol": rec.protocol, "rows": len(p.y), "cell_cpu_s": rec.cpu_seconds,
                     "ref_fit_s": ref, "ref_fits": rec.cpu_seconds / ref})
    return pd.DataFrame(rows)


def _train(tmp: Path) -> Path:
    import torch

    from probe_rnn.data import load_dataset
    from probe_rnn.models import Architecture, TrainBudget, save_checkpoint, train

    torch.set_num_threads(2)
    df = load_dataset("names-kind", seed=0)
    sample = df[df["split"] == "train"].sample(n=20000, random_state=1).drop(columns="split")
    start = time.perf_counter()
    res = train(sample, Architecture(rnn="lstm", layers=2, bidirectional=True, hidden=64,
                                    embedding_dim=32), TrainBudget(epochs=1), seed=0)
    print(f"model: 2-layer BiLSTM hidden 64, 1 epoch on 20,000 train rows in "
          f"{time.perf_counter() - start:.1f} s, test accuracy {res.test_accuracy:.3f}")
    path = tmp / "model.pt"
    save_checkpoint(path, res.bundle)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,20000", help="comma-separated row counts")
    parser.add_argument("--full", action="store_true", help="also every names-kind row (~92k)")
    parser.add_argument("--ref-cells", type=int, default=20, help="cells timed against a "
                        "reference fit per size")
    parser.add_argument("--jobs", type=int, default=-1)
    args = parser.parse_args()
    from probe_rnn.data import load_dataset

    df = load_dataset("names-kind", seed=0)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.full:
        sizes.append(len(df))
    summary = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = _train(tmp)
        for n in sizes:
            data = tmp / f"rows{n}.csv"
            df.sample(n=n, random_state=0)[["text", "label", "split"]].to_csv(data, index=False)
            out = tmp / f"run{n}"
            wall, peak, _ = _run_probe(model, data, out, args.jobs)
            run = json.loads((out / "run.json").read_text())
            records = pd.read_csv(out / "cells.csv")
            ref = _reference_seconds(out, records, args.ref_cells, seed=0)
            probing = run["stages"]["probing"]["seconds"]
            print(f"\n== {n} rows: probing {probing:.1f} s wall, command {wall:.1f} s, peak RSS "
                  f"{peak / 2**30:.2f} GiB, {len(records)} cells, probing CPU "
                  f"{records['cpu_seconds'].sum():.1f} s, protocols "
                  f"{records['protocol'].value_counts().to_dict()}")
            with pd.option_context("display.width", 160):
                print(ref.round(3).to_string(index=False))
            print(f"reference fits per cell (sampled {len(ref)}): mean "
                  f"{ref['ref_fits'].mean():.2f}, max {ref['ref_fits'].max():.2f}, pooled "
                  f"{ref['cell_cpu_s'].sum() / ref['ref_fit_s'].sum():.2f}")
            summary.append((n, probing, wall, peak, ref["ref_fits"].mean(),
                            ref["ref_fits"].max()))
    print("\nrows     probing s  command s  peak RSS GiB  ref fits/cell mean  max")
    for n, probing, wall, peak, mean, worst in summary:
        print(f"{n:<8} {probing:9.1f}  {wall:9.1f}  {peak / 2**30:12.2f}  {mean:18.2f}  "
              f"{worst:.2f}")


if __name__ == "__main__":
    main()
