"""probe-rnn: probe and interpret trained recurrent models (RNN, LSTM, GRU).

The pipeline, in the order of the subpackages: ``data`` (tables, tokenizers, bundled datasets)
-> ``models`` (reference classifiers, checkpoints, adapters) -> ``capture`` (exact per-step
states, views, on-disk store) -> ``probing`` / ``attribution`` -> ``report`` (one HTML page).

Public names are imported lazily so ``import probe_rnn`` stays light; every name in
``__all__`` resolves on first access. ``capture`` is the subpackage ``probe_rnn.capture``,
which is itself callable as the capture function: ``capture(bundle, df, out_dir)`` and
``capture.StateStore`` both work, whatever was imported first.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # data
    "read_table": "probe_rnn.data",
    "load_dataset": "probe_rnn.data",
    "list_datasets": "probe_rnn.data",
    "Tokenizer": "probe_rnn.data",
    # models
    "ModelConfig": "probe_rnn.models",
    "RNNClassifier": "probe_rnn.models",
    "ModelBundle": "probe_rnn.models",
    "load_model": "probe_rnn.models",
    "save_checkpoint": "probe_rnn.models",
    "train": "probe_rnn.models",
    # capture
    "record": "probe_rnn.capture",
    "RecurrentStates": "probe_rnn.capture",
    "capture": "probe_rnn.capture",
    "StateStore": "probe_rnn.capture",
    "diagnose": "probe_rnn.capture",
    # probing
    "run_probes": "probe_rnn.probing",
    # attribution
    "attribute": "probe_rnn.attribution",
    # report
    "build_report": "probe_rnn.report",
    # studies
    "compare_readouts": "probe_rnn.studies",
    # plugins and errors
    "register_probe": "probe_rnn.plugins",
    "register_task": "probe_rnn.plugins",
    "register_adapter": "probe_rnn.plugins",
    "ProbeRnnError": "probe_rnn.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'probe_rnn' has no attribute {name!r}")
    if module == f"{__name__}.{name}":  # a subpackage exported under its own name
        value = importlib.import_module(module)
    else:
        value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
