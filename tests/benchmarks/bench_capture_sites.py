"""Benchmark: capturing a model with several recurrent sites, as a multiple of its forward.

Two models, batches of 256 rows (a run's default; ``--batch``), 40 steps (lengths drawn in
[20, 40]), embedding 128, hidden 256, batch-first, padded (not packed):

* ``stacked``: an LSTM, then a GRU on its output (two modules, one call each);
* ``siamese``: one LSTM encoder called on text a and on text b (one module, two calls), cosine.

Timed on the CPU in one process, after a warm-up, as the median of several repeats, round-robin
(so a changing machine load hits every variant alike):

* ``plain``: the model's forward under ``torch.no_grad()``;
* ``record``: the capture's own loop (:func:`probe_rnn.capture.batches.recorded`): one
  ``record`` block over the batches, the forward, the grouping of the calls into sites
  (``encoder``, ``encoder#2``) and ``rec.clear()``; every h and c of every site's every step is
  computed (the first forward, checked against the fused kernel, is the warm-up); and the
  same with ``lazy_cells`` (what a capture of sentence views runs: the fused kernel gives
  every ``h``, no cell is computed unless read);
* ``capture_states``: :func:`probe_rnn.capture.capture_states` of ``--batches`` batches into a
  fresh store (float16; every default view of every site, per-token ones included, as
  ``probe-rnn capture``; or only the sentence views, a ``probe`` run's default), against the
  same batches' encoding and plain forwards: writing and the first batch's checks included
  (the first batch is compared with the module's own call: about one more forward of it, once
  per capture, so the ratio falls as ``--batches`` grows).

Each line prints the ratio to ``plain``, and ``record`` of each site's module alone
(``module=``) shows what the sites add on top of one module's capture.

Run: ``python tests/benchmarks/bench_capture_sites.py [--repeats N] [--batches N]``.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from typing import Any

import pandas as pd
import torch
from torch import nn

from probe_rnn.capture import capture_states
from probe_rnn.capture.batches import recorded
from probe_rnn.models.bundle import ModelBundle
from probe_rnn.models.recurrent import recurrent_modules

BATCH, STEPS, EMB, HIDDEN, VOCAB = 256, 40, 128, 256, 100


class Stacked(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMB, padding_idx=0)
        self.rnn1 = nn.LSTM(EMB, HIDDEN, batch_first=True)
        self.rnn2 = nn.GRU(HIDDEN, HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, 2)

    def forward(self, ids, lengths, ids_2=None, lengths_2=None):  # noqa: ANN001, ANN201
        first, _ = self.rnn1(self.embedding(ids))
        second, _ = self.rnn2(first)
        return self.head(second[torch.arange(len(ids)), lengths - 1])


class Siamese(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMB, padding_idx=0)
        self.encoder = nn.LSTM(EMB, HIDDEN, batch_first=True)

    def forward(self, ids, lengths, ids_2, lengths_2):  # noqa: ANN001, ANN201
        _, (a, _) = self.encoder(self.embedding(ids))
        _, (b, _) = self.encoder(self.embedding(ids_2))
        return torch.cosine_similarity(a[-1], b[-1], dim=-1)[:, None]


class Adapter:
    """Texts are row numbers: each batch's ids are drawn from a seeded generator."""

    def __init__(self, pair: bool) -> None:
        self.pair = pair
        self._lengths: dict[int, list[int]] = {}

    def _side(self, rows: list[int], salt: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(rows[0] * 7 + salt)
        lengths = torch.randint(STEPS // 2, STEPS + 1, (len(rows),), generator=gen)
        lengths[0] = STEPS
        ids = torch.randint(1, VOCAB, (len(rows), STEPS), generator=gen)
        ids[torch.arange(STEPS)[None, :] >= lengths[:, None]] = 0
        return ids, lengths

    def encode(self, texts: list[str]) -> dict[str, Any]:
        rows = [int(t) for t in texts]
        ids, lengths = self._side(rows, 0)
        batch = {"ids": ids, "lengths": lengths}
        if self.pair:
            batch["ids_2"], batch["lengths_2"] = self._side(rows, 1)
        return batch

    def forward(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        return model(batch["ids"], batch["lengths"], batch.get("ids_2"), batch.get("lengths_2"))

    def tokens(self, text: str) -> list[str]:
        row = int(text)
        start = row - row % BATCH  # the row's batch decides its length
        if start not in self._lengths:  # as cheap as a real adapter's split of its text
            self._lengths[start] = self._side(list(range(start, start + BATCH)), 0)[1].tolist()
        return ["t"] * self._lengths[start][row - start]


def _bundle(model: nn.Module, pair: bool) -> ModelBundle:
    model.eval()
    return ModelBundle(model=model, tokenizer=None, labels=["x", "y"], config=None, meta={},
                       adapter=Adapter(pair), source="bench", checksum="bench")


def _median_round_robin(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {key: [] for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(ts) for key, ts in times.items()}


def _recording(bundle: ModelBundle, batch: dict[str, Any], names: list[str],
               lazy_cells: bool = False) -> Callable[[], object]:
    """One steady-state batch of the capture loop (the generator stays open between calls),
    on a copy of the model (one ``record`` block per model at a time)."""
    bundle = _bundle(copy.deepcopy(bundle.model), bundle.adapter.pair)

    def batches():  # noqa: ANN202
        while True:
            yield batch

    steps = closing(recorded(bundle, batches(), names, "first", lazy_cells))
    loop = steps.__enter__()
    next(loop)  # the first forward: every call checked against the fused kernel

    def one() -> object:
        return next(loop)
    return one


def _measure(name: str, bundle: ModelBundle, repeats: int, n_batches: int) -> None:
    batch = bundle.adapter.encode([str(i) for i in range(BATCH)])
    names = list(recurrent_modules(bundle.model))

    def plain() -> object:
        with torch.no_grad():
            return bundle.adapter.forward(bundle.model, batch)

    fns = {"plain": plain, "record (every site)": _recording(bundle, batch, names),
           "record (lazy cells)": _recording(bundle, batch, names, lazy_cells=True)}
    for module in names:
        fns[f"record ({module} alone)"] = _recording(bundle, batch, [module])
    times = _median_round_robin(fns, repeats)
    print(f"\n{name}: batch {BATCH}, {STEPS} steps, emb {EMB}, hidden {HIDDEN}")
    for key, seconds in times.items():
        print(f"  {key:<28} {seconds * 1e3:8.1f} ms  {seconds / times['plain']:5.2f}x plain")
    df = pd.DataFrame({"text": [str(i) for i in range(n_batches * BATCH)],
                       "label": ["x"] * (n_batches * BATCH)})
    texts = list(df["text"])

    def forwards() -> object:  # what capture_states does besides recording: encode, forward
        with torch.no_grad():
            for k in range(n_batches):
                bundle.adapter.forward(bundle.model, bundle.adapter.encode(
                    texts[k * BATCH:(k + 1) * BATCH]))
        return None

    def capture(views: list[str] | None) -> Callable[[], object]:
        def run() -> object:
            with tempfile.TemporaryDirectory() as folder:
                return capture_states(bundle, df, folder + "/store", batch_size=BATCH,
                                      views=views).views
        return run

    sentence = ["output@last", "output@-1", "mean(output)", "max(output)", "h_n/L0/fwd",
                "h_n/L0", "c_n/L0/fwd"]  # a run's default: every site's sentence views
    whole = _median_round_robin({"plain": forwards, "every view": capture(None),
                                 "sentence views": capture(sentence)}, max(3, repeats // 2))
    sites = sorted({v.split(":")[0] for v in capture(None)()})
    for key in ("every view", "sentence views"):
        print(f"  capture_states, {key}, {n_batches} batches (sites {', '.join(sites)}): "
              f"{whole[key] / n_batches * 1e3:.1f} ms a batch, "
              f"{whole[key] / whole['plain']:.2f}x plain")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batches", type=int, default=16)
    parser.add_argument("--batch", type=int, default=256, help="rows a batch")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    global BATCH  # noqa: PLW0603 - the adapter's batches follow the command line
    BATCH = args.batch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.2f}")
    _measure("stacked (rnn1 LSTM -> rnn2 GRU)", _bundle(Stacked(), pair=False), args.repeats,
             args.batches)
    _measure("siamese (one LSTM encoder, two calls)", _bundle(Siamese(), pair=True),
             args.repeats, args.batches)


if __name__ == "__main__":
    main()
