"""Simulations with a known answer for the probing protocol (used by tests and the benchmark).

A view is Gaussian features, shape (sentences, dim), whose first dimension is shifted by
``±shift / 2`` with a binary label (share ``p`` of class "a"): the label is linearly decodable
and the Bayes accuracy is known, but what a cell *estimates* is the expected held-out accuracy
(and usable bits) of a logistic probe trained on the cell's ``n_train`` sentences.
:func:`truth` computes that answer independently of the cell: fresh training sets of that size
from the same distribution, each probe tuned as a cell tunes it, scored on a large fresh test
set with the same estimators, averaged. A cell's interval "covers" when it holds that mean.

Two views drawn independently from the same distribution are exchangeable: their expected
accuracy and bits are equal, so a paired difference that excludes 0 is a false positive.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from probing_support import ArrayStore, meta_for

from probe_rnn.probing import run_probes
from probe_rnn.probing.intervals import difference
from probe_rnn.probing.measures import usable_bits
from probe_rnn.probing.probes import LogisticProbe


@dataclass(frozen=True)
class World:
    """The distribution of one simulated view and label."""

    dim: int = 8
    shift: float = 1.2
    p: float = 0.5

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` sentences: features (n, dim) and labels (n,) of "a"/"b"."""
        is_a = rng.random(n) < self.p
        X = rng.normal(size=(n, self.dim))
        X[:, 0] += np.where(is_a, self.shift / 2, -self.shift / 2)
        return X, np.where(is_a, "a", "b").astype(object)


def truth(world: World, n_train: int, fits: int = 60, n_test: int = 20_000,
          seed: int = 12345) -> dict[str, float]:
    """Expected held-out accuracy and usable bits of a tuned logistic probe trained on
    ``n_train`` fresh sentences (mean over ``fits`` training sets, each scored on ``n_test``
    fresh sentences)."""
    rng = np.random.default_rng(seed)
    X_te, y_te = world.draw(n_test, rng)
    acc, bits = [], []
    for i in range(fits):
        X, y = world.draw(n_train, rng)
        probe = LogisticProbe(random_state=i).fit(X, y)
        acc.append(float(np.mean(probe.predict(X_te) == y_te)))
        bits.append(usable_bits(y, y_te, probe.predict_proba(X_te), probe.classes_)[0])
    return {"accuracy": float(np.mean(acc)), "bits": float(np.mean(bits))}


def store(world: World, n: int, rng: np.random.Generator, views: tuple[str, ...] = ("a",)
          ) -> ArrayStore:
    """``n`` sentences with one shared label and an independent draw of features per view."""
    is_a = rng.random(n) < world.p
    y = np.where(is_a, "a", "b")
    arrays = {}
    for view in views:
        X = rng.normal(size=(n, world.dim))
        X[:, 0] += np.where(is_a, world.shift / 2, -world.shift / 2)
        arrays[view] = X
    return ArrayStore(meta_for([f"s{i}" for i in range(n)], list(y)), arrays)


def probe_store(st: ArrayStore, views: tuple[str, ...], precision: float, folds: int = 5,
                seed: int = 0):
    """Results and long table of the label task on ``views`` (no control, no MDL)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_probes({"trained": st}, views=list(views), tasks=["label"], folds=folds,
                          mdl=False, control=False, precision=precision, seed=seed,
                          return_values=True)


def _cell(view: str) -> dict[str, str]:
    return {"model": "trained", "view": view, "task": "label", "probe": "logistic"}


def replicate(world: World, n: int, precision: float, seed: int) -> dict[str, object]:
    """One simulated run with two exchangeable views: each view's (value, low, high) per
    metric, the paired differences a - b, the protocol and the cells' n_train."""
    rng = np.random.default_rng(seed)
    results, values = probe_store(store(world, n, rng, ("a", "b")), ("a", "b"), precision,
                                  seed=seed)
    out: dict[str, object] = {"protocol": results.attrs["cell_records"][0]["protocol"]}
    for metric in ("accuracy", "bits"):
        row = results[(results["view"] == "a") & (results["metric"] == metric)].iloc[0]
        out[metric] = (float(row["value"]), float(row["ci_low"]), float(row["ci_high"]))
        out["n_train"] = int(row["n_train"])
        out[f"diff_{metric}"] = difference(results, values, _cell("a"), _cell("b"), metric)
    return out


def rates(world: World, n: int, precision: float, replicates: int, n_train: int,
          first_seed: int = 0) -> dict[str, float]:
    """Coverage of the accuracy and bits intervals of view ``a`` against :func:`truth`, and the
    false-positive rate of the paired differences a - b, over ``replicates`` runs."""
    answer = truth(world, n_train)
    runs = [replicate(world, n, precision, first_seed + r) for r in range(replicates)]
    out = {"replicates": float(replicates), "truth_accuracy": answer["accuracy"],
           "truth_bits": answer["bits"]}
    for metric in ("accuracy", "bits"):
        out[f"coverage_{metric}"] = float(np.mean(
            [lo <= answer[metric] <= hi for _, lo, hi in (r[metric] for r in runs)]))
        out[f"false_positive_{metric}"] = float(np.mean(
            [bool(r[f"diff_{metric}"].excludes_zero()) for r in runs]))
    out["protocol"] = runs[0]["protocol"]
    out["n_train"] = float(np.mean([r["n_train"] for r in runs]))
    return out
