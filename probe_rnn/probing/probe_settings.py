"""What one probing run is asked to compute, as one frozen object (:class:`ProbeSettings`).

A run's settings travel whole: :func:`probe_rnn.run.stages.probing` builds one from the run's
:class:`~probe_rnn.run.settings.RunSettings` and hands it to
:func:`~probe_rnn.probing.runner.probe_stores`, which validates it and derives the part every
cell shares and hashes into its journal key (:meth:`ProbeSettings.cell_settings`).
:func:`~probe_rnn.probing.runner.run_probes` builds one from its keyword arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from probe_rnn.probing.cells import Settings


@dataclass(frozen=True)
class ProbeSettings(Settings):
    """The views, tasks and probes to cross, and how to measure each cell.

    Attributes
    ----------
    views, tasks : sequence or None
        View names and tasks (names or :class:`~probe_rnn.probing.tasks.Task` instances);
        None: every stored sentence view (plus per-token views for token tasks) and the
        default tasks.
    probes : sequence
        Registered names, import paths, classes, factories or estimators.
    folds, seeds, seed : int
        ``folds``-fold by sentence, repeated with seeds ``seed .. seed + seeds - 1``.
    mdl, control : bool
        The online codelength; the control task and selectivity.
    max_t : int
        Positions per t for token-level tasks.
    precision : float
        Wanted half-width of a cell's 95 % accuracy interval (decides the protocol).
    max_rows : int or None
        A seeded sample of that many sentences (None: all).
    jobs : int
        Cells in parallel (joblib; -1 = all cores).
    cell_timeout : float or None
        Seconds a cell may run before it is recorded failed (None or 0: no limit).
    """

    views: Sequence[str] | None = None
    tasks: Sequence[Any] | None = None
    probes: Sequence[Any] = ("logistic",)
    max_rows: int | None = None
    jobs: int = 1
    cell_timeout: float | None = None

    def cell_settings(self) -> Settings:
        """What every cell shares and hashes into its journal key: the fields of
        :class:`~probe_rnn.probing.cells.Settings`, as given here."""
        shared = {f.name: getattr(self, f.name) for f in fields(Settings)}
        return Settings(**{**shared, "precision": float(self.precision)})
