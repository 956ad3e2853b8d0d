"""A readout study built by hand (no training) for the answer, study and page tests."""

from __future__ import annotations

import pandas as pd

from probe_rnn.studies import OBJECTIVES, ReadoutStudy
from probe_rnn.studies.stats import (
    paired_differences,
    statistics_by_loss,
    summarize_runs,
    vs_best,
)

HOSTILE = '<script>window.PWNED=1</script> & "quotes" <img src=x onerror=alert(1)>'


def hand_study(acc: dict[str, list[float]], packed: bool = True, bidirectional: bool = True,
               probe: bool = True, best_epoch: int = 1) -> ReadoutStudy:
    runs = pd.DataFrame([
        {"readout": r, "seed": s, "dev_accuracy": v, "test_accuracy": v, "epochs_run": 2,
         "best_epoch": best_epoch if s == 0 else 1, "seconds": 1.0}
        for r, values in acc.items() for s, v in enumerate(values)])
    curves = pd.DataFrame([
        {"readout": r, "seed": s, "epoch": e, "train_loss": 1.0 / e, "dev_accuracy": v - 0.1 / e}
        for r, values in acc.items() for s, v in enumerate(values) for e in (1, 2)])
    order = list(acc)
    summary = summarize_runs(runs, order=order)
    pairs = paired_differences(runs, order=order)
    summary["vs_best"] = vs_best(summary, pairs)
    views = ["output@last", "output@-1", "h_n/L1/fwd", "h_n/L1/bwd"]
    probing = pd.DataFrame([
        {"readout": r, "seed": s, "view": v, "metric": m, "value": 0.5 + 0.01 * i,
         "ci_low": 0.4, "ci_high": 0.6}
        for r in order for s in range(len(acc[r])) for i, v in enumerate(views)
        for m in ("bits", "entropy_bits")]) if probe else pd.DataFrame(
        columns=["readout", "seed", "view", "metric", "value", "ci_low", "ci_high"])
    diagnosis = pd.DataFrame([
        {"module": "rnn", "check": "max |output@last - h_n top fwd|", "value": 0.0,
         "unit": "max |diff|", "explanation": "output@last equals h_n " + HOSTILE},
        {"module": "rnn", "check": "share output@-1 != output@last", "value": 0.62,
         "unit": "share of rows", "explanation": "62% differ"},
    ])
    settings = {"source": HOSTILE, "labels": ["<b>pos</b>", "neg"], "seeds": [0, 1, 2],
                "packed": packed, "bidirectional": bidirectional, "probe_views": views,
                "diagnosed": ["last", 0], "rnn": "lstm", "layers": 2, "hidden": 8,
                "epochs": 2, "probe": probe, "probe_rows": 60, "splits": {"train": 8}}
    return ReadoutStudy(runs, curves, summary, pairs, probing, diagnosis, settings)


TIED = {"last": [0.90, 0.91, 0.92], "hidden": [0.91, 0.90, 0.93],
        "mean": [0.88, 0.86, 0.89], "naive-last": [0.60, 0.62, 0.58]}


def objective_study(objective: str, scores: dict[tuple[str, str], list[float]],
                    **settings: object) -> ReadoutStudy:
    """A study of ``objective`` by hand: ``scores[(loss, readout)]`` is each seed's score
    (test and dev alike); ``settings`` go beside the objective and the seeds."""
    obj = OBJECTIVES[objective]
    seeds = range(len(next(iter(scores.values()))))
    runs = pd.DataFrame([{"readout": r, "loss": loss, "seed": s, obj.metric: v,
                          obj.dev_metric: v, "best_epoch": 1, "epochs_run": 3}
                         for (loss, r), vs in scores.items()
                         for s, v in zip(seeds, vs, strict=True)])
    names = tuple(dict.fromkeys(r for _, r in scores))
    summary, pairs = statistics_by_loss(runs, names, obj.metric)
    curves = runs.assign(epoch=1, train_loss=0.5)
    empty = pd.DataFrame(columns=["readout", "loss", "seed", "view", "metric", "value"])
    return ReadoutStudy(runs, curves, summary, pairs, empty, pd.DataFrame(),
                        {"objective": objective, "seeds": list(seeds), **settings})
