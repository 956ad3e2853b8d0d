"""The settings of one probe run, as one frozen, validated object (:class:`RunSettings`).

The CLI (``probe-rnn probe``) and :func:`probe_rnn.run.demo.run_demo` build it once;
:func:`probe_rnn.run.pipeline.probe` reads it in every stage, writes it to ``run.json`` as it
is (:meth:`RunSettings.to_json`) and hashes it once (:meth:`RunSettings.fingerprint`) to tell
whether a previous run's stages can be reused. Its values are checked once, against the
constraints table ``RunSettings._parameter_constraints``: a refused value raises
:class:`~probe_rnn.errors.ParameterError` naming the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from probe_rnn import __version__
from probe_rnn.errors import ConfigError
from probe_rnn.hashing import json_sha256
from probe_rnn.validation import (
    CELL_TIMEOUT,
    JOBS,
    SEED,
    AnyOf,
    Boolean,
    Interval,
    Names,
    Options,
    validate_params,
)

#: The values of ``probe_rows`` (:mod:`probe_rnn.data.probed_rows`).
PROBE_ROWS_CHOICES = ("heldout", "train", "all")
#: Fields that decide no number of the run (how it runs and what it shows): left out of the
#: fingerprint, so changing them reuses the finished stages.
_NOT_NUMERIC = ("jobs", "cell_timeout", "umap", "report")
_PLUGIN_HINT = "register it as a plugin and give its name"


@dataclass(frozen=True)
class RunSettings:
    """What a probe run computes and how.

    Parameters
    ----------
    views, tasks : sequence of str, optional
        State views and probing tasks (default: the state catalogue; label and sentence tasks).
    probes : sequence of str
        Probe names (registered or import paths).
    folds, seeds : int
        Cross-validation folds (split by sentence) and fold seeds.
    max_rows : int, optional
        Probe a seeded sample of at most this many rows.
    precision : float, optional
        Wanted half-width of each cell's 95 % accuracy interval (default: the protocol's,
        :data:`probe_rnn.probing.protocol.DEFAULT_PRECISION`).
    probe_rows : {"heldout", "train", "all"}
        Rows to probe (:mod:`probe_rnn.data.probed_rows`).
    keep_duplicates : bool
        Keep held-out rows whose text is also a training row's (removed by default).
    mdl, random_baseline : bool
        Compute the MDL codelength; also probe the architecture with random weights.
    attribution_rows : int
        Sentences to attribute (a seeded sample); 0 skips attribution.
    interventions : bool
        Run the interventions stage (erasure, patching, ablation, conditional information on
        the probed rows, :func:`probe_rnn.interventions.intervene`).
    batch_size : int
        Rows per forward pass of the captures (a model that reads its padding, or whose
        ``h_0`` is sized by the batch, gives states that depend on its batches).
    seed : int
        Base seed of the split, the sample and every probe.
    jobs : int
        Probing cells run in parallel (-1 = all cores).
    cell_timeout : float, optional
        Seconds a probing cell may run before it is recorded failed (None or 0: no limit).
    umap, report : bool
        Project states with UMAP (else PCA); build the HTML report.
    """

    views: tuple[str, ...] | None = None
    tasks: tuple[str, ...] | None = None
    probes: tuple[str, ...] = ("logistic",)
    folds: int = 5
    seeds: int = 1
    max_rows: int | None = None
    precision: float | None = None
    probe_rows: str = "heldout"
    keep_duplicates: bool = False
    mdl: bool = True
    random_baseline: bool = True
    attribution_rows: int = 24
    interventions: bool = True
    batch_size: int = 256
    seed: int = 0
    jobs: int = 1
    cell_timeout: float | None = None
    umap: bool = True
    report: bool = True

    #: What each field accepts (:mod:`probe_rnn.validation`), checked once on creation.
    _parameter_constraints: ClassVar[dict[str, Any]] = {
        "views": [None, Names("names of state views (str)", example="output@last",
                              odd_hint=_PLUGIN_HINT)],
        "tasks": [None, Names("names of tasks (str)", odd_hint=_PLUGIN_HINT)],
        "probes": Names("names of probes (str)", min_items=1, example="logistic",
                        odd_hint=_PLUGIN_HINT),
        "folds": Interval(int, 2, None),
        "seeds": Interval(int, 1, None),
        "max_rows": AnyOf(None, Interval(int, 1, None),
                          allowed="an integer >= 1 (None: every row)"),
        "precision": AnyOf(None, Interval(float, 0, 0.5, closed="neither"),
                           allowed="a number in (0, 0.5) (None: the protocol's default)"),
        "probe_rows": Options(PROBE_ROWS_CHOICES),
        "keep_duplicates": Boolean(),
        "mdl": Boolean(),
        "random_baseline": Boolean(),
        "attribution_rows": Interval(int, 0, None),
        "interventions": Boolean(),
        "batch_size": Interval(int, 1, None),
        "seed": SEED,
        "jobs": JOBS,
        "cell_timeout": CELL_TIMEOUT,
        "umap": Boolean(),
        "report": Boolean(),
    }

    def __post_init__(self) -> None:
        for name in ("views", "tasks", "probes"):
            if isinstance(getattr(self, name), Iterator):  # a generator: read it once
                object.__setattr__(self, name, tuple(getattr(self, name)))
        validate_params(self._parameter_constraints,
                        {f.name: getattr(self, f.name) for f in fields(self)})
        for name in ("views", "tasks", "probes"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.precision is None:
            from probe_rnn.probing.protocol import DEFAULT_PRECISION

            object.__setattr__(self, "precision", DEFAULT_PRECISION)
        if self.cell_timeout == 0:
            object.__setattr__(self, "cell_timeout", None)

    def to_json(self) -> dict[str, Any]:
        """The settings as plain JSON values (what ``run.json`` records as ``settings``)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> RunSettings:
        """Settings from :meth:`to_json`'s dict (unknown keys are an error naming them)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown run settings {unknown}: use only {sorted(known)}")
        return cls(**values)

    def fingerprint(self, model_checksum: str, data_checksum: str,
                    code: dict[str, str] | None = None) -> str:
        """sha256 of what decides the run's numbers: the model, the data, probe-rnn's version,
        every setting but those that only decide how the run goes (jobs, cell_timeout,
        umap, report) and the plugin code behind the probes and tasks (``code``:
        :func:`probe_rnn.usercode.run_code`)."""
        numeric = {k: v for k, v in self.to_json().items() if k not in _NOT_NUMERIC}
        key = [model_checksum, data_checksum, __version__, numeric] + ([code] if code else [])
        return json_sha256(key, default=str)

    def first_probe(self) -> str:
        """The probe the label-probe extras (training rows, attribution) use."""
        return self.probes[0]
