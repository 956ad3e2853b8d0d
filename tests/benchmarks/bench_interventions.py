"""Benchmark: the interventions stage's share of a whole ``probe`` run on the demo's data and
model (bundled ``names``, the demo's 2-layer BiLSTM, the demo's probing settings).

Run: ``python tests/benchmarks/bench_interventions.py [--out DIR] [--jobs 1] [--no-umap]``.
Trains the demo model (:data:`probe_rnn.run.demo.DEMO_MODEL`; reused from ``DIR/model.pt``
when there), runs :func:`probe_rnn.run.pipeline.probe` with
:data:`probe_rnn.run.demo.DEMO_RUN` into ``DIR/run`` (a fresh folder each time), and prints
each stage's seconds from ``run.json`` and the ratio interventions / whole run (issue 30's
bar: at most 0.25). State the machine's load beside the numbers: stages share the cores.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder (default: a temporary)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--umap", action=argparse.BooleanOptionalAction, default=False)
    args = parser.parse_args()
    from probe_rnn.data import load_dataset
    from probe_rnn.models import load_model, save_checkpoint, train
    from probe_rnn.models.config import split_settings
    from probe_rnn.run.demo import DEMO_MODEL, DEMO_RUN
    from probe_rnn.run.pipeline import probe
    from probe_rnn.run_folder import read_run

    out = args.out or Path(tempfile.mkdtemp(prefix="bench-interventions-"))
    out.mkdir(parents=True, exist_ok=True)
    df = load_dataset("names", seed=0)
    model_path = out / "model.pt"
    if not model_path.exists():
        architecture, budget, rest = split_settings(DEMO_MODEL)
        save_checkpoint(model_path, train(df, architecture, budget, seed=0,
                                          source="dataset:names", **rest).bundle)
    bundle = load_model(model_path)
    run = out / "run"
    shutil.rmtree(run, ignore_errors=True)
    settings = replace(DEMO_RUN, seed=0, umap=args.umap, jobs=args.jobs)
    start = time.perf_counter()
    probe(bundle, df, run, settings, source="dataset:names", name="bench")
    whole = time.perf_counter() - start
    stages = {name: s.seconds for name, s in (read_run(run).stages or {}).items()}
    for name, seconds in stages.items():
        print(f"{name:<14} {seconds:8.2f} s")
    share = stages.get("interventions", float("nan")) / whole
    print(f"{'whole run':<14} {whole:8.2f} s  ({len(df)} rows)")
    print(f"interventions / whole run = {share:.3f}  (bar: <= 0.25)")


if __name__ == "__main__":
    main()
