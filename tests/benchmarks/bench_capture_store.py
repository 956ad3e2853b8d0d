"""Benchmark (a script, not a test): throughput and peak memory of ``capture`` on names-kind.

Captures every default view (all sentence views plus per-token hidden, cell and output of every
layer and direction) of a small 2-layer BiLSTM (untrained: speed does not depend on the
weights) over seeded samples of the bundled ``names-kind`` dataset, each size in a fresh
subprocess so its peak RSS (``ru_maxrss``) is its own. Prints rows/s of the capture, of the
plain forward for reference, the store size, peak RSS above the process's baseline, and the
cost of the store's integrity check: ``verify`` (sha256 of every file against the manifest)
and a reusing ``capture`` call (which verifies), in seconds and as a fraction of the capture.

    python tests/benchmarks/bench_capture_store.py                 # 20k and 80k rows
    python tests/benchmarks/bench_capture_store.py --sizes 5000 20000 --hidden 64
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rss_kb() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def measure(rows: int, hidden: int, dtype: str, batch_size: int) -> dict[str, float]:
    """Capture ``rows`` rows of names-kind in this process; return the measurements."""
    import torch

    from probe_rnn.capture import capture_states
    from probe_rnn.data import Tokenizer, load_dataset
    from probe_rnn.models.adapters import ProbeRnnAdapter
    from probe_rnn.models.bundle import ModelBundle
    from probe_rnn.models.classifier import RNNClassifier
    from probe_rnn.models.config import ModelConfig

    data = load_dataset("names-kind")
    data = data.sample(n=min(rows, len(data)), random_state=0).sort_index().reset_index(drop=True)
    tok = Tokenizer("char").fit(data["text"])
    cfg = ModelConfig(vocab_size=len(tok), n_labels=2, rnn="lstm", embedding_dim=32,
                      hidden=hidden, layers=2, bidirectional=True)
    torch.manual_seed(0)
    labels = sorted(data["label"].unique())
    bundle = ModelBundle(model=RNNClassifier(cfg), tokenizer=tok, labels=labels, config=cfg,
                         meta={}, adapter=ProbeRnnAdapter(tok))
    texts = data["text"].tolist()
    with tempfile.TemporaryDirectory() as tmp:
        capture_states(bundle, data.head(2 * batch_size), Path(tmp) / "warm", dtype=dtype,
                batch_size=batch_size)
        base_kb = _rss_kb()
        start = time.perf_counter()
        store = capture_states(bundle, data, Path(tmp) / "s", dtype=dtype, batch_size=batch_size)
        capture_s = time.perf_counter() - start
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before anything else
        size = sum(p.stat().st_size for p in store.path.rglob("*") if p.is_file())
        tokens = store.n_tokens
        start = time.perf_counter()
        store.verify()
        verify_s = time.perf_counter() - start
        start = time.perf_counter()
        capture_states(bundle, data, Path(tmp) / "s", dtype=dtype, batch_size=batch_size)  # reused
        reuse_s = time.perf_counter() - start
        start = time.perf_counter()
        bundle.predict_logits(texts, batch_size=batch_size)
        forward_s = time.perf_counter() - start
    return {"rows": len(data), "tokens": tokens, "capture_s": capture_s,
            "rows_per_s": len(data) / capture_s, "forward_rows_per_s": len(data) / forward_s,
            "store_mb": size / 2**20, "peak_rss_mb": peak_kb / 1024,
            "peak_above_base_mb": (peak_kb - base_kb) / 1024, "views": len(store.views),
            "verify_s": verify_s, "reuse_s": reuse_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 80_000])
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--dtype", default="float16")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one, args.hidden, args.dtype, args.batch_size)))
        return
    import torch

    print(f"capture of names-kind, 2-layer BiLSTM hidden {args.hidden}, emb 32, {args.dtype}, "
          f"batch {args.batch_size}, torch threads {torch.get_num_threads()}")
    print(f"{'rows':>7} {'tokens':>8} {'views':>5} {'capture s':>9} {'rows/s':>8} "
          f"{'fwd rows/s':>10} {'store MB':>8} {'peak RSS MB':>11} {'above base MB':>13} "
          f"{'verify s':>8} {'reuse s':>7} {'verify/capture':>14}")
    for rows in args.sizes:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(rows), "--hidden", str(args.hidden),
             "--dtype", args.dtype, "--batch-size", str(args.batch_size)],
            capture_output=True, text=True, check=True,
        )
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{r['rows']:>7} {r['tokens']:>8} {r['views']:>5} {r['capture_s']:>9.2f} "
              f"{r['rows_per_s']:>8.0f} {r['forward_rows_per_s']:>10.0f} {r['store_mb']:>8.1f} "
              f"{r['peak_rss_mb']:>11.1f} {r['peak_above_base_mb']:>13.1f} "
              f"{r['verify_s']:>8.2f} {r['reuse_s']:>7.2f} "
              f"{r['verify_s'] / r['capture_s']:>14.3f}")


if __name__ == "__main__":
    main()
