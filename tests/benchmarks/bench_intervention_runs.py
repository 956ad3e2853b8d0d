"""Benchmark: the interventions stage at the tutorials' model size, in plain forwards.

The model of ``bench_probe_width.py`` (a word-level 2-layer BiLSTM, embedding 128, hidden 256;
``--model`` reuses a checkpoint, else it is trained there first) on ``--rows`` sentences of the
``synthetic-count`` corpus; the interventions run on the held-out rows (dev + test) as the
default ``probe`` runs them (:func:`probe_rnn.interventions.intervene`: erasure, patching,
ablation, the conditional bits; every sentence view of the top layer and its per-step views).
Prints, from one run on this machine:

- the **plain forward**: the model's own forward (fused kernel) over the held-out rows, in
  batches of 256, CPU seconds (best of 3), and the whole stage's wall seconds, in plain
  forwards and per part (intervention by intervention);
- the **replaced runs** alone: every default view (sentence and per-step) replaced by a
  changed value on every held-out row, once continued from the clean run's kept states (the
  stage's route) and once rerun through the twin (the route before: every layer again, the
  replaced direction stepped through Python), in plain forwards each, their ratio, and the
  largest difference of their logits.

    python tests/benchmarks/bench_intervention_runs.py [--rows 5000] [--model m.pt]
        [--threads 1] [--no-rerun]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def plain_forward_seconds(bundle, ids, lengths, batch: int = 256, repeats: int = 3) -> float:
    """CPU seconds of the model's own forward over ``ids`` in batches (best of ``repeats``)."""
    import torch

    best = float("inf")
    with torch.no_grad():
        for _ in range(repeats):
            start = time.process_time()
            for i in range(0, len(ids), batch):
                bundle.adapter.forward(bundle.model, {"ids": ids[i:i + batch],
                                                      "lengths": lengths[i:i + batch]})
            best = min(best, time.process_time() - start)
    return best


def replaced_runs(setup, views: list[str], seed: int = 0, rerun: bool = True
                  ) -> tuple[float, float, float]:
    """CPU seconds of every view replaced on every held-out row, continued and (``rerun``)
    rerun, and the largest |difference| of the two routes' logits (NaN without a rerun)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    test = setup.test
    rows = torch.arange(len(test))
    changed = {v: setup.values("test", v) + torch.randn(setup.values("test", v).shape,
                                                       generator=gen) for v in views}
    seconds, logits = [], []
    for clean in (test.clean, None) if rerun else (test.clean,):
        start, out = time.process_time(), []
        for view in views:
            out.append(setup.replacer.forward(test.ids, test.lengths, replace=(view, changed[view]),
                                              clean=clean, rows=rows)[0])
        seconds.append(time.process_time() - start)
        logits.append(torch.cat(out))
    if not rerun:
        return seconds[0], float("nan"), float("nan")
    return seconds[0], seconds[1], float((logits[0] - logits[1]).abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--model", type=Path, help="checkpoint (trained there when missing)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--rerun", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the replaced runs rerun through the twin (slow)")
    args = parser.parse_args()
    import torch

    from probe_rnn.data.synthetic import make_synthetic
    from probe_rnn.interventions.api import default_steps, default_views, intervene
    from probe_rnn.models import load_model

    torch.set_num_threads(args.threads)
    table = make_synthetic("count", n_rows=args.rows, seed=0, min_len=5, max_len=40)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or Path(tmp) / "model.pt"
        if not model.exists():
            sys.path.insert(0, str(Path(__file__).parent))
            from bench_probe_width import train_width_model

            train_width_model(table, 4000, 1, model)
        bundle = load_model(model)
    held = np.flatnonzero(table["split"].isin(["dev", "test"]).to_numpy())
    batch = bundle.adapter.encode(table["text"].iloc[held].tolist())
    plain = plain_forward_seconds(bundle, batch["ids"], batch["lengths"])
    print(f"{args.rows} sentences, {len(held)} held-out rows; {args.threads} thread(s); load "
          f"average {os.getloadavg()[0]:.2f}; plain forward {plain:.3f} s CPU")
    parts: dict[str, float] = {}
    last = [time.perf_counter()]

    def tick(_done: int, _total: int, name: str) -> None:
        now = time.perf_counter()
        parts[name] = parts.get(name, 0.0) + now - last[0]
        last[0] = now

    start = time.perf_counter()
    found = intervene(bundle, table, held, progress=tick, seed=0)
    wall = time.perf_counter() - start
    print(f"stage: {wall:.1f} s wall = {wall / plain:.0f} plain forwards; {len(found.table)} "
          "rows; " + ", ".join(f"{k} {v:.1f} s" for k, v in parts.items()))
    views = default_views(2, 2) + default_steps(2, 2, batch["lengths"].numpy())
    continued, rerun, gap = replaced_runs(found.setup, views, rerun=args.rerun)
    print(f"replaced runs ({len(views)} views x {len(held)} rows): continued {continued:.1f} s "
          f"CPU = {continued / plain:.1f} plain forwards; rerun {rerun:.1f} s = "
          f"{rerun / plain:.1f}; rerun / continued = {rerun / continued:.1f}; max |logit "
          f"difference| {gap:.1e}")


if __name__ == "__main__":
    main()
