"""Benchmark: the default probing run on ``names-kind`` and the per-fit overhead of our probe.

Trains a small LSTM briefly on a seeded sample of ``names-kind`` (US first names vs surnames),
captures its sentence views into a temporary state store, then

1. times ``run_probes`` with its defaults (every sentence view, label + sentence tasks,
   logistic, 5 folds, control task, MDL) and prints rows, views, fits and wall time;
2. on one matrix (``output@last`` × label), times ``LogisticProbe(C=c).fit`` against a bare
   ``LogisticRegression(C=c).fit`` on the same matrix (raw, and pre-standardised) with the same
   ``C`` (the one the tuned probe picks), and compares held-out accuracy.

Target: per-fit overhead ≤ 1.2× at equal accuracy (±0.5 points).

    python tests/benchmarks/bench_probe.py [--rows 3000] [--epochs 2] [--jobs 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from probe_rnn.capture import capture_states
from probe_rnn.data import load_dataset
from probe_rnn.models import Architecture, TrainBudget, train
from probe_rnn.probing import LogisticProbe, headline_table, run_probes
from probe_rnn.probing.splits import group_ids, group_kfold


def _timed(candidates: dict[str, object], repeats: int) -> dict[str, float]:
    """Median seconds per candidate, measured interleaved (fair under a fluctuating load)."""
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(v) for name, v in times.items()}


def _overhead(X: np.ndarray, y: np.ndarray, repeats: int) -> None:
    tr, te = group_kfold(np.arange(len(y)), 5, seed=0)[0]
    with warnings.catch_warnings(), threadpool_limits(limits=1):  # as the runner's jobs run
        warnings.simplefilter("ignore")
        C = LogisticProbe().fit(X[tr], y[tr]).C_
        scaler = StandardScaler().fit(X[tr])
        Xs_tr, Xs_te = scaler.transform(X[tr]), scaler.transform(X[te])
        X_tr, y_tr = X[tr], y[tr]
        t = _timed({
            "ours": lambda: LogisticProbe(C=C).fit(X_tr, y_tr),
            "raw": lambda: LogisticRegression(C=C, max_iter=1000).fit(X_tr, y_tr),
            "scaled": lambda: LogisticRegression(C=C, max_iter=1000).fit(Xs_tr, y_tr),
            "tuned": lambda: LogisticProbe().fit(X_tr, y_tr),
        }, repeats)
        acc_ours = float(np.mean(LogisticProbe(C=C).fit(X_tr, y_tr).predict(X[te]) == y[te]))
        acc_raw = float(np.mean(
            LogisticRegression(C=C, max_iter=1000).fit(X_tr, y_tr).predict(X[te]) == y[te]))
        acc_scaled = float(np.mean(
            LogisticRegression(C=C, max_iter=1000).fit(Xs_tr, y_tr).predict(Xs_te) == y[te]))
    print(f"per-fit matrix: output@last x label, train {len(tr)} x {X.shape[1]}, C={C} (tuned), "
          f"median of {repeats} interleaved repeats, 1 BLAS thread for all")
    print(f"  LogisticProbe(C) fit       {t['ours'] * 1e3:8.1f} ms   acc {acc_ours:.4f}")
    print(f"  bare LR(C) on raw X        {t['raw'] * 1e3:8.1f} ms   acc {acc_raw:.4f}   "
          f"ratio {t['ours'] / t['raw']:.2f}x")
    print(f"  bare LR(C) on scaled X     {t['scaled'] * 1e3:8.1f} ms   acc {acc_scaled:.4f}   "
          f"ratio {t['ours'] / t['scaled']:.2f}x")
    print(f"  LogisticProbe() tuned fit  {t['tuned'] * 1e3:8.1f} ms   "
          f"(C search over 4 values + refit: {t['tuned'] / t['scaled']:.2f}x a bare fit)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000, help="rows probed (seeded sample)")
    parser.add_argument("--train-rows", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    torch.set_num_threads(1)

    df = load_dataset("names-kind", seed=0)
    sample = df.sample(n=min(len(df), args.train_rows + args.rows), random_state=0)
    train_df = sample.iloc[: args.train_rows].copy()
    probe_df = sample.iloc[args.train_rows:].drop(columns=["split"]).reset_index(drop=True)
    start = time.perf_counter()
    result = train(train_df, Architecture(hidden=32, embedding_dim=32),
                   TrainBudget(epochs=args.epochs), seed=0)
    print(f"trained LSTM(32) on {len(train_df)} rows in {time.perf_counter() - start:.1f}s, "
          f"test accuracy {result.test_accuracy:.3f}")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        store = capture_states(result.bundle, probe_df, Path(tmp) / "states", dtype="float32")
        print(f"captured {len(probe_df)} rows in {time.perf_counter() - start:.1f}s")

        fits = {"n": 0}
        original = LogisticRegression.fit

        def counting_fit(self, *a, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
            fits["n"] += 1
            return original(self, *a, **kw)

        LogisticRegression.fit = counting_fit  # counts only in this process (jobs=1)
        start = time.perf_counter()
        res = run_probes({"trained": store}, jobs=args.jobs)
        wall = time.perf_counter() - start
        LogisticRegression.fit = original
        views = sorted(set(res["view"]))
        combos = res[["view", "task", "probe"]].drop_duplicates()
        n_fits = fits["n"] if args.jobs == 1 else 0
        print(f"per LogisticRegression fit in the run: {wall / max(n_fits, 1) * 1e3:.1f} ms "
              "(all fits: C search, refits, controls, MDL blocks)")
        print(f"default run: rows {len(probe_df)}, views {len(views)} ({', '.join(views)}), "
              f"tasks {res['task'].nunique()}, (view, task) pairs {len(combos)}, "
              f"LogisticRegression fits {fits['n'] if args.jobs == 1 else 'n/a (jobs>1)'}, "
              f"wall {wall:.1f}s, results rows {len(res)}")
        from rich.console import Console

        Console(width=150).print(headline_table(res))

        X = np.asarray(store.sentence("output@last"), dtype=np.float64)
        y = store.meta["label"].astype(str).to_numpy()
        assert len(group_ids(store.meta["text"].to_numpy())) == len(y)
        _overhead(X, y, args.repeats)


if __name__ == "__main__":
    main()
