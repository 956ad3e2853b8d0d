"""Read a run folder for the report: run.json, results, diagnosis, attribution, state stores.

The report only reads files the pipeline wrote (see the "Run folder" contract); it never
recomputes probes or calls back into capture internals. Required parts (``run.json`` and the
results table) raise :class:`~probe_rnn.errors.ReportError` when missing; optional parts
(diagnosis, attribution, states) come back as ``None`` with a one-line note saying why their
section is left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from probe_rnn.errors import Mention, ProbeRnnError, ReportError
from probe_rnn.report.use_data import interventions_table
from probe_rnn.run_folder import REQUIRED_RESULT_COLUMNS, RESULT_COLUMNS, read_run
from probe_rnn.run_record import ProbingCard, RunRecord

_ATTRIBUTION_FILES = {
    "tokens": "tokens.parquet",
    "examples": "examples.parquet",
    "steps": "steps.parquet",
    "neurons": "neurons.parquet",
}


@dataclass
class RunData:
    """Everything the report shows, as read from one run folder.

    Attributes
    ----------
    path : Path
        The run folder.
    run : RunRecord
        The run's ``run.json`` (model card, data card, arguments, stage timings).
    results : pd.DataFrame
        The tidy probing results, columns in contract order (missing optional ones are NA).
    diagnosis : pd.DataFrame or None
        ``diagnosis.csv`` (one row per module and check), ``None`` when absent.
    attribution : dict of str to pd.DataFrame
        ``tokens``, ``examples``, ``steps``, ``neurons``, ``summary`` frames that exist.
    states : Path or None
        The trained model's state store folder, ``None`` when it is not complete.
    notes : dict of str to str
        Section anchor -> one-line note on why a part is missing.
    train_rows, values : pd.DataFrame or None
        The label probe on training rows and the long table of per-split values.
    readouts : ReadoutStudy or None
        A ``classify`` readouts study of this model's architecture found in a subfolder
        (``readouts/`` first; ``probe-rnn demo`` writes one there), ``None`` when there is
        none or it cannot be used (``notes["readouts"]`` then says why).
    readouts_dir : Path or None
        Its folder (its page is ``readouts_dir / "index.html"``).
    interventions : pd.DataFrame or None
        ``interventions.parquet`` (:func:`~probe_rnn.report.use_data.interventions_table`),
        ``None`` for runs made without the interventions stage.
    """

    path: Path
    run: RunRecord
    results: pd.DataFrame
    diagnosis: pd.DataFrame | None = None
    attribution: dict[str, pd.DataFrame] = field(default_factory=dict)
    states: Path | None = None
    notes: dict[str, str] = field(default_factory=dict)
    train_rows: pd.DataFrame | None = None
    values: pd.DataFrame | None = None
    readouts: Any = None
    readouts_dir: Path | None = None
    interventions: pd.DataFrame | None = None

    @property
    def name(self) -> str:
        """The run's name (``run.json`` ``name``, else the folder name)."""
        return str(self.run.name or self.path.name)

    def store(self) -> Any:
        """Open the trained model's :class:`~probe_rnn.capture.store.StateStore` (or None).

        Raises
        ------
        StoreError
            A file the report reads no longer matches the checksum recorded at capture.
        """
        if self.states is None:
            return None
        from probe_rnn.capture.store import StateStore

        try:
            store = StateStore(self.states)
        except ProbeRnnError as exc:
            self.notes["projections"] = f"States cannot be read ({exc}); projections left out."
            self.states = None
            return None
        # what a report reads: the sentence views (and output@last, maybe derived); a file
        # changed since capture is refused (StoreError naming it), never plotted
        read = [v for v in store.views if store.kind(v) == "sentence"]
        if "output@last" not in read and "output" in store.views:
            read.append("output@last")
        store.verify(read)
        return store

    def kernel_checks(self) -> dict[str, dict[str, Any] | None]:
        """Each state store's kernel check (its manifest's ``kernel_check``: the largest
        |difference| of the recomputed states from the fused kernel), by model, for the stores
        in the run folder whose manifest reads (``trained`` in ``states/``, ``random-init`` in
        ``states-random/``)."""
        from probe_rnn.capture.manifest import MANIFEST, StoreManifest

        found: dict[str, dict[str, Any] | None] = {}
        for model, folder in (("trained", "states"), ("random-init", "states-random")):
            try:
                text = (self.path / folder / MANIFEST).read_text(encoding="utf-8")
                found[model] = StoreManifest.from_dict(json.loads(text)).kernel_check
            except (OSError, ValueError, ProbeRnnError):
                continue
        return found


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder.

    Parameters
    ----------
    run_dir : str or Path
        Folder written by ``probe-rnn probe ... --out DIR`` or ``probe-rnn demo``.

    Returns
    -------
    RunData

    Raises
    ------
    ReportError
        The folder, its ``run.json`` or its results table is missing or unreadable.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise ReportError(f"run folder {path} does not exist: give the folder a probe run wrote "
                          "(its ", Mention("out_dir"), ")")
    data = RunData(path=path, run=read_run(path), results=_read_results(path))
    data.diagnosis = _read_optional_csv(path / "diagnosis.csv", data.notes, "diagnosis")
    attribution = data.run.stage("attribution")
    if attribution is not None and attribution.status == "skipped":
        data.notes["attribution"] = ("Attribution was skipped for this run "
                                     "(attribution_rows=0).")
    else:
        data.attribution = _read_attribution(path / "attribution", data.notes)
    states = path / "states"
    if (states / "manifest.json").is_file():
        data.states = states
    else:
        data.notes["projections"] = (
            "No complete state store in states/, so there are no projections."
        )
    data.values = _read_optional_parquet(path / "values.parquet", data.notes, "values",
                                         "comparisons are unpaired")
    data.train_rows = _read_optional_parquet(path / "train-rows.parquet", data.notes,
                                             "train_rows", "the held-out vs training-row "
                                             "comparison is left out")
    data.readouts, data.readouts_dir = _read_readouts(path, data.run, data.notes)
    data.interventions = interventions_table(path, data.notes)
    batch = data.run.batch_dependence
    if batch.get("per_row") is False:  # run with allow_batch_dependence
        data.notes["model"] = (f"Warning: {batch.get('sentence')}. The run went on because it "
                               "was asked to (allow_batch_dependence): per-row logits, "
                               "predictions and attributions here are not the row's own.")
    card = data.run.probing or ProbingCard()
    probing = _probing_note(card, data.run.probed_rows)
    probing = " ".join(p for p in (probing, _precision_note(card, data.results)) if p)
    if probing:
        data.notes["probing"] = probing
    if "model" in data.results and not (data.results["model"] == "random-init").any():
        data.notes["baseline"] = (
            "No random-init results in this run: the random-weights baseline is not drawn."
        )
    return data


#: Where a run folder keeps its readouts study (``probe-rnn demo`` writes it there).
READOUTS_DIR = "readouts"
_ARCHITECTURE = ("rnn", "layers", "hidden", "bidirectional", "embedding_dim", "packed")


def _read_readouts(path: Path, run: RunRecord, notes: dict[str, str]
                   ) -> tuple[Any, Path | None]:
    """The ``classify`` readouts study in a subfolder of the run folder (``readouts/``
    first, then the others in name order), when it trained this model's architecture and
    its page is there; otherwise ``(None, None)``, with a note when one was found but not
    used."""
    folders = [path / READOUTS_DIR] + sorted(p for p in path.iterdir() if p.is_dir()
                                             and p.name != READOUTS_DIR)
    config = run.model_config
    for folder in folders:
        if not (folder / "study.json").is_file():
            continue
        from probe_rnn.studies.study import ReadoutStudy

        try:
            study = ReadoutStudy.load(folder)
        except (ProbeRnnError, OSError, ValueError, KeyError, TypeError) as exc:
            notes["readouts"] = (f"The readouts study in {folder.name}/ cannot be read "
                                 f"({type(exc).__name__}), so the answer leaves it out.")
            continue
        if study.settings.get("objective", "classify") != "classify" or study.summary.empty:
            continue
        other = {k: (study.settings.get(k), config.get(k)) for k in _ARCHITECTURE
                 if k in config and k in study.settings}
        differ = [f"{k} {a} vs {b}" for k, (a, b) in other.items() if a != b]
        labels = run.labels
        if labels and study.settings.get("labels") and (
                sorted(map(str, labels)) != sorted(map(str, study.settings["labels"]))):
            differ.append("other labels")
        if differ:
            notes["readouts"] = (f"The readouts study in {folder.name}/ trained another "
                                 f"architecture than this model ({'; '.join(differ)}), so the "
                                 "answer leaves it out.")
            continue
        if not (folder / "index.html").is_file():
            notes["readouts"] = (f"The readouts study in {folder.name}/ has no index.html "
                                 "(re-render it), so the answer leaves it out.")
            continue
        notes.pop("readouts", None)
        return study, folder
    return None, None


def _probing_note(card: ProbingCard, rows: dict[str, Any] | None = None) -> str:
    """Which rows were probed, the probing protocol and the cells that failed, in plain
    sentences (from run.json)."""
    parts = []
    if rows and rows.get("description"):
        parts.append(f"Rows: {rows['description']}.")
    elif rows is None:
        parts.append("Rows: this run does not record which rows were probed (made before "
                     "probe-rnn probed held-out rows by default); they may include rows the "
                     "model trained on.")
    if card.protocol:
        parts.append(f"Protocol: {card.protocol}.")
    failed = card.failed
    if failed:
        from probe_rnn.probing.results import failure_summary

        cells = card.cells if card.cells is not None else "?"
        parts.append(f"{len(failed)} of {cells} probing cells failed and are "
                     f"left out of every table and figure (cells.csv lists each): "
                     f"{'; '.join(failure_summary(failed))}.")
    return " ".join(parts)


def _precision_note(card: ProbingCard, results: pd.DataFrame) -> str:
    """A missed precision target said plainly: the target against the half-widths of the
    whole-sentence accuracy intervals the run actually reached."""
    target = card.precision
    if not isinstance(target, int | float) or "metric" not in results:
        return ""
    rows = results[(results["metric"] == "accuracy") & results["t"].isna()]
    half = ((rows["ci_high"] - rows["ci_low"]) / 2).dropna()
    if half.empty or float(half.max()) <= target:
        return ""
    missed = int((half > target).sum())
    return (f"The precision target (±{target:g} accuracy) was missed: {missed} of {len(half)} "
            f"whole-sentence accuracy intervals are wider (half-widths ±{half.min():.3f} to "
            f"±{half.max():.3f}); the cells hold too few sentences, or too few folds, for it.")


def _read_results(path: Path) -> pd.DataFrame:
    parquet, csv = path / "results.parquet", path / "results.csv"
    try:
        if parquet.is_file():
            results = _bare(pd.read_parquet(parquet))
        elif csv.is_file():
            results = _bare(pd.read_csv(csv))
        else:
            raise ReportError(
                f"{path} holds no results.parquet or results.csv: probe a model into it first "
                "(", Mention("out_dir", str(path)), ")")
    except (OSError, ValueError) as exc:
        raise ReportError(f"results in {path} cannot be read ({exc}): re-run probing") from exc
    missing = REQUIRED_RESULT_COLUMNS - set(results.columns)
    if missing:
        raise ReportError(
            f"results in {path} lack columns {sorted(missing)}: re-run probing with this version"
        )
    for column in RESULT_COLUMNS:
        if column not in results:
            results[column] = pd.NA
    for column in ("value", "ci_low", "ci_high", "chance"):
        results[column] = pd.to_numeric(results[column], errors="coerce").astype(float)
    results["t"] = pd.to_numeric(results["t"], errors="coerce")
    extra = [c for c in results.columns if c not in RESULT_COLUMNS]
    return results[RESULT_COLUMNS + extra].reset_index(drop=True)


def _read_optional_csv(file: Path, notes: dict[str, str], anchor: str) -> pd.DataFrame | None:
    if not file.is_file():
        notes[anchor] = f"No {file.name} in this run folder, so this section is empty."
        return None
    try:
        return pd.read_csv(file)
    except (OSError, ValueError) as exc:
        notes[anchor] = f"{file.name} cannot be read ({type(exc).__name__}); section left out."
        return None


def _bare(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the report filters it fast: without the ``attrs`` pandas restores from a
    parquet file's metadata (the probing card: run.json's to tell; pandas deep-copies
    ``attrs`` into every frame derived from one, which took three quarters of a re-render),
    and with its text columns as Python objects rather than Arrow strings. The report takes
    rows by mask thousands of times; on the demo's tables an Arrow string column's ``take``
    made that about 0.6 s of a 5.7 s re-render. The values (and missing values, NaN) are the
    same, so is the page."""
    frame.attrs.clear()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.StringDtype):
            frame[column] = frame[column].astype(object)
    return frame


def _read_optional_parquet(file: Path, notes: dict[str, str], anchor: str, without: str
                           ) -> pd.DataFrame | None:
    """A table only some runs have: None when absent; when damaged, None and a note saying
    what the report does ``without`` it (runs made before it existed lack it silently)."""
    if not file.is_file():
        return None
    try:
        return _bare(pd.read_parquet(file))
    except Exception:  # noqa: BLE001 - pyarrow raises many types on damaged files
        notes[anchor] = f"{file.name} cannot be read; {without}."
        return None


def _completeness(manifest: Path) -> str:
    """The attribution run's completeness verdict ("" for runs made before it existed)."""
    try:
        found = json.loads(manifest.read_text(encoding="utf-8")).get("completeness") or {}
    except (OSError, ValueError, AttributeError):
        return ""
    return str(found.get("sentence") or "") if isinstance(found, dict) else ""


def stage_note(manifest: Path) -> str:
    """What a two-text attribution run explained and, per stage, why it does not apply
    ("" for a run of one text, whose manifest has no ``stages``)."""
    try:
        found = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    stages = found.get("stages") if isinstance(found, dict) else None
    if not isinstance(stages, dict):
        return ""
    said = [f"It explains {found.get('explains')} (target {found.get('target')}), attributed "
            "to the tokens of both texts (text 1, then text 2 after ‖)."]
    said += [f"{str(stage).replace('_', ' ').capitalize()}: {note}." for stage, note
             in stages.items() if stage != "tokens"]
    return " ".join(said)


def _read_attribution(folder: Path, notes: dict[str, str]) -> dict[str, pd.DataFrame]:
    if not folder.is_dir():
        notes["attribution"] = "This run has no attribution/ folder, so attribution is left out."
        return {}
    if not (folder / "manifest.json").is_file():
        notes["attribution"] = (
            "attribution/ has no manifest.json (the stage did not finish); attribution left out."
        )
        return {}
    frames: dict[str, pd.DataFrame] = {}
    for key, name in _ATTRIBUTION_FILES.items():
        file = folder / name
        if file.is_file():
            try:
                frames[key] = pd.read_parquet(file)
            except (OSError, ValueError):
                notes[f"attribution-{key}"] = f"attribution/{name} cannot be read; left out."
    verdict = _completeness(folder / "manifest.json")
    if verdict:
        notes["attribution"] = verdict[0].upper() + verdict[1:] + "."
    stages = stage_note(folder / "manifest.json")
    if stages:
        notes["attribution"] = f"{notes.get('attribution', '')} {stages}".strip()
    summary = _read_optional_csv(folder / "summary.csv", notes, "attribution-summary")
    if summary is not None:
        frames["summary"] = summary
        notes.pop("attribution-summary", None)
    return frames
