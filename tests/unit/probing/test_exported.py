"""The measured probe kept by its cell, rebuilt, and attributed: the probe attribution explains
the very probe whose numbers the report gives."""

from __future__ import annotations

import json

import numpy as np
import torch

from probe_rnn.attribution.probe_attribution import linear_probe_to_torch
from probe_rnn.probing import run_probes
from probe_rnn.probing.cells import Cell, build_problem
from probe_rnn.probing.exported import export_probe, import_probe
from probe_rnn.probing.probes import LogisticProbe
from probe_rnn.probing.tasks import get_task


def test_the_exported_probe_predicts_exactly_as_the_fitted_one() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)) * 3 + 2
    for labels in (["a", "b"], ["a", "b", "c"]):
        y = rng.choice(labels, size=300)
        X[:, 0] += (y == "a") * 2
        fitted = LogisticProbe().fit(X, y)
        rebuilt = import_probe(json.loads(json.dumps(export_probe(fitted, len(y)))))
        np.testing.assert_allclose(rebuilt.predict_proba(X), fitted.predict_proba(X), atol=1e-12)
        assert (rebuilt.predict(X) == fitted.predict(X)).all()
        # folded into torch: the decision scores of the same probe, hence its predictions
        layer, classes = linear_probe_to_torch(rebuilt)
        scores = layer(torch.as_tensor(X, dtype=torch.float32)).double().numpy()
        picked = (scores[:, 0] > 0).astype(int) if scores.shape[1] == 1 else scores.argmax(1)
        assert (classes[picked] == fitted.predict(X)).all()
        np.testing.assert_allclose(scores, fitted.decision_function(X).reshape(len(X), -1),
                                   rtol=1e-4, atol=1e-4)


def test_a_label_cell_keeps_its_probe_and_it_reads_the_cells_rows(lstm_stores, tmp_path
                                                                  ) -> None:
    from probe_rnn.probing.journal import Journal

    df = run_probes(lstm_stores, views=["output@last"], tasks=["label", "length"], folds=3,
                    mdl=False, journal=tmp_path / "journal")
    book = Journal(tmp_path / "journal")
    kept = {(r["model"], r["task"]): book.get(r["key"]).get("fitted_probe")
            for r in df.attrs["cell_records"]}
    assert kept[("trained", "length")] is None and kept[("random-init", "label")] is None
    probe = import_probe(kept[("trained", "label")])
    store = lstm_stores["trained"]
    cell = Cell("trained", store, "output@last", "sentence", get_task("label"), "logistic",
                "logistic", np.arange(len(store.meta)))
    p = build_problem(cell)
    assert kept[("trained", "label")]["rows"] == len(p.y)
    # the same probe as the cell's own refit on its rows with its C (an independent fit)
    own = LogisticProbe(C=probe.C_).fit(p.X, p.y)
    assert (probe.predict(p.X) == own.predict(p.X)).mean() > 0.99
    accuracy = df[(df["model"] == "trained") & (df["task"] == "label")
                  & (df["metric"] == "accuracy")]["value"].iloc[0]
    assert (probe.predict(p.X) == p.y).mean() >= accuracy - 0.05  # it is the measured probe
