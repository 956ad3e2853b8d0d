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

from probe_rnn.probing.intervals import CI_METHOD
from probe_rnn.probing.probe_results import ProbeResults
from probe_rnn.probing.probe_settings import ProbeSettings
from probe_rnn.probing.probes import LogisticProbe, MLPProbe, RidgeProbe
from probe_rnn.probing.results import METRICS, headline_table, save_results
from probe_rnn.probing.runner import probe_stores, run_probes
from probe_rnn.probing.specs import make_probe
from probe_rnn.probing.state_source import StateSource
from probe_rnn.probing.tasks import DEFAULT_TASKS, TOKEN_TASKS, Task, get_task
from probe_rnn.run_folder import RESULT_COLUMNS

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
