"""Benchmark: cost of capturing every per-layer, per-step h and c, as a multiple of a forward.

Model: embedding 128 -> 2-layer bidirectional LSTM (hidden 256, batch_first, packed with
``enforce_sorted=False``) -> linear head; batch 64, 40 steps, lengths drawn in [20, 40] (the
longest row has 40). Timed on the CPU, in one process, after a warm-up, as the median of
several repeats, timed round-robin (plain, first, every, cell loop) so that a changing
machine load hits every variant alike:

* ``plain``: the model's forward under ``torch.no_grad()``;
* ``verify="first"``: one ``record`` block spanning many batches (a capture run, ``rec.clear()``
  after each); the first call is checked (warm-up), the timed ones are the steady-state batches;
  every h and c of every layer, direction and step is captured (packed layout, what the token
  views read); the ``+ padded`` line also materialises ``st.hidden`` and ``st.cell`` as padded
  ``(batch, time, layers, directions, hidden)`` tensors inside the timed region;
* ``verify="every"``: the same, every call checked (per-step identities of every state);
* ``LSTMCell loop``: the naive reference (a Python loop of ``nn.LSTMCell`` steps per layer and
  direction, no check).

Run: ``python tests/benchmarks/bench_capture.py [--repeats N] [--padded]``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from probe_rnn.capture import record

BATCH, STEPS, EMB, HIDDEN, LAYERS, VOCAB = 64, 40, 128, 256, 2, 100


class Model(nn.Module):
    """Embedding -> (packed) BiLSTM -> head on the concatenated top-layer h_n."""

    def __init__(self, packed: bool = True) -> None:
        super().__init__()
        self.packed = packed
        self.embedding = nn.Embedding(VOCAB, EMB, padding_idx=0)
        self.rnn = nn.LSTM(EMB, HIDDEN, num_layers=LAYERS, bidirectional=True, batch_first=True)
        self.head = nn.Linear(2 * HIDDEN, 2)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids)
        if self.packed:
            x = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.rnn(x)
        return self.head(torch.cat([h_n[-2], h_n[-1]], 1))


def _interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds per function, timed round-robin so a changing machine load hits all."""
    for fn in fns.values():
        fn()
        fn()
    times: dict[str, list[float]] = {key: [] for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(ts) for key, ts in times.items()}


def _cell_loop(model: Model, ids: torch.Tensor, lengths: torch.Tensor) -> None:
    """Reference: LSTMCell steps per layer and direction over the packed, sorted batch."""
    x = pack_padded_sequence(model.embedding(ids), lengths, batch_first=True,
                             enforce_sorted=False)
    data, batch_sizes = x.data, x.batch_sizes.tolist()
    offsets = [0]
    for b in batch_sizes:
        offsets.append(offsets[-1] + b)
    layer_in = data
    for layer in range(LAYERS):
        outs = []
        for suffix in ("", "_reverse"):
            cell = nn.LSTMCell(layer_in.shape[1], HIDDEN)
            cell.weight_ih = getattr(model.rnn, f"weight_ih_l{layer}{suffix}")
            cell.weight_hh = getattr(model.rnn, f"weight_hh_l{layer}{suffix}")
            cell.bias_ih = getattr(model.rnn, f"bias_ih_l{layer}{suffix}")
            cell.bias_hh = getattr(model.rnn, f"bias_hh_l{layer}{suffix}")
            h_all, c_all = torch.zeros(len(data), HIDDEN), torch.zeros(len(data), HIDDEN)
            h, c = torch.zeros(batch_sizes[0], HIDDEN), torch.zeros(batch_sizes[0], HIDDEN)
            steps = range(len(batch_sizes))
            for t in reversed(steps) if suffix else steps:
                b, o = batch_sizes[t], offsets[t]
                h_b, c_b = cell(layer_in[o : o + b], (h[:b], c[:b]))
                h, c = h.clone(), c.clone()
                h[:b], c[:b] = h_b, c_b
                h_all[o : o + b], c_all[o : o + b] = h_b, c_b
            outs.append(h_all)
        layer_in = torch.cat(outs, 1)


def _capture_fn(model: Model, rec, ids: torch.Tensor, lengths: torch.Tensor, padded: bool):
    def run() -> None:
        model(ids, lengths)
        st = rec["rnn"]
        if padded:
            st.hidden, st.cell  # noqa: B018 - materialise the padded tensors
        rec.clear()

    return run


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Print and return the timings (seconds) and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--padded", action="store_true", help="run the LSTM on the padded batch")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Model(packed=not args.padded).eval()
    lengths = torch.randint(20, STEPS + 1, (BATCH,))
    lengths[0] = STEPS
    ids = torch.randint(1, VOCAB, (BATCH, STEPS))
    ids[torch.arange(STEPS)[None, :] >= lengths[:, None]] = 0
    models = {key: copy.deepcopy(model) for key in ("first", "every")}
    with torch.no_grad(), contextlib.ExitStack() as stack:
        fns: dict[str, Callable[[], object]] = {"plain": lambda: model(ids, lengths)}
        for verify, m in models.items():
            rec = stack.enter_context(record(m, modules=["rnn"], verify=verify))
            fns[verify] = _capture_fn(m, rec, ids, lengths, False)
            fns[f"{verify}+padded"] = _capture_fn(m, rec, ids, lengths, True)
        fns["cell_loop"] = lambda: _cell_loop(model, ids, lengths)
        res = _interleaved(fns, args.repeats)
    plain = res["plain"]
    layout = "padded" if args.padded else "packed"
    print(f"2-layer BiLSTM, batch {BATCH}, {STEPS} steps, emb {EMB}, hidden {HIDDEN}, {layout}, "
          f"CPU ({torch.get_num_threads()} threads), median of {args.repeats}, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"plain forward               {plain * 1e3:8.1f} ms")
    for key, label in (("first", 'capture verify="first"'),
                       ("first+padded", "  + padded h, c tensors"),
                       ("every", 'capture verify="every"'),
                       ("every+padded", "  + padded h, c tensors"),
                       ("cell_loop", "LSTMCell loop reference")):
        res[f"ratio_{key}"] = res[key] / plain
        print(f"{label:27s} {res[key] * 1e3:8.1f} ms   {res[key] / plain:5.2f}x")
    return res


if __name__ == "__main__":
    main()
