"""Benchmark: token IG (50 steps) per sentence on a 2-layer BiLSTM (hidden 64, names-sized
inputs), and the ratio of per-timestep state attribution time to token attribution time.

Run: ``python tests/benchmarks/bench_attribution.py [--rows 16] [--state-steps 16]``.
The model is randomly initialised (timing does not depend on training); inputs are bundled
``names`` encoded with a character tokenizer.
"""

from __future__ import annotations

import argparse
import time

import torch

from probe_rnn.attribution import find_parts, step_attributions, token_attributions
from probe_rnn.data import Tokenizer, load_dataset
from probe_rnn.models import ModelConfig, RNNClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--state-steps", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    df = load_dataset("names").sample(n=args.rows, random_state=0)
    tok = Tokenizer("char").fit(load_dataset("names")["text"].tolist())
    ids, lengths = tok.encode_batch(df["text"].tolist())
    model = RNNClassifier(ModelConfig(vocab_size=len(tok), n_labels=2, embedding_dim=32,
                                      hidden=64, layers=2, bidirectional=True)).eval()
    parts = find_parts(model)
    target = model(ids, lengths).argmax(1)
    token_attributions(parts, ids[:2], lengths[:2], target[:2], n_steps=4)  # warm-up
    start = time.perf_counter()
    tok_res = token_attributions(parts, ids, lengths, target, n_steps=args.steps,
                                 internal_batch_size=512)
    t_tok = time.perf_counter() - start
    start = time.perf_counter()
    st = step_attributions(parts, ids, lengths, target, n_steps=args.state_steps,
                           internal_batch_size=512)
    t_st = time.perf_counter() - start
    n = len(df)
    print(f"rows {n}, mean length {lengths.float().mean():.1f}, threads "
          f"{torch.get_num_threads()}")
    print(f"token IG ({args.steps} steps): {t_tok / n * 1e3:.1f} ms/sentence, worst "
          f"completeness {float(tok_res.completeness_error.max()):.1e}")
    print(f"state attribution ({args.state_steps} steps, {len(st.frame)} taps): "
          f"{t_st / n * 1e3:.1f} ms/sentence, worst completeness "
          f"{float(st.frame['completeness_error'].max()):.1e}")
    print(f"ratio state/token: {t_st / t_tok:.1f}x")


if __name__ == "__main__":
    main()
