"""Benchmark: the first ten seconds, ``probe-rnn --help``, ``datasets`` and ``plugins``.

Each command runs in a fresh interpreter (``python -m probe_rnn ...``, as the ``probe-rnn``
script does), ``--repeats`` times round-robin so a changing machine load hits all alike; the
median wall time is printed beside the target (issue 31: at most 1.5 s) and as a multiple of
``python -c pass`` (the interpreter's own start). ``plugins`` is timed twice: in an empty
folder (the built-ins and entry points) and in the repository root, where ``./probes`` (the
example plugins, which import scikit-learn) is imported as a user's folder would be.
The 1-minute load average before and after is printed: the numbers mean little without it.

Run: ``python tests/benchmarks/bench_first_contact.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET_S = 1.5


def _wall(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    """Time the commands and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per command (median)")
    repeats = parser.parse_args().repeats
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    cli = [sys.executable, "-m", "probe_rnn"]
    with tempfile.TemporaryDirectory() as empty:
        cases = {
            "python -c pass": ([sys.executable, "-c", "pass"], REPO),
            "probe-rnn --help": ([*cli, "--help"], REPO),
            "probe-rnn datasets": ([*cli, "datasets"], REPO),
            "probe-rnn plugins (built-ins)": ([*cli, "plugins"], Path(empty)),
            "probe-rnn plugins (+ ./probes)": ([*cli, "plugins"], REPO),
        }
        load_before = os.getloadavg()[0]
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(repeats):
            for name, (args, cwd) in cases.items():
                times[name].append(_wall(args, cwd, env))
        load_after = os.getloadavg()[0]
    base = statistics.median(times["python -c pass"])
    print(f"{repeats} runs each, median wall time; {os.cpu_count()} CPUs, 1-minute load "
          f"{load_before:.2f} before, {load_after:.2f} after")
    print(f"{'command':34s} {'median s':>9s} {'x python':>9s} {'target s':>9s}")
    for name, walls in times.items():
        median = statistics.median(walls)
        target = "" if name.startswith("python") else f"{TARGET_S:9.1f}"
        verdict = "" if not target else ("  ok" if median <= TARGET_S else "  OVER")
        print(f"{name:34s} {median:9.3f} {median / base:9.1f} {target:>9s}{verdict}")


if __name__ == "__main__":
    main()
