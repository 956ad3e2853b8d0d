"""Does the model use it? Interventions on the verified recurrent states.

* :func:`intervene`: every registered intervention (built in: LEACE ``erasure`` with its
  random-subspace control, interchange ``patching`` per view and per step, ``ablation`` by
  mean, resample and zero) and the conditional information of the top layer's sentence views,
  as one table (:class:`Interventions`).
* :class:`StateReplacer`: the model's forward with one state replaced per row, through the
  unrolled twin, so later steps and layers see the change.
* :func:`conditional_bits`: bits a view adds beyond another (Hewitt et al. 2021).
* :data:`COLUMNS`, :func:`read_interventions`: the ``interventions.parquet`` table of a run.

Everything but the table imports torch; ``probe_rnn.interventions.table`` alone does not.
"""

from probe_rnn.lazy_exports import lazy_exports

_EXPORTS = {
    "COLUMNS": "probe_rnn.interventions.table",
    "INTERVENTIONS_PARQUET": "probe_rnn.interventions.table",
    "read_interventions": "probe_rnn.interventions.table",
    "write_interventions": "probe_rnn.interventions.table",
    "intervene": "probe_rnn.interventions.api",
    "Interventions": "probe_rnn.interventions.api",
    "default_views": "probe_rnn.interventions.api",
    "default_steps": "probe_rnn.interventions.api",
    "StateReplacer": "probe_rnn.interventions.replace",
    "conditional_bits": "probe_rnn.interventions.conditional",
}

__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
