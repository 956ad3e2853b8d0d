"""probe-rnn: probe and interpret trained recurrent models (RNN, LSTM, GRU).

The face of the library is the handful of names below; everything else is implementation.

    >>> import probe_rnn
    >>> result = probe_rnn.probe("m.pt", "names", "runs/names", tasks=["label"], folds=3)
    >>> result.results.head()          # the tidy results table; result.report_path the page

The pipeline, in the order of the subpackages: ``data`` (tables, tokenizers, bundled datasets)
-> ``models`` (reference classifiers, checkpoints, adapters) -> ``capture`` (exact per-step
states, views, on-disk store) -> ``probing`` / ``attribution`` -> ``report`` (one HTML page);
``studies`` trains and compares readouts; ``run`` is the ``probe`` run that strings the stages
together; ``commands`` and ``cli`` are the command line.

Names are imported on first access, so ``import probe_rnn`` stays light (no torch).
"""

from __future__ import annotations

from probe_rnn.lazy_exports import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # the run
    "probe": "probe_rnn.run.pipeline",
    "RunSettings": "probe_rnn.run.settings",
    "RunResult": "probe_rnn.run.pipeline",
    "read_run": "probe_rnn.run_folder",
    # data and models
    "load_dataset": "probe_rnn.data",
    "list_datasets": "probe_rnn.data",
    "read_table": "probe_rnn.data",
    "load_model": "probe_rnn.models",
    "train": "probe_rnn.models",
    "Architecture": "probe_rnn.models",
    "TrainBudget": "probe_rnn.models",
    # the stages, each a function behind a command
    "record": "probe_rnn.capture",
    "capture_states": "probe_rnn.capture",
    "StateStore": "probe_rnn.capture",
    "diagnose": "probe_rnn.capture",
    "run_probes": "probe_rnn.probing",
    "probe_stores": "probe_rnn.probing",
    "ProbeSettings": "probe_rnn.probing",
    "ProbeResults": "probe_rnn.probing",
    "attribute": "probe_rnn.attribution",
    "build_report": "probe_rnn.report",
    "compare_readouts": "probe_rnn.studies",
    "Progress": "probe_rnn.progress",
    # plugins and errors
    "register_probe": "probe_rnn.plugins",
    "register_task": "probe_rnn.plugins",
    "register_adapter": "probe_rnn.plugins",
    "ProbeRnnError": "probe_rnn.errors",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
