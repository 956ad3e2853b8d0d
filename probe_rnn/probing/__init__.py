"""Probing: measure what each state view carries about labels and sentence properties.

One concept per module: ``tasks`` (targets), ``probes`` (scikit-learn estimators), ``splits``
(seeded K-fold by sentence), ``controls`` (Hewitt & Liang control tasks), ``measures``
(accuracy, usable information in bits, intervals), ``specs`` (a probe named -> an estimator),
``mdl`` (online codelength), ``protocol``
(K-fold or held-out split per cell, intervals), ``jobs`` (a cell's fits), ``cells`` (one
(model, view, task, probe) unit of work), ``journal`` (finished cells on disk), ``runner``
(plans and runs the cells), ``results`` (the tidy table), ``probe_results`` (what a run found,
as one object), ``probe_settings`` (what it is asked, as one object) and ``state_source`` (what
probing reads from a store).

    >>> from probe_rnn.probing import run_probes, save_results, headline_table
    >>> df = run_probes({"trained": store, "random-init": random_store})
"""

from __future__ import annotations

from probe_rnn.lazy_exports import lazy_exports

#: Each public name and the module that defines it, imported on first access: importing one
#: submodule (a plugin's ``from probe_rnn.probing.tasks import Task``) does not import them all
#: (scikit-learn, the runner, torch through the store's sources).
_EXPORTS = {
    "CI_METHOD": "probe_rnn.probing.intervals",
    "ProbeResults": "probe_rnn.probing.probe_results",
    "ProbeSettings": "probe_rnn.probing.probe_settings",
    "LogisticProbe": "probe_rnn.probing.probes", "MLPProbe": "probe_rnn.probing.scaled_probes",
    "RidgeProbe": "probe_rnn.probing.scaled_probes",
    "METRICS": "probe_rnn.probing.results", "headline_table": "probe_rnn.probing.results",
    "save_results": "probe_rnn.probing.results",
    "probe_stores": "probe_rnn.probing.runner", "run_probes": "probe_rnn.probing.runner",
    "make_probe": "probe_rnn.probing.specs",
    "StateSource": "probe_rnn.probing.state_source",
    "DEFAULT_TASKS": "probe_rnn.probing.tasks", "TOKEN_TASKS": "probe_rnn.probing.tasks",
    "Task": "probe_rnn.probing.tasks", "get_task": "probe_rnn.probing.tasks",
    "RESULT_COLUMNS": "probe_rnn.run_folder",
}

__all__ = [
    "run_probes",
    "probe_stores",
    "ProbeResults",
    "ProbeSettings",
    "StateSource",
    "save_results",
    "headline_table",
    "DEFAULT_TASKS",
    "TOKEN_TASKS",
    "RESULT_COLUMNS",
    "METRICS",
    "CI_METHOD",
    "Task",
    "get_task",
    "LogisticProbe",
    "RidgeProbe",
    "MLPProbe",
    "make_probe",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
