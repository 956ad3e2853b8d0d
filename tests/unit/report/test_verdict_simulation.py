"""Simulations with a known answer for the findings' corrected verdicts.

* The timestep scan on pure noise (labels independent of the states, 50/50 labels, where a
  noise probe's accuracy sits right at the majority rate, and 78/22 labels as in the demo;
  16 positions, 5 folds, a logistic probe fitted per fold on every token, scored per position
  as the runner does): "first clearly exceeds the baseline" must fire in at most 0.07 of runs
  (measured: 200 replicates each).
* Twelve equally informative views (the same signal, independent noise): "within noise of
  the best" must keep every equal view (none "measurably worse") in at least 0.93 of runs.

Each replicate builds the results and long tables the runner would write and asks the
report's own finding functions for their verdicts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from factory import RESULT_COLUMNS, result_row
from sklearn.linear_model import LogisticRegression

from probe_rnn.probing.intervals import ci95
from probe_rnn.report.findings import Cells, _recommendation
from probe_rnn.report.step_findings import timestep_findings

pytestmark = pytest.mark.slow  # about 2-3 min on 2 shared cores

FOLDS = 5
SCAN_REPLICATES = 200
TIE_REPLICATES = 200


def _frames(rows: list[dict], values: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    results["t"] = results["t"].astype("Int64")
    long = pd.DataFrame(values)
    long["t"] = long["t"].astype("Int64")
    return results, long


def _value_rows(view: str, metric: str, per_split: list[float], t: int | None) -> list[dict]:
    return [{"model": "trained", "view": view, "task": "label", "probe": "logistic",
             "protocol": "kfold", "pairing": "same", "seed": 0, "split": k, "draw": -1,
             "t": t, "metric": metric, "value": v} for k, v in enumerate(per_split)]


def _result(view: str, metric: str, per_split: list[float], t: int | None, n_train: int,
            n_test: int, kind: str = "sentence") -> dict:
    mean, lo, hi = ci95(np.asarray(per_split), n_test / n_train)
    row = result_row(view, metric, mean, lo, hi, t=t, view_kind=kind)
    return {**row, "n_train": n_train, "n_test": n_test, "folds": FOLDS}


def _noise_scan(rng: np.random.Generator, share: float = 0.78
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One run of a per-step view that carries nothing about the label (``share`` of the
    labels are 1)."""
    n, positions = 100, 16
    lengths = rng.integers(4, positions + 1, size=n)
    y = (rng.random(n) < share).astype(int)
    fold = rng.permutation(np.arange(n) % FOLDS)
    sent = np.repeat(np.arange(n), lengths)
    t_of = np.concatenate([np.arange(k) for k in lengths])
    x = rng.normal(size=(len(sent), 6))
    acc = {t: [] for t in range(positions)}
    maj = {t: [] for t in range(positions)}
    for k in range(FOLDS):
        tr, te = fold[sent] != k, fold[sent] == k
        pred = LogisticRegression().fit(x[tr], y[sent[tr]]).predict(x[te])
        for t in range(positions):
            at_te, at_tr = t_of[te] == t, t_of[tr] == t
            if not at_te.any() or not at_tr.any():
                continue
            truth = y[sent[te][at_te]]
            majority = np.bincount(y[sent[tr][at_tr]], minlength=2).argmax()
            acc[t].append(float(np.mean(pred[at_te] == truth)))
            maj[t].append(float(np.mean(truth == majority)))
    rows, values = [], []
    n_train = int(n * (FOLDS - 1) / FOLDS)
    for t in range(positions):
        if len(acc[t]) == FOLDS:
            n_test = int((lengths > t).sum() / FOLDS)
            rows += [_result("hidden/L0/fwd", "accuracy", acc[t], t, n_train, n_test, "token"),
                     _result("hidden/L0/fwd", "majority_accuracy", maj[t], t, n_train, n_test,
                             "token")]
            values += (_value_rows("hidden/L0/fwd", "accuracy", acc[t], t)
                       + _value_rows("hidden/L0/fwd", "majority_accuracy", maj[t], t))
    return _frames(rows, values)


@pytest.mark.parametrize("share", [0.5, 0.78])
def test_timestep_scan_on_noise_fires_rarely(share: float) -> None:
    rng = np.random.default_rng(2025)
    fired = 0
    for _ in range(SCAN_REPLICATES):
        results, values = _noise_scan(rng, share)
        (text, claims), = timestep_findings(results, values, bidirectional=False)
        assert len(claims) >= 12  # every position scanned is one Holm-corrected claim
        fired += "first clearly exceeds" in text
    rate = fired / SCAN_REPLICATES
    print(f"labels {share}: the scan fired in {fired} of {SCAN_REPLICATES} noise runs")
    assert rate <= 0.07, f"fired in {fired} of {SCAN_REPLICATES} noise runs"


def _equal_views(rng: np.random.Generator, views: int = 12) -> tuple[pd.DataFrame,
                                                                      pd.DataFrame]:
    """One run of ``views`` views with the same label information (signal + own noise),
    scored per fold by a nearest-class-mean probe."""
    n = 150
    y = rng.integers(0, 2, size=n)
    fold = rng.permutation(np.arange(n) % FOLDS)
    rows, values = [], []
    for v in range(views):
        x = y[:, None] * 0.6 + rng.normal(size=(n, 4))
        per = []
        for k in range(FOLDS):
            tr, te = fold != k, fold == k
            means = np.stack([x[tr & (y == c)].mean(0) for c in (0, 1)])
            pred = ((x[te, None, :] - means[None]) ** 2).sum(-1).argmin(1)
            per.append(float(np.mean(pred == y[te])))
        name = f"view{v}"
        rows.append(_result(name, "accuracy", per, None, n * 4 // 5, n // 5))
        values += _value_rows(name, "accuracy", per, None)
    return _frames(rows, values)


def test_within_noise_of_the_best_keeps_equal_views() -> None:
    rng = np.random.default_rng(7)
    kept = 0
    for _ in range(TIE_REPLICATES):
        results, values = _equal_views(rng)
        (finding,) = _recommendation(results, {}, None, Cells(results, values))
        assert len(finding.claims) == 11  # every other view against the selected best
        kept += all(c.verdict == "within noise" for c in finding.claims)
    rate = kept / TIE_REPLICATES
    assert rate >= 0.93, f"kept every equal view in {kept} of {TIE_REPLICATES} runs"
