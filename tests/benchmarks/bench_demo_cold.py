"""Benchmark: the demo from cold and the report's re-render (issue 31: 60 s and 5 s).

Each demo run is the README's command, ``probe-rnn demo``, in a fresh interpreter, into a new
folder (so the model, the readouts study, the stores and every stage are made anew); its
stage lines give the time per stage. ``--cache cold`` first empties probe-rnn's cache folder
(numba's compiled umap-learn code: the first run on a new machine, without ``.ci/setup``);
``--cache warm`` (the default) keeps it, as after ``.ci/setup`` or any earlier run. Then
``probe-rnn report`` re-renders the last demo's folder ``--repeats`` times from an empty
folder (no ``./probes`` to import) and the median is printed. The 1-minute load average
before and after is printed: on shared cores the numbers mean little without it.

``--rerender DIR`` skips the demos and re-renders a copy of the run folder ``DIR`` (an earlier
demo's) ``--repeats`` times, so the re-render can be measured alone.

Run: ``python tests/benchmarks/bench_demo_cold.py [--runs 3] [--cache warm|cold]
[--repeats 5] [--rerender DIR]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_TARGET_S, REPORT_TARGET_S = 60.0, 5.0
_STAGE = re.compile(r"^(\w+)\s+(\d+(?:\.\d+)?) s\b")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}


def _demo(out: Path, cwd: Path) -> tuple[float, dict[str, float]]:
    """One ``probe-rnn demo`` into ``out``: wall seconds and seconds per stage line (stderr)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "probe_rnn", "demo", "--out", str(out),
                           "--quiet"], cwd=cwd, env=_env(), capture_output=True, text=True,
                          check=True)
    wall = time.perf_counter() - start
    stages = {m.group(1): float(m.group(2)) for line in done.stderr.splitlines()
              if (m := _STAGE.match(line))}
    return wall, stages


def _report(run: Path, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "probe_rnn", "report", str(run)], cwd=cwd,
                   env=_env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    """Run the demos and the re-renders; print one line each and the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="demo runs")
    parser.add_argument("--cache", choices=("warm", "cold"), default="warm",
                        help="keep probe-rnn's cache folder, or empty it before each demo")
    parser.add_argument("--repeats", type=int, default=5, help="report re-renders (median)")
    parser.add_argument("--rerender", type=Path, help="only re-render a copy of this run folder")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from probe_rnn.caches import cache_folder

    print(f"{os.cpu_count()} CPUs, 1-minute load {os.getloadavg()[0]:.2f} before; cache "
          f"{args.cache} ({cache_folder()})")
    if args.rerender:
        with tempfile.TemporaryDirectory() as scratch:
            run = Path(scratch) / "run"
            shutil.copytree(args.rerender, run)
            renders = [_report(run, Path(scratch)) for _ in range(args.repeats)]
        _print_renders(renders)
        return
    walls = []
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for i in range(args.runs):
            if args.cache == "cold":
                shutil.rmtree(cache_folder(), ignore_errors=True)
            wall, stages = _demo(work / f"demo{i}", work)
            walls.append(wall)
            parts = "  ".join(f"{name} {sec:.1f}" for name, sec in stages.items())
            print(f"demo {i + 1}: {wall:6.1f} s  ({parts})", flush=True)
        renders = [_report(work / f"demo{args.runs - 1}", work) for _ in range(args.repeats)]
    print(f"demo: median {statistics.median(walls):.1f} s over {len(walls)} runs "
          f"(target {DEMO_TARGET_S:.0f} s: {statistics.median(walls) / DEMO_TARGET_S:.2f}x)")
    _print_renders(renders)


def _print_renders(renders: list[float]) -> None:
    print(f"report re-render: median {statistics.median(renders):.2f} s of "
          f"{', '.join(f'{r:.2f}' for r in renders)} (target {REPORT_TARGET_S:.0f} s)")
    print(f"1-minute load {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
