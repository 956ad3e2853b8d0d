"""Benchmark: the probing stage on a Dask LocalCluster of 2 workers vs local ``--jobs 2``.

Trains the 20,000-row model of ``bench_probe_scale.py`` (2-layer BiLSTM, hidden 64, one epoch
on names-kind), then runs the default ``probe-rnn probe`` (trained + random-init, every
sentence view, label and sentence tasks, logistic, 5 folds, control, MDL; attribution and UMAP
off) twice on the same 20,000 rows, in subprocesses as a user would: with ``--jobs 2``, and
with ``--scheduler local:2`` (two single-threaded worker processes). It prints each run's
probing-stage and capture-stage seconds (from run.json), the ratio cluster / local for the
probing stage (target ≤ 1.3: the cluster's overhead on one machine) and whether the two
results tables are identical.

    python tests/benchmarks/bench_cluster.py [--rows 20000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: tests.*

from tests.benchmarks.bench_probe_scale import _train  # noqa: E402


def _probe(model: Path, data: Path, out: Path, extra: list[str]) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "probe_rnn", "probe", str(model), "--data", str(data),
           "--out", str(out), "--attribution-rows", "0", "--no-umap", "--quiet", *extra]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"probe failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start, json.loads((out / "run.json").read_text())["stages"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    from probe_rnn.data import load_dataset

    df = load_dataset("names-kind", seed=0)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = _train(tmp)
        data = tmp / "rows.csv"
        df.sample(n=args.rows, random_state=0)[["text", "label", "split"]].to_csv(data,
                                                                                  index=False)
        runs = {}
        for name, extra in (("local --jobs 2", ["--jobs", "2"]),
                            ("--scheduler local:2", ["--scheduler", "local:2"])):
            out = tmp / name.replace(" ", "_").replace(":", "")
            wall, stages = _probe(model, data, out, extra)
            sums = {store: json.loads((out / store / "manifest.json").read_text())["sha256"]
                    for store in ("states", "states-random")}
            runs[name] = (wall, stages, pd.read_parquet(out / "results.parquet"), sums)
            print(f"{name:<22} command {wall:7.1f} s  capture {stages['capture']['seconds']:6.1f}"
                  f" s  probing {stages['probing']['seconds']:7.1f} s")
        local, dask = runs["local --jobs 2"], runs["--scheduler local:2"]
        ratio = dask[1]["probing"]["seconds"] / local[1]["probing"]["seconds"]
        for store, sums in local[3].items():
            other = dask[3][store]
            print(f"{store}: files that differ between the two captures: "
                  f"{[f for f in sums if sums[f] != other.get(f)] or 'none'}")
        a, b = local[2].reset_index(drop=True), dask[2].reset_index(drop=True)
        same = a.equals(b)
        print(f"\nprobing stage, {args.rows} rows: cluster / local = {ratio:.2f} (target <= "
              f"1.3); results identical: {same}")
        if not same:
            differ = (a != b) & ~(a.isna() & b.isna())
            rows = differ.any(axis=1)
            cols = list(differ.columns[differ.any()])
            gap = pd.concat([(a[c] - b[c]).abs()[rows] for c in cols], axis=1).max(axis=1)
            scale = pd.concat([a[c].abs()[rows] for c in cols], axis=1).max(axis=1)
            print(f"{int(rows.sum())} of {len(a)} rows differ, in columns {cols}: largest "
                  f"absolute difference {gap.max():.1e} (on a value of {scale[gap.idxmax()]:.3g}),"
                  f" largest relative {(gap / scale.clip(lower=1e-12)).max():.1e} (see the "
                  "README's 'Scale out')")
            worst = gap.sort_values(ascending=False).index[:3]
            print(pd.concat([a.loc[worst], b.loc[worst]]).to_string())


if __name__ == "__main__":
    main()
