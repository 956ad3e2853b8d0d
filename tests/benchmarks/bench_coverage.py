"""Benchmark: interval coverage and false-positive rates of the probing protocol (issue 25).

Simulations with a known answer (``tests/unit/probing/simulation.py``): a Gaussian view whose
first dimension carries a binary label, probed by ``run_probes`` (logistic probe, 5 folds, no
control, no MDL). For each scenario it prints, over ``--replicates`` seeded runs:

- coverage of the 95 % accuracy and bits intervals of one view against the expected held-out
  accuracy / bits of a probe trained on the cell's ``n_train`` sentences (computed apart, on
  fresh data);
- the false-positive rate of "A more than B" (the paired difference excludes 0) between two
  exchangeable views (drawn independently from the same distribution);
- the protocol the cells ran (K-fold or held-out) and their ``n_train``.

Then the protocol's continuity: mean accuracy over replicates of a cell at ``need`` and
``need + 1`` sentences, and at ``folds · need`` and ``folds · need + 1`` (precision 0.1, need
97). Targets: coverage >= 0.93, false positives <= 0.07, no jump at either boundary.

    python tests/benchmarks/bench_coverage.py [--replicates 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: tests.*

from probe_rnn.probing.protocol import needed_test_sentences  # noqa: E402
from tests.unit.probing.simulation import World, probe_store, rates, store  # noqa: E402

SCENARIOS = {
    # name: (world, sentences, precision, n_train of the cells)
    "small K-fold, balanced (300 sentences)": (World(), 300, 0.01, 240),
    "small K-fold, 78/22 labels (300 sentences)": (World(p=0.78), 300, 0.01, 240),
    "held-out, 2 seeds (600 sentences, precision 0.1)": (World(), 600, 0.1, 388),
}


def continuity(replicates: int) -> None:
    """Mean accuracy (and its spread) of cells either side of both protocol boundaries."""
    need = needed_test_sentences(0.1)
    world = World()
    for n in (need, need + 1, 5 * need, 5 * need + 1):
        accs, protocols, trains = [], set(), set()
        for r in range(replicates):
            results, _ = probe_store(store(world, n, np.random.default_rng(10_000 + r)), ("a",),
                                     0.1, seed=r)
            row = results[results["metric"] == "accuracy"].iloc[0]
            accs.append(float(row["value"]))
            trains.add(int(row["n_train"]))
            protocols.add(results.attrs["cell_records"][0]["protocol"])
        print(f"  {n:>4} sentences: accuracy {np.mean(accs):.3f} (sd {np.std(accs):.3f}), "
              f"protocol {', '.join(sorted(protocols))}, n_train {sorted(trains)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--continuity-replicates", type=int, default=40)
    args = parser.parse_args()
    for name, (world, n, precision, n_train) in SCENARIOS.items():
        start = time.perf_counter()
        r = rates(world, n, precision, args.replicates, n_train, first_seed=1000)
        print(f"{name}: {args.replicates} replicates, protocol {r['protocol']}, n_train "
              f"{r['n_train']:.0f}, truth accuracy {r['truth_accuracy']:.4f} bits "
              f"{r['truth_bits']:.4f} ({time.perf_counter() - start:.0f} s)")
        print(f"  coverage: accuracy {r['coverage_accuracy']:.3f}, bits {r['coverage_bits']:.3f}")
        print(f"  false positives (paired, exchangeable views): accuracy "
              f"{r['false_positive_accuracy']:.3f}, bits {r['false_positive_bits']:.3f}")
    print(f"continuity ({args.continuity_replicates} replicates each, precision 0.1):")
    continuity(args.continuity_replicates)


if __name__ == "__main__":
    main()
