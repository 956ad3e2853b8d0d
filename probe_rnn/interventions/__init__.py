"""Does the model use it? Interventions on the verified recurrent states.

* :data:`COLUMNS`, :func:`read_interventions`: the ``interventions.parquet`` table of a run.
"""

from probe_rnn.interventions.table import COLUMNS, INTERVENTIONS_PARQUET, read_interventions

__all__ = ["COLUMNS", "INTERVENTIONS_PARQUET", "read_interventions"]
