"""The measured probe, kept: a cell's logistic probe as plain numbers, and back.

Probe attribution must explain the probe whose numbers the report gives, not a look-alike fitted
elsewhere on other features. So a cell of the label task on a sentence view refits its probe
once on all the cell's rows with the C the cell chose (what scikit-learn's ``refit`` does after
a cross-validated search; the folds' probes are that probe on 1 − 1/K of the rows) and keeps
it in its journal record (``fitted_probe``) as JSON numbers (:func:`export_probe`): the
standardisation (``mean_``, ``scale_``), the weights and intercepts, the classes and C.
:func:`import_probe` rebuilds a fitted :class:`~probe_rnn.probing.probes.LogisticProbe` from
them that predicts exactly as the original did; the attribution runner reads it (its own
scaling and weights).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from probe_rnn.probing.probes import LogisticProbe

EXPORT_FORMAT = "probe-rnn-logistic-probe/1"


def export_probe(probe: Any, rows: int) -> dict[str, Any] | None:
    """A fitted :class:`LogisticProbe` as JSON-ready numbers (None for any other probe)."""
    if type(probe) is not LogisticProbe or not hasattr(probe, "model_"):
        return None
    return {
        "format": EXPORT_FORMAT, "C": float(probe.C_), "rows": int(rows),
        "classes": [str(c) for c in probe.classes_.tolist()],
        "mean": np.asarray(probe.mean_, dtype=np.float64).tolist(),
        "scale": np.asarray(probe.scale_, dtype=np.float64).tolist(),
        "coef": np.asarray(probe.model_.coef_, dtype=np.float64).tolist(),
        "intercept": np.asarray(probe.model_.intercept_, dtype=np.float64).tolist(),
    }


def import_probe(numbers: dict[str, Any]) -> LogisticProbe:
    """The fitted :class:`LogisticProbe` that :func:`export_probe` wrote down."""
    if numbers.get("format") != EXPORT_FORMAT:
        raise ValueError(f"not an exported probe (format {numbers.get('format')!r})")
    probe = LogisticProbe(C=numbers["C"])
    probe.classes_ = np.asarray(numbers["classes"], dtype=object)
    probe.mean_ = np.asarray(numbers["mean"], dtype=np.float64)
    probe.scale_ = np.asarray(numbers["scale"], dtype=np.float64)
    probe.n_features_in_ = len(probe.mean_)
    probe.C_ = float(numbers["C"])
    model = LogisticRegression(C=probe.C_)
    model.coef_ = np.asarray(numbers["coef"], dtype=np.float64)
    model.intercept_ = np.asarray(numbers["intercept"], dtype=np.float64)
    model.classes_ = np.arange(len(probe.classes_))
    model.n_features_in_ = probe.n_features_in_
    probe.model_ = model
    probe.origin_ = (f"the measured probe: logistic, C={probe.C_:g}, refit on all "
                     f"{numbers['rows']} probed rows of its cell")
    return probe
