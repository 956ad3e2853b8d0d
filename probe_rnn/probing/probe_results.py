"""What a probing run found, as one object (:class:`ProbeResults`): the tidy table, the long
table of per-split values, the cells' fate and the protocol, as typed fields.

:func:`~probe_rnn.probing.runner.probe_stores` returns it; :meth:`ProbeResults.to_pandas` gives
the tidy table :func:`~probe_rnn.probing.runner.run_probes` has always returned (with the same
metadata in ``attrs``), :meth:`ProbeResults.card` what ``run.json`` records of the probing
stage, :meth:`ProbeResults.cells_table` the rows of ``cells.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd

from probe_rnn.atomic import jsonable
from probe_rnn.probing.protocol import describe
from probe_rnn.probing.results import BITS_DEFINITION, CI_METHOD, assemble, values_table
from probe_rnn.run_record import ProbingCard

#: What each cell's record in :attr:`ProbeResults.cell_records` (and cells.csv) holds.
CELL_RECORD_KEYS = ("key", "model", "view", "task", "probe", "status", "reason", "protocol",
                    "sentences", "used_sentences", "fits", "not_converged", "seconds",
                    "cpu_seconds")


@dataclass(frozen=True)
class ProbeResults:
    """The results of one probing run.

    Attributes
    ----------
    table : pd.DataFrame
        The tidy results, columns :data:`~probe_rnn.run_folder.RESULT_COLUMNS`.
    folds, seeds, seed : int
        The splits the cells used.
    precision : float
        The wanted half-width of a cell's 95 % accuracy interval.
    protocol : str
        The probing protocol in one sentence.
    cells, reused_cells, unreadable_journal : int
        Cells planned, reused from the journal, and journal files recomputed as unreadable.
    failed_cells : list of dict
        One dict (model, view, task, probe, reason) per failed cell.
    cell_records : list of dict
        One dict per cell (:data:`CELL_RECORD_KEYS`).
    ci_method, bits : str
        How the intervals and the bits are computed.
    """

    table: pd.DataFrame
    folds: int
    seeds: int
    seed: int
    precision: float
    protocol: str
    cells: int
    reused_cells: int
    failed_cells: list[dict[str, Any]]
    unreadable_journal: int
    cell_records: list[dict[str, Any]]
    ci_method: str = CI_METHOD
    bits: str = BITS_DEFINITION
    _records: list[dict[str, Any]] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def from_records(cls, records: list[dict[str, Any]], settings: Any, *, cells: int,
                     reused: int, failed: list[dict[str, Any]], unreadable: int
                     ) -> ProbeResults:
        """The results of the finished cells' ``records`` (in planned order) under the cells'
        shared ``settings`` (:class:`~probe_rnn.probing.cells.Settings`)."""
        return cls(table=assemble(records, settings), folds=settings.folds,
                   seeds=settings.seeds, seed=settings.seed,
                   precision=float(settings.precision),
                   protocol=describe(settings.precision, settings.folds), cells=cells,
                   reused_cells=reused, failed_cells=failed, unreadable_journal=unreadable,
                   cell_records=[{k: r.get(k) for k in CELL_RECORD_KEYS} for r in records],
                   _records=records)

    @cached_property
    def values(self) -> pd.DataFrame:
        """The long table (:func:`~probe_rnn.probing.results.values_table`): every value the
        intervals were computed from, for paired comparisons."""
        return values_table(self._records)

    def to_pandas(self) -> pd.DataFrame:
        """The tidy table, its ``attrs`` holding the run's metadata (``ci_method``, ``bits``,
        ``folds``, ``seeds``, ``seed``, ``protocol``, ``precision``, ``cells``,
        ``reused_cells``, ``failed_cells``, ``unreadable_journal``, ``cell_records``)."""
        df = self.table.copy()
        df.attrs.clear()
        df.attrs.update(ci_method=self.ci_method, bits=self.bits, folds=self.folds,
                        seeds=self.seeds, seed=self.seed, protocol=self.protocol,
                        precision=self.precision, cells=self.cells,
                        reused_cells=self.reused_cells, failed_cells=self.failed_cells,
                        unreadable_journal=self.unreadable_journal,
                        cell_records=self.cell_records)
        return df

    def card(self) -> ProbingCard:
        """What ``run.json`` records of the probing stage (the cells counted by protocol)."""
        protocols = {p: sum(r.get("protocol") == p for r in self.cell_records)
                     for p in sorted({r.get("protocol") or "" for r in self.cell_records} - {""})}
        attrs = {k: v for k, v in self.to_pandas().attrs.items() if k != "cell_records"}
        return ProbingCard.from_dict(jsonable({**attrs, "protocols": protocols}))

    def cells_table(self) -> pd.DataFrame:
        """One row per cell: status, reason, protocol, seconds, journal key (cells.csv)."""
        return pd.DataFrame(self.cell_records)
