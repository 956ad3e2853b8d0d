"""Build small run folders by hand, following CONTRACTS.md ("Run folder", "run.json",
"Results table", "Attribution outputs", "StateStore"), for the report tests.

The states are planted so the facts are known: the forward half of ``output@last`` equals
``h_n/L{top}/fwd`` exactly, its backward half differs from ``h_n/L{top}/bwd``, and ``output@-1``
differs from ``output@last`` exactly for rows shorter than the longest row; the diagnosis is
the real one measured on those planted states.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULT_COLUMNS = [
    "model", "view", "view_kind", "layer", "direction", "t", "task", "task_kind", "probe",
    "metric", "value", "ci_low", "ci_high", "chance", "n_train", "n_test", "folds", "seeds",
    "seed",
]
HOSTILE = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    "</script><script>window.__pwned=1</script>",
    "<b>bold</b> & <i>it</i>",
    "quote \" and ' apostrophe",
    "%{x} %{text} %{customdata[0]}",
    "$x$",
    "line one\nline two",
]


def result_row(view: str, metric: str, value: float, low: float | None = None,
               high: float | None = None, *, model: str = "trained", task: str = "label",
               t: int | None = None, view_kind: str = "sentence", probe: str = "logistic",
               task_kind: str = "classification", chance: float = 0.5) -> dict[str, Any]:
    """One results row in contract column order."""
    return {
        "model": model, "view": view, "view_kind": view_kind, "layer": -1, "direction": "",
        "t": t, "task": task, "task_kind": task_kind, "probe": probe, "metric": metric,
        "value": value, "ci_low": value - 0.02 if low is None else low,
        "ci_high": value + 0.02 if high is None else high, "chance": chance, "n_train": 80,
        "n_test": 20, "folds": 5, "seeds": 1, "seed": 0,
    }


def results_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as the tidy results table (``t`` nullable integer)."""
    df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    df["t"] = df["t"].astype("Int64")
    return df


def default_results(views: list[str], per_t: bool = True, random: bool = True) -> pd.DataFrame:
    """Plausible results for the given sentence views, token views and per-t curves."""
    rows = []
    for i, view in enumerate(views):
        acc = 0.9 - 0.05 * i if view != "output@-1" else 0.6
        bits = acc - 0.4
        for metric, value in (("accuracy", acc), ("bits", bits), ("entropy_bits", 1.0),
                              ("control_accuracy", 0.55), ("selectivity", acc - 0.55),
                              ("mdl_bits", 60 - 30 * bits), ("uniform_bits", 100.0),
                              ("compression", 100 / (60 - 30 * bits)),
                              ("majority_accuracy", 0.55)):
            rows.append(result_row(view, metric, value))
        rows.append(result_row(view, "accuracy", 0.7 - 0.3 * (i % 2), task="length",
                               chance=0.34))
        if random:
            rows.append(result_row(view, "accuracy", 0.6, model="random-init"))
            rows.append(result_row(view, "bits", 0.05, model="random-init"))
    for view in ("hidden/L0/fwd", "hidden/L1/fwd"):
        for k, task in enumerate(("current-token", "token-back-1", "token-back-2")):
            rows.append(result_row(view, "accuracy", 0.8 - 0.2 * k, task=task,
                                   view_kind="token", chance=0.2))
        if per_t:
            for t in (0, 1, 2, 3, 4, -1, -2):
                acc = min(0.95, 0.55 + 0.1 * t) if t >= 0 else 0.9
                for metric, value in (("accuracy", acc), ("bits", acc - 0.5),
                                      ("majority_accuracy", 0.55)):
                    rows.append(result_row(view, metric, value, t=t, view_kind="token"))
    return results_frame(rows)


def planted_diagnosis(views: dict[str, np.ndarray], lengths: np.ndarray, layers: int,
                      bidi: bool) -> pd.DataFrame:
    """The capture's diagnosis of the planted sentence views, measured by the real
    :class:`~probe_rnn.capture.diagnosis.ModuleDiagnosis` on a padded ``output`` built from them:
    ``output@last`` at each row's last step, zeros after it, and (bidirectional) ``h_n/bwd`` at
    step 0, where the backward pass ends."""
    from types import SimpleNamespace

    import torch

    from probe_rnn.capture.diagnosis import ModuleDiagnosis

    dirs = ("fwd", "bwd") if bidi else ("fwd",)
    h_n = torch.tensor(np.stack([views[f"h_n/L{layer}/{d}"] for layer in range(layers)
                                 for d in dirs]), dtype=torch.float32)
    last = torch.tensor(views["output@last"], dtype=torch.float32)
    rows, width = len(lengths), h_n.shape[-1]
    output = torch.zeros(rows, int(lengths.max()), last.shape[1])
    if bidi:
        output[:, 0, width:] = h_n[-1]
    output[torch.arange(rows), torch.as_tensor(lengths) - 1] = last
    states = SimpleNamespace(output=output, h_n=h_n, c_n=None, kind="lstm", num_layers=layers,
                             num_directions=len(dirs))
    diagnosis = ModuleDiagnosis()
    diagnosis.update(states, torch.as_tensor(lengths))
    return diagnosis.table("rnn")


def _write_store(folder: Path, texts: list[str], labels: list[str], layers: int, bidi: bool,
                 hidden: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tokens = [list(t) for t in texts]
    lengths = np.array([len(t) for t in tokens])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    n = len(texts)
    dirs = ("fwd", "bwd") if bidi else ("fwd",)
    views: dict[str, np.ndarray] = {}
    for layer in range(layers):
        for d in dirs:
            views[f"h_n/L{layer}/{d}"] = np.tanh(rng.normal(size=(n, hidden)))
    top = layers - 1
    label_ids = np.array([sorted(set(labels)).index(lab) for lab in labels])
    views[f"h_n/L{top}/fwd"][:, 0] = label_ids * 0.9 - 0.45  # the label is in the state
    last = [views[f"h_n/L{top}/fwd"]]
    if bidi:
        last.append(np.tanh(rng.normal(size=(n, hidden))))
    views["output@last"] = np.concatenate(last, axis=1)
    naive = views["output@last"].copy()
    short = lengths < lengths.max()
    naive[short] = 0.0
    views["output@-1"] = naive
    views["mean(output)"] = np.tanh(rng.normal(size=(n, hidden * len(dirs))))
    token_views = {f"hidden/L{top}/fwd": np.tanh(rng.normal(size=(offsets[-1], hidden)))}
    (folder / "views").mkdir(parents=True)
    spec = {}
    for name, arr in {**views, **token_views}.items():
        file = name.replace("/", ".").replace("@", "_at_").replace("(", "_").replace(")", "")
        np.save(folder / "views" / f"{file}.npy", arr.astype(np.float16))
        spec[name] = {"file": f"views/{file}.npy",
                      "kind": "token" if name in token_views else "sentence",
                      "shape": list(arr.shape), "dtype": "float16"}
    np.save(folder / "offsets.npy", offsets.astype(np.int64))
    np.save(folder / "token_ids.npy", np.arange(offsets[-1], dtype=np.int64) % 7)
    preds = [labels[(i + 1) % n] if i % 5 == 0 else labels[i] for i in range(n)]
    meta = pd.DataFrame({
        "row": np.arange(n), "text": texts, "label": labels, "label_id": label_ids,
        "length": lengths, "split": ["train"] * n, "prediction": preds,
        "prediction_id": [sorted(set(labels)).index(p) for p in preds],
        "probability": np.full(n, 0.8),
        "correct": [p == lab for p, lab in zip(preds, labels, strict=True)],
        "tokens": tokens,
    })
    meta.to_parquet(folder / "meta.parquet", index=False)
    manifest = {
        "format": "probe-rnn-states", "format_version": 3, "dtype": "float16",
        "module": "rnn", "module_type": "LSTM", "views": spec,
        "files": {"meta": "meta.parquet", "offsets": "offsets.npy",
                  "token_ids": "token_ids.npy"},
        "data": {"rows": n, "tokens": int(offsets[-1])},
        "sha256": {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
                   for p in folder.rglob("*") if p.is_file()},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return planted_diagnosis(views, lengths, layers, bidi)


def _write_attribution(folder: Path, texts: list[str], labels: list[str], n: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    tok_rows, ex_rows, step_rows = [], [], []
    for row in range(min(n, len(texts))):
        text = texts[row]
        values = rng.normal(size=len(text))
        values[0] += 2.0  # the first token dominates
        for pos, (ch, a) in enumerate(zip(text, values, strict=True)):
            tok_rows.append({"row": row, "position": pos, "token": ch, "attribution": a,
                             "target_label": labels[row], "prediction": labels[row],
                             "text": text, "method": "integrated-gradients"})
            step_rows.append({"row": row, "layer": 1, "direction": "fwd", "state": "hidden",
                              "t": pos, "t_from_end": len(text) - 1 - pos, "attribution": a,
                              "share": abs(a) / np.abs(values).sum()})
        ex_rows.append({"row": row, "text": text, "label": labels[row],
                        "prediction": labels[row], "probability": 0.8, "f_x": 1.0,
                        "f_baseline": 0.1, "attribution_sum": 0.9, "delta": 0.001,
                        "completeness_error": 0.001 * (row + 1)})
    pd.DataFrame(tok_rows).to_parquet(folder / "tokens.parquet", index=False)
    pd.DataFrame(ex_rows).to_parquet(folder / "examples.parquet", index=False)
    pd.DataFrame(step_rows).to_parquet(folder / "steps.parquet", index=False)
    pd.DataFrame({"view": ["h_n/L1/fwd"] * 3, "neuron": [0, 5, 2], "score": [0.9, 0.4, 0.2],
                  "rank": [1, 2, 3], "probe_weight": [1.5, -0.3, 0.1],
                  "label": [labels[0]] * 3}).to_parquet(folder / "neurons.parquet")
    pd.DataFrame({"what": ["tokens"], "view": [""], "layer": [-1], "direction": [""],
                  "step": [""], "share": [1.0], "completeness_error": [0.002],
                  "n": [n]}).to_csv(folder / "summary.csv", index=False)
    (folder / "manifest.json").write_text(json.dumps({"format": "probe-rnn-attribution"}))


def make_run(folder: Path, texts: list[str] | None = None, *, n: int = 60, layers: int = 2,
             bidi: bool = True, hidden: int = 8, attribution: bool = True,
             results: pd.DataFrame | None = None, seed: int = 0) -> Path:
    """Write a complete run folder into ``folder`` and return it."""
    rng = np.random.default_rng(seed)
    if texts is None:
        alphabet = list("abcdefgh")
        texts = ["".join(rng.choice(alphabet, size=int(rng.integers(3, 9)))) for _ in range(n)]
    labels = ["yes" if t[0] in "abcd<" else "no" for t in texts]
    folder.mkdir(parents=True, exist_ok=True)
    top = layers - 1
    views = ["output@last", "output@-1", f"h_n/L{top}/fwd"]
    views += [f"h_n/L{top}/bwd"] if bidi else []
    views += ["mean(output)"]
    results = default_results(views) if results is None else results
    results.to_parquet(folder / "results.parquet", index=False)
    results.to_csv(folder / "results.csv", index=False)
    run = {
        "name": folder.name, "created": "2026-01-01T00:00:00+00:00", "probe_rnn_version": "0.1.0",
        "seed": 0,
        "model": {"source": "model.pt", "checksum": "0" * 64,
                  "config": {"rnn": "lstm", "layers": layers, "hidden": hidden,
                             "bidirectional": bidi, "readout": "last", "embedding_dim": 8},
                  "labels": sorted(set(labels)), "tokenizer": {"kind": "char", "vocab_size": 12},
                  "meta": {"dataset": "planted", "epochs": 3, "dev_accuracy": 0.9},
                  "recurrent_modules": [{"name": "rnn", "type": "LSTM", "layers": layers,
                                         "directions": 2 if bidi else 1, "hidden": hidden,
                                         "proj_size": 0, "parameters": 1234}]},
        "data": {"source": "dataset:planted", "rows": len(texts), "splits": {"train": len(texts)},
                 "label_counts": pd.Series(labels).value_counts().to_dict(),
                 "checksum": "1" * 64},
        "arguments": {"command": "probe"}, "stages": {"capture": {"seconds": 1.0}},
    }
    (folder / "run.json").write_text(json.dumps(run))
    diagnosis = _write_store(folder / "states", texts, labels, layers, bidi, hidden, seed)
    diagnosis.to_csv(folder / "diagnosis.csv", index=False)
    if attribution:
        _write_attribution(folder / "attribution", texts, labels, 10)
    return folder


def pipeline_run(folder: Path, df: pd.DataFrame, *, random_baseline: bool = True,
                 attribution_rows: int = 4, seed: int = 0) -> Path:
    """A real run folder: train a tiny 2-layer BiLSTM on ``df`` and run the lead's pipeline
    (capture, diagnosis, probing, attribution) with few views and tasks, without the report."""
    import torch

    from probe_rnn.models import Architecture, TrainBudget, train
    from probe_rnn.run.pipeline import probe
    from probe_rnn.run.settings import RunSettings

    torch.manual_seed(seed)
    trained = train(df, Architecture(rnn="lstm", layers=2, hidden=8, embedding_dim=8,
                                         bidirectional=True), TrainBudget(epochs=2), seed=seed)
    settings = RunSettings(
        folds=2, mdl=False, seed=seed, random_baseline=random_baseline,
        attribution_rows=attribution_rows, report=False,
        views=["output@last", "output@-1", "h_n/L1/fwd", "h_n/L1/bwd", "mean(output)",
               "hidden/L1/fwd"],
        tasks=["label", "length", "current-token", "token-back-1"],
    )
    probe(trained.bundle, df, folder, settings, source="test table")
    return folder
