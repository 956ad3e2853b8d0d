"""Benchmark scripts, run as ``python tests/benchmarks/bench_<name>.py`` (pytest skips them)."""
