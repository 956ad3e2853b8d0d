"""Cell-level numbers: H(label) and the bits clip, degenerate controls withholding
selectivity, and how well a view remembers the control's key."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from probe_rnn.probing import run_probes
from probe_rnn.probing.cellstats import clip_bits, label_entropy, withheld
from probe_rnn.probing.controls import DEGENERATE_CONTROL
from tests.unit.probing.probing_support import ArrayStore, meta_for


def _run(store: ArrayStore, views: list[str], **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_probes({"trained": store}, views=views, tasks=["label"], folds=5,
                          mdl=False, **kw)


def _metric(df, view: str, metric: str):
    return df[(df["view"] == view) & (df["metric"] == metric) & df["t"].isna()].iloc[0]


def test_label_entropy_is_scipys_entropy_and_bits_intervals_stop_there() -> None:
    rng = np.random.default_rng(0)
    n = 60
    y = rng.random(n) < 0.3
    X = rng.normal(size=(n, 4))
    X[:, 0] += np.where(y, 6.0, -6.0)  # separable: bits near H(label), a wide K-fold interval
    labels = list(np.where(y, "a", "b"))
    df = _run(ArrayStore(meta_for([f"s{i}" for i in range(n)], labels), {"v": X}), ["v"],
              control=False)
    h = _metric(df, "v", "label_entropy")
    _, counts = np.unique(labels, return_counts=True)
    assert h["value"] == pytest.approx(stats.entropy(counts, base=2))
    assert np.isnan(h["ci_low"]) and np.isnan(h["ci_high"])
    bits = _metric(df, "v", "bits")
    assert bits["ci_high"] <= max(h["value"], bits["value"])
    assert bits["ci_low"] <= bits["value"] <= bits["ci_high"]
    # the clip itself, against hand values: only the ends above H move
    assert clip_bits({"bits": (0.605, 0.027, 1.183), "label_entropy": (1.0, np.nan, np.nan)}
                     )["bits"] == (0.605, 0.027, 1.0)
    # a point above H(label) (held-out H(Y) above the plug-in entropy) stays inside: the
    # demo's first-token cell, 3.1767 [3.0983, 3.1749] before
    assert clip_bits({"bits": (3.1767, 3.0983, 3.2101), "label_entropy": (3.1749, 0, 0)}
                     )["bits"] == (3.1767, 3.0983, 3.1767)
    assert clip_bits({"bits": (3.19, 3.18, 3.21), "label_entropy": (3.1749, 0, 0)}
                     )["bits"] == (3.19, 3.18, 3.19)
    assert label_entropy(np.array(["x"] * 5)) == 0.0


def _first_token_store(n: int, share_the: float, seed: int = 0) -> ArrayStore:
    """Sentences starting with "the" (share ``share_the``) or one of 8 other words; view
    ``key`` is a one-hot of the first word, view ``noise`` is Gaussian; the label is random."""
    rng = np.random.default_rng(seed)
    words = np.array(["the", "a", "one", "my", "his", "her", "our", "this", "that"])
    first = np.where(rng.random(n) < share_the, 0, rng.integers(1, len(words), n))
    texts = [f"{words[f]} w{i}" for i, f in enumerate(first)]
    meta = meta_for(texts, list(rng.choice(["pos", "neg"], size=n)))
    meta["tokens"] = [t.split() for t in texts]
    onehot = np.eye(len(words))[first] + 0.01 * rng.normal(size=(n, len(words)))
    return ArrayStore(meta, {"key": onehot, "noise": rng.normal(size=(n, len(words)))})


def test_control_key_accuracy_is_how_well_the_view_remembers_the_first_token() -> None:
    st = _first_token_store(300, share_the=0.3)
    df = _run(st, ["key", "noise"])
    first = np.array([t[0] for t in st.meta["tokens"]])
    _, counts = np.unique(first, return_counts=True)
    assert _metric(df, "key", "control_key_accuracy")["value"] > 0.98  # one-hot: read exactly
    noise = _metric(df, "noise", "control_key_accuracy")
    assert noise["value"] < counts.max() / len(first) + 0.08  # about the key's majority share
    majority = _metric(df, "key", "control_majority")["value"]
    assert majority < DEGENERATE_CONTROL and np.isfinite(_metric(df, "key", "selectivity")["value"])
    records = {r["view"]: r for r in df.attrs["cell_records"]}
    assert records["key"]["reason"] == ""


def test_a_degenerate_control_withholds_selectivity_and_says_why() -> None:
    st = _first_token_store(300, share_the=0.95)
    df = _run(st, ["key"])
    majority = _metric(df, "key", "control_majority")["value"]
    assert majority >= DEGENERATE_CONTROL
    sel = _metric(df, "key", "selectivity")
    assert np.isnan(sel["value"]) and np.isnan(sel["ci_low"])
    assert np.isfinite(_metric(df, "key", "control_accuracy")["value"])
    (rec,) = df.attrs["cell_records"]
    assert rec["reason"].startswith("selectivity withheld: ") and "one class" in rec["reason"]
    assert withheld({"selectivity": 0.2}, 0.5) == {"selectivity": 0.2}
    assert np.isnan(withheld({"selectivity": 0.2}, 0.9)["selectivity"])
