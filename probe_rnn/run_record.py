"""The record of one run, as ``run.json`` holds it: :class:`RunRecord`, its stages
(:class:`StageRecord`) and its probing card (:class:`ProbingCard`).

The run builds one record when it starts, updates it through methods that return a new record
(:meth:`RunRecord.with_stage`, :meth:`RunRecord.with_probing`) and writes it through
:func:`probe_rnn.run_folder.write_run`; the report reads its typed fields. :meth:`to_dict`
gives exactly the JSON layout ``run.json`` has always had (the same keys in the same order), and
:meth:`from_dict` reads every ``run.json`` written before; it is the one place that refuses a
record's content (a newer :data:`RUN_SCHEMA`, or a section of the wrong type), with the
one-line :class:`~probe_rnn.errors.ReportError` the folder's reader raises.

The model, data and probed-rows cards stay the mappings their makers write
(:meth:`~probe_rnn.models.ModelBundle.card`, ``data_card``, ``ProbedRows.card``); the fields
the report reads from them are properties here, so no reader walks ``.get(...) or {}`` chains.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from probe_rnn.errors import ReportError
from probe_rnn.json_records import known_and_extra, record_json

#: Version of ``run.json``'s layout; raise it when a key changes meaning or is removed.
RUN_SCHEMA = 1


@dataclass(frozen=True)
class StageRecord:
    """One stage in ``run.json``: wall seconds, ``status`` (running, done, reused, failed,
    skipped) and the detail line the run printed."""

    seconds: float = 0.0
    status: str = ""
    detail: str = ""

    @property
    def finished(self) -> bool:
        """The stage finished (computed or reused), so its files may be reused."""
        return self.status in ("done", "reused")

    def to_dict(self) -> dict[str, Any]:
        """The stage's JSON object."""
        return {"seconds": self.seconds, "status": self.status, "detail": self.detail}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> StageRecord:
        """A stage from its JSON object (missing keys take the defaults)."""
        return cls(seconds=value.get("seconds", 0.0), status=str(value.get("status", "")),
                   detail=str(value.get("detail", "")))


#: The probing card's keys in the order run.json has them.
_PROBING_KEYS = ("ci_method", "bits", "folds", "seeds", "seed", "protocol", "precision",
                 "cells", "reused_cells", "failed_cells", "unreadable_journal", "protocols")


@dataclass(frozen=True)
class ProbingCard:
    """What ``run.json`` records of the probing stage: the method, the protocol and the
    cells' fate (a key an older run.json lacks is None and stays absent when written)."""

    ci_method: str | None = None
    bits: str | None = None
    folds: int | None = None
    seeds: int | None = None
    seed: int | None = None
    protocol: str | None = None
    precision: float | None = None
    cells: int | None = None
    reused_cells: int | None = None
    failed_cells: list[dict[str, Any]] | None = None
    unreadable_journal: int | None = None
    protocols: dict[str, int] | None = None

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The failed cells (model, view, task, probe, reason); empty when none."""
        return list(self.failed_cells or [])

    def to_dict(self) -> dict[str, Any]:
        """The card's JSON object (keys in run.json's order, absent ones left out)."""
        return record_json(self, _PROBING_KEYS)

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> ProbingCard:
        """A card from its JSON object (keys this version does not know are ignored)."""
        return cls(**known_and_extra(value, _PROBING_KEYS)[0])


#: run.json's keys in the order they are written (``stages`` before the plugin code and the
#: fingerprint, ``probing`` last: the order the run has always written them in).
_KEYS = ("name", "created", "probe_rnn_version", "seed", "model", "data", "probed_rows",
         "settings", "arguments", "stages", "plugin_code", "fingerprint", "probing")
_MAPPINGS = ("model", "data", "probed_rows", "settings", "arguments", "stages", "plugin_code",
             "probing")


@dataclass(frozen=True)
class RunRecord:
    """``run.json``: the run's name, time, version, seed, cards, settings, arguments, stages,
    plugin code, fingerprint and probing card.

    Every field is optional, as a ``run.json`` written by an older probe-rnn may lack it; a
    field that is None is absent from :meth:`to_dict`. ``extra`` keeps keys this version does
    not know, so rewriting a record never drops them.
    """

    name: str | None = None
    created: str | None = None
    probe_rnn_version: str | None = None
    seed: int | None = None
    model: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    probed_rows: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    arguments: dict[str, Any] | None = None
    stages: dict[str, StageRecord] | None = None
    plugin_code: dict[str, str] | None = None
    fingerprint: str | None = None
    probing: ProbingCard | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    # -- updates (each returns a new record) --------------------------------------------------

    def with_stage(self, name: str, stage: StageRecord) -> RunRecord:
        """This record with stage ``name`` set to ``stage`` (stages keep their first order)."""
        return replace(self, stages={**(self.stages or {}), name: stage})

    def with_probing(self, card: ProbingCard | None) -> RunRecord:
        """This record with the probing stage's card."""
        return replace(self, probing=card)

    # -- what readers ask -------------------------------------------------------------------

    def stage(self, name: str) -> StageRecord | None:
        """Stage ``name``'s record, or None when the run has none."""
        return (self.stages or {}).get(name)

    @property
    def model_config(self) -> dict[str, Any]:
        """The model card's architecture (``config``: rnn, layers, hidden, readout, ...)."""
        return dict((self.model or {}).get("config") or {})

    @property
    def labels(self) -> list[Any] | None:
        """The model's labels (None when the card has none)."""
        return (self.model or {}).get("labels") or None

    @property
    def batch_dependence(self) -> dict[str, Any]:
        """The model card's batch-dependence check (per_row, sentence), empty when absent."""
        return dict((self.model or {}).get("batch_dependence") or {})

    @property
    def tokenizer_kind(self) -> str | None:
        """The tokenizer's kind (char, word, ...), None for an adapter's own tokens."""
        return ((self.model or {}).get("tokenizer") or {}).get("kind")

    @property
    def data_rows(self) -> int | None:
        """The number of rows of the table the run read (the data card's ``rows``)."""
        return (self.data or {}).get("rows")

    @property
    def data_source(self) -> str:
        """Where the data came from (the data card's ``source``; ``?`` when unknown)."""
        return str((self.data or {}).get("source", "?"))

    # -- JSON ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """``run.json``'s object: the schema first, then the present fields in order."""
        return record_json(self, _KEYS, self.extra, head={"schema": RUN_SCHEMA}, encode={
            "stages": lambda stages: {n: s.to_dict() for n, s in stages.items()},
            "probing": ProbingCard.to_dict})

    @classmethod
    def from_dict(cls, value: Any, where: str = "run.json") -> RunRecord:
        """The record in ``value`` (a parsed ``run.json``; without ``schema`` it is schema 1).

        Raises
        ------
        ReportError
            ``value`` is not a JSON object, is of a newer schema than this probe-rnn reads, or
            a section has the wrong type (one line naming ``where`` and the fix).
        """
        if not isinstance(value, Mapping):
            raise ReportError(f"{where} is not a JSON object: re-run the probe stage")
        schema = value.get("schema", 1)
        if not isinstance(schema, int) or isinstance(schema, bool) or not 1 <= schema <= RUN_SCHEMA:
            raise ReportError(f"{where} has schema {schema!r}, and this probe-rnn reads schemas "
                              f"1..{RUN_SCHEMA}: upgrade probe-rnn or re-run the probe stage")
        wrong = [k for k in _MAPPINGS if value.get(k) is not None
                 and not isinstance(value[k], Mapping)]
        wrong += [f"stages.{n}" for n, s in (value.get("stages") or {}).items()
                  if not isinstance(s, Mapping)] if not wrong else []
        if wrong:
            raise ReportError(f"{where} cannot be read ({', '.join(wrong)} is not a JSON "
                              "object): re-run the probe stage")
        known, extra = known_and_extra(value, _KEYS, ignore=("schema",))
        if "stages" in known:
            known["stages"] = {str(n): StageRecord.from_dict(s) for n, s in known["stages"].items()}
        if "probing" in known:
            known["probing"] = ProbingCard.from_dict(known["probing"])
        for key in set(_MAPPINGS) - {"stages", "probing"}:
            if key in known:
                known[key] = dict(known[key])
        return cls(**known, extra=extra)
