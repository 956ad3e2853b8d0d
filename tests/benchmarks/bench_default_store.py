"""Benchmark (a script, not a test): the size and capture time of a default ``probe`` run's
stores at a real model size, against a store of every view.

The model of the popular sentiment tutorials: a word-level 2-layer BiLSTM, embedding 128,
hidden 256 (untrained: size and speed do not depend on the weights), on seeded synthetic
sentences of 22.5 words on average. For the views a default run captures
(:func:`probe_rnn.run.stages.views_to_capture`: the sentence views) and for every view (what
a default run wrote before), prints the store's size per model (measured, and scaled to
20,000 sentences), the capture time and its ratio to the plain forward over the same rows in
the same batches (both models of a run: trained and random-init, so twice each).
Targets (issue 31): default store <= 600 MB per model at 20,000 sentences; capture <= 1.3x
the plain forward.

    python tests/benchmarks/bench_default_store.py [--rows 2000] [--hidden 256]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from probe_rnn.capture import capture_states
from probe_rnn.data import Tokenizer
from probe_rnn.models import ModelBundle, ModelConfig, ProbeRnnAdapter, RNNClassifier
from probe_rnn.run.settings import RunSettings
from probe_rnn.run.stages import views_to_capture

TARGET_MB, TARGET_RATIO, FULL_ROWS = 600, 1.3, 20_000


def sentences(rows: int, seed: int = 0) -> pd.DataFrame:
    """Seeded sentences of 5..40 words (mean 22.5) over a 5,000-word vocabulary."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(5000)]
    lengths = rng.integers(5, 41, size=rows)
    texts = [" ".join(rng.choice(words, size=n)) for n in lengths]
    return pd.DataFrame({"text": texts, "label": rng.choice(["neg", "pos"], size=rows)})


def plain_forward(bundle: ModelBundle, texts: list[str], batch_size: int) -> float:
    """Seconds of encoding and the model's own forward over ``texts`` in the capture's batch
    size (what capture must do anyway)."""
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            bundle.adapter.forward(bundle.model, bundle.adapter.encode(texts[i:i + batch_size]))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--hidden", type=int, default=256)
    args = parser.parse_args()
    df = sentences(args.rows)
    tokenizer = Tokenizer("word").fit(df["text"])
    config = ModelConfig(vocab_size=len(tokenizer), n_labels=2, rnn="lstm", embedding_dim=128,
                         hidden=args.hidden, layers=2, bidirectional=True)
    torch.manual_seed(0)
    bundle = ModelBundle(model=RNNClassifier(config), tokenizer=tokenizer,
                         labels=["neg", "pos"], config=config, meta={},
                         adapter=ProbeRnnAdapter(tokenizer))
    batch = RunSettings().batch_size
    texts = df["text"].tolist()
    plain_forward(bundle, texts[:batch], batch)  # warm-up
    forward_s = 2 * plain_forward(bundle, texts, batch)  # trained and random-init
    print(f"{args.rows} sentences, mean {df['text'].str.split().str.len().mean():.1f} words; "
          f"hidden {args.hidden}; plain forward of both models {forward_s:.2f} s")
    for label, views in (("default run", views_to_capture(bundle, RunSettings())),
                         ("every view", None)):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            for model in ("trained", "random-init"):  # same shapes, same cost: one model twice
                store = capture_states(bundle, df, Path(tmp) / model, views=views,
                                       batch_size=batch, dtype="float16")
            seconds = time.perf_counter() - start
            files = (Path(tmp) / "trained").rglob("*")
            size = sum(p.stat().st_size for p in files if p.is_file())
        scaled = size / 2**20 * FULL_ROWS / args.rows
        print(f"{label:<12} {len(store.views):>3} views  {size / 2**20:8.1f} MB "
              f"({scaled:7.0f} MB at {FULL_ROWS:,} rows; target <= {TARGET_MB})  capture "
              f"{seconds:6.2f} s = {seconds / forward_s:4.2f}x the plain forward "
              f"(target <= {TARGET_RATIO})")


if __name__ == "__main__":
    main()
