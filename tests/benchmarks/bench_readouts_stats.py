"""Benchmark: the readouts study's statistics on simulated studies with a known answer.

Run: ``python tests/benchmarks/bench_readouts_stats.py [--replicates 1000]``.
The simulation is the one of ``tests/unit/studies/test_study_simulation.py`` (a 600-row table,
60 test rows, every readout with the same true accuracy), run at more replicates and in several
settings. Per setting it prints the share of studies that call an equal readout "measurably
worse than the best" (Holm-corrected, and uncorrected for contrast), the coverage of the
per-readout interval (each seed on its own split), and the coverage of the old interval (every
seed on one shared split) and of that interval with the shared test set's binomial error added.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "studies"))

from test_study_simulation import N_TEST, RATIO, TRUE_ACCURACY, _study  # noqa: E402

from probe_rnn.probing.intervals import t_interval  # noqa: E402
from probe_rnn.studies.stats import (  # noqa: E402
    paired_differences,
    summarize_runs,
    vs_best,
)


def _setting(rng: np.random.Generator, replicates: int, readouts: int, seeds: int
             ) -> dict[str, float]:
    holm = raw = own = shared = added = 0
    for _ in range(replicates):
        runs = _study(rng, readouts, seeds, own_split=True)
        summary = summarize_runs(runs, ratio=RATIO, floor_n=N_TEST)
        pairs = paired_differences(runs, ratio=RATIO)
        holm += any(v.startswith("measurably worse") for v in vs_best(summary, pairs))
        best = summary.loc[summary["mean"].idxmax(), "readout"]
        mine = pairs[(pairs["readout_a"] == best) | (pairs["readout_b"] == best)]
        raw += bool((mine["p_value"] <= 0.05).any())
        low, high = summary.loc[0, ["ci_low", "ci_high"]]
        own += low <= TRUE_ACCURACY <= high
        one = _study(rng, 1, seeds, own_split=False)
        _, low, high = t_interval(one["test_accuracy"])
        shared += low <= TRUE_ACCURACY <= high
        _, low, high = t_interval(one["test_accuracy"], floor_n=N_TEST)
        added += low <= TRUE_ACCURACY <= high
    return {"worse (Holm)": holm / replicates, "worse (uncorrected)": raw / replicates,
            "coverage (own splits)": own / replicates,
            "coverage (one shared split)": shared / replicates,
            "coverage (shared split, binomial added)": added / replicates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    args = parser.parse_args()
    for readouts, seeds in ((5, 5), (5, 3), (2, 3), (8, 5)):
        started = time.perf_counter()
        rates = _setting(np.random.default_rng(readouts * 10 + seeds), args.replicates,
                         readouts, seeds)
        shown = ", ".join(f"{k} {v:.3f}" for k, v in rates.items())
        print(f"{readouts} readouts x {seeds} seeds, {args.replicates} replicates: {shown} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
