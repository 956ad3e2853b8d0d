"""Build the self-contained HTML report of one run folder.

:func:`build_report` reads only the run folder (``run.json``, results, ``diagnosis.csv``,
``attribution/``, ``states/`` through :class:`~probe_rnn.capture.store.StateStore`, a readouts
study in ``readouts/``), renders ``index.html`` with Jinja2 (autoescape on), opening with the
direct answer to "output or hidden state?" (:func:`~probe_rnn.report.opening.make_answer`),
and returns a :class:`Report`. The page embeds the
plotly.js runtime once; each figure is a JSON block drawn by one small script; a CSP meta tag
allows exactly those scripts (by hash), inline styles and ``data:`` images, so no request
leaves ``file:`` and injected markup could not run even if it slipped through escaping.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import markupsafe
import numpy as np
import pandas as pd

from probe_rnn.atomic import write_text
from probe_rnn.capture.diagnosis import plain_explanations
from probe_rnn.capture.manifest import describe_kernel_check
from probe_rnn.catalogue import MEAN_OUTPUT, OUTPUT_LAST, state_views
from probe_rnn.progress import Progress
from probe_rnn.report import figures as F
from probe_rnn.report import page
from probe_rnn.report import tables as T
from probe_rnn.report.answer_scope import answer_scope
from probe_rnn.report.equivalence import (
    Equivalence,
    equivalence_of,
    equivalences_of,
    top_layer,
)
from probe_rnn.report.figure_style import white_by_default
from probe_rnn.report.findings import Finding, make_findings
from probe_rnn.report.measures import ordered_probes
from probe_rnn.report.opening import Answer, make_answer
from probe_rnn.report.pair_readout import pair_readout
from probe_rnn.report.projections import cached_projection, subsample
from probe_rnn.report.run_data import RunData, load_run
from probe_rnn.report.use_figures import CAPTIONS as USE_CAPTIONS
from probe_rnn.report.use_findings import use_parts, with_use
from probe_rnn.validation import SEED, Boolean, Interval, PathLike, validate_params

if TYPE_CHECKING:
    from probe_rnn.capture.store import StateStore

CAPTIONS = {
    "fig-heatmap": "Each cell: how well a {probe} probe trained on the row's state predicts the "
    "column's task on held-out sentences (accuracy for classification tasks, R² for regression; "
    "the menu switches to usable information in bits, H(Y) minus the probe's cross-entropy). "
    "Darker means more decodable; blank means not measured.",
    "fig-bars": "Blue bars: the trained model; grey bars: the same architecture with random "
    "weights (every weight re-initialised, the embedding included, so the grey bars show what "
    "the architecture and the input alone give); whiskers: confidence intervals; dashed line: "
    "majority-class baseline. Pick the "
    "task and measure in the menu. Whiskers are each bar's own interval: two bars differ when "
    "the paired difference's interval excludes 0 (the findings and the table below), which "
    "overlapping whiskers do not rule out.",
    "fig-timesteps": "Each line is one layer and direction read at step t (0 = first token; "
    "negative t counts back from each sentence's own end), with its confidence band. Where a "
    "curve rises tells how early in the sentence the information is available.",
    "fig-memory": "Memory span: how well each per-token state tells which token was read k "
    "steps earlier (k = 0 is the current token), with confidence bands; dashed: chance. A curve "
    "that stays above chance for larger k means the state remembers further back.",
    "fig-steps": "Mean share of the prediction's attribution that flows through the state at "
    "each step, over the attributed sentences aligned at their end (0 = last token).",
    "tokens": "Each token's attribution to the predicted class, or to what the note above names "
    "({method}): red supports it, blue opposes it; the stronger the colour, the larger the "
    "value. Hover a token for its value.",
    "projection": "{method} of each key state (a seeded sample of at most {max_points} "
    "sentences, fitted once on exactly these points and cached in projections/). Each point "
    "is a sentence; hover to read it. The menu recolours by gold label, by the model's "
    "prediction or by length. Colours that form separate clusters mean the state separates "
    "those groups.",
}


@dataclass
class Report:
    """A written report: where it is, what it found and what it drew."""

    path: Path
    findings: list[Finding]
    figures: list[str]
    notes: dict[str, str] = field(default_factory=dict)
    projection_hits: dict[str, bool] = field(default_factory=dict)
    probes: list[str] = field(default_factory=list)
    answer: Answer | None = None

    @property
    def size_bytes(self) -> int:
        """Size of the written HTML file."""
        return self.path.stat().st_size

    def __repr__(self) -> str:
        return (f"<Report {self.path} — {len(self.findings)} findings, {len(self.figures)} "
                f"figures, {self.size_bytes / 1e6:.1f} MB>")

    def _repr_html_(self) -> str:
        """The answer and the findings (`view` names as ``<code>``, text escaped) under a link
        to the page (a ``file:`` URI)."""
        items = "".join(f"<li>{page.codespans(f.text)}</li>" for f in self.findings)
        answer = f"<p>{page.codespans(self.answer.text)}</p>" if self.answer else ""
        return (f"<div><b>probe-rnn report</b>: {file_link(self.path)} "
                f"({len(self.figures)} figures){answer}<ol>{items}</ol></div>")


def file_link(path: Path) -> str:
    """``<a href="file:///…/index.html"><code>path</code></a>``: a link a notebook opens."""
    uri = Path(path).resolve().as_uri()
    return (f'<a href="{html.escape(uri)}" target="_blank"><code>{html.escape(str(path))}'
            "</code></a>")


def _projections(data: RunData, store: object, method: str, seed: int, max_points: int,
                 hits: dict[str, bool], progress: Progress | None = None
                 ) -> list[tuple[str, F.go.Figure, int]]:
    if store is None:
        return []
    views = list(store.views)
    top = top_layer(views)
    # the key states: output@last, the top layer's h_n (both directions), mean(output)
    finals = state_views("h_n", [top], 2) if top is not None else []
    wanted = [OUTPUT_LAST, *finals, MEAN_OUTPUT]
    chosen = [v for v in wanted if v in views and store.kind(v) == "sentence"]
    meta = store.meta
    out = []
    with (progress or Progress(quiet=True)).stage("projections", len(chosen), "views") as bar:
        for done, view in enumerate(chosen, start=1):
            projected = _project(data, store, view, method, seed, max_points, hits, meta)
            out += [projected] if projected is not None else []
            bar(done)
    if not out and "projections" not in data.notes:
        data.notes["projections"] = "The state store holds none of the key views to project."
    return out


def _project(data: RunData, store: StateStore, view: str, method: str, seed: int, max_points: int,
             hits: dict[str, bool], meta: pd.DataFrame) -> tuple[str, F.go.Figure, int] | None:
    """One view's 2-D projection figure (cached coordinates), or None with too few rows."""
    values = np.asarray(store.sentence(view), dtype=np.float32)
    finite = np.flatnonzero(np.isfinite(values).all(axis=1))
    rows = finite[subsample(len(finite), max_points, seed)]
    if len(rows) < 3:
        return None
    coords, hits[view] = cached_projection(data.path, view, rows, values[rows], method, seed)
    fig = F.projection_figure(coords, meta.iloc[rows].reset_index(drop=True), method)
    return view, fig, len(rows)


def _cards(data: RunData) -> dict[str, T.Table]:
    model = dict(data.run.model or {})
    for name, check in data.kernel_checks().items():  # the capture's check of every state
        model[f"kernel check ({name})"] = describe_kernel_check(check)
    written = data.run.to_dict()
    details = {k: written[k] for k in ("arguments", "stages", "seed", "created",
                                       "probe_rnn_version") if k in written}
    return {
        "model_card": T.card_table(model, skip=("meta",)),
        "training_card": T.card_table(model.get("meta") or {}),
        "data_card": T.card_table(_data_card(data)),
        "run_details": T.card_table(details),
    }


def _data_card(data: RunData) -> dict[str, Any]:
    """run.json's data section, with the rows actually probed beside the table's row count."""
    card = dict(data.run.data or {})
    probed = data.run.probed_rows or {}
    if probed.get("description"):
        card["probed"] = probed["description"]
    train = data.train_rows
    if train is not None and {"n_train", "n_test"} <= set(train) and len(train):
        rows = int((train["n_train"] + train["n_test"]).max())
        card["training rows probed"] = (f"{rows} of the training rows, for the held-out vs "
                                        "training-row comparison")
    return card


def _attribution_context(data: RunData) -> dict[str, object]:
    examples, vmax = T.token_examples(data.attribution)
    neurons = data.attribution.get("neurons")
    summary = data.attribution.get("summary")
    kind = data.run.tokenizer_kind
    if kind is None:  # an adapter's own tokens: words when any token is longer than a letter
        kind = "word" if any(len(t[0]) > 1 for ex in examples for t in ex.tokens) else "char"
    if data.attribution and not examples and "attribution" not in data.notes:
        data.notes["attribution"] = "attribution/tokens.parquet is missing or empty."
    return {
        "token_examples": examples, "vmax": vmax, "word_tokens": kind != "char",
        "neurons": T.frame_table(neurons, 200) if neurons is not None else None,
        "attribution_summary": T.frame_table(summary, 200) if summary is not None else None,
    }


def _toc(context: dict[str, object]) -> list[tuple[str, str]]:
    toc = [("findings", "Findings"), ("model", "Model and data"),
           ("diagnosis", "Output versus hidden state"), ("probing", "Probing")]
    if any(v["figures"]["timesteps"] or v["figures"]["memory"] for v in context["probe_views"]):
        toc.append(("probing-timesteps", "Probing over time"))
    if context["use_table"] is not None or "use" in context["notes"]:
        toc.append(("use", "Decodable vs used"))
    toc += [("attribution", "Attribution"), ("projections", "Projections"),
            ("results", "All results")]
    return toc


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


#: What each argument of :func:`build_report` accepts (:mod:`probe_rnn.validation`).
PARAMETER_CONSTRAINTS: dict[str, Any] = {
    "run_dir": PathLike(), "umap": Boolean(), "out": [None, PathLike()], "seed": SEED,
    "max_points": Interval(int, 3, None),
}


@white_by_default()  # the figures' template, set once for the page
def build_report(run_dir: str | Path, umap: bool = True, out: str | Path | None = None,
                 seed: int = 0, max_points: int = 1500, progress: Progress | None = None
                 ) -> Report:
    """Render the HTML report of a run folder without recomputing anything.

    Parameters
    ----------
    run_dir : str or Path
        Run folder (``probe-rnn probe ... --out DIR``).
    umap : bool
        Project states with UMAP (cached per view); ``False`` uses PCA.
    out : str or Path, optional
        Where to write the HTML (default ``DIR/index.html``).
    seed : int
        Seed of the projection subsample and fitter.
    max_points : int
        Most sentences shown per projection.
    progress : Progress, optional
        Shows the projections' progress (UMAP's first call compiles for 15-60 s).

    Returns
    -------
    Report

    Raises
    ------
    ReportError
        ``run.json`` or the results table is missing or unreadable.
    """
    validate_params(PARAMETER_CONSTRAINTS, locals())
    data = load_run(run_dir)
    target = Path(out) if out is not None else data.path / "index.html"
    store = data.store()
    equivalence = _equivalence(data)
    method = "umap" if umap else "pca"
    study_href = (_relative(data.readouts_dir.resolve() / "index.html", target.parent.resolve())
                  if data.readouts_dir is not None else None)
    probe_views = [_probe_view(data, equivalence, probe, i, study_href)
                   for i, probe in enumerate(ordered_probes(data.results))]
    _add_pair_finding(probe_views, store)
    figs: dict[str, F.go.Figure] = {}
    for view in probe_views:
        figs.update(view.pop("specs"))
    steps = F.step_attribution(data.attribution.get("steps"))
    if steps is not None:
        figs["fig-steps"] = steps
    hits: dict[str, bool] = {}
    projections = []
    for i, (view, fig, n) in enumerate(
            _projections(data, store, method, seed, max_points, hits, progress), start=1):
        figs[f"fig-proj-{i}"] = fig
        projections.append({"id": f"fig-proj-{i}", "view": view, "n": n})
    html_text = _render(data, target, figs, projections, probe_views, equivalence, method,
                        seed, max_points)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text(target, html_text)
    return Report(path=target, findings=probe_views[0]["findings"], figures=list(figs),
                  notes=dict(data.notes), projection_hits=hits,
                  probes=[v["name"] for v in probe_views if v["name"]],
                  answer=probe_views[0]["answer"])


def _equivalence(data: RunData) -> Equivalence | None:
    """What the run's diagnosis measured of output versus hidden (a note when nothing)."""
    equivalence = equivalence_of(data.diagnosis)
    if equivalence is None and "diagnosis" not in data.notes:
        data.notes["equivalence"] = ("diagnosis.csv holds no output@last vs h_n comparison (a "
                                     "cell loop has none; a run of an older probe-rnn: probe it "
                                     "again), so it is not shown.")
    return equivalence


_PER_PROBE_FIGURES = {"heatmap": F.probing_heatmap, "bars": F.view_bars,
                      "timesteps": F.timestep_curves, "memory": F.memory_span}


def _add_pair_finding(probe_views: list[dict[str, Any]], store: Any) -> None:
    """A pair model's finding: which readout its score reads (:mod:`.pair_readout`)."""
    pair = None if store is None else pair_readout(store)
    for view in probe_views if pair is not None else ():
        view["findings"].append(Finding(pair.sentence(), "diagnosis", "equivalence"))


def _probe_view(data: RunData, equivalence: Any, probe: str | None, index: int,
                study_href: str | None = None) -> dict[str, Any]:
    """Everything the report shows per probe: its figures (ids ``fig-heatmap`` for the first
    probe, ``fig-heatmap-2`` for the second, ...), the opening answer, findings and label
    tables; the probe menu shows one probe's at a time."""
    results = data.results[data.results["probe"] == probe] if probe else data.results
    train = data.train_rows
    if train is not None and probe and (train["probe"].astype(str) != probe).all():
        train = None  # the training-row probe is another probe: nothing to compare here
    suffix = "" if index == 0 else f"-{index + 1}"
    specs = {f"fig-{kind}{suffix}": draw(results, probe)
             for kind, draw in _PER_PROBE_FIGURES.items()}
    scoped, scoped_values, scoped_eq, site = answer_scope(results, data.values, data.diagnosis,
                                                          equivalence, data.run.model)
    use = use_parts(data.interventions, results, probe, suffix)
    return {
        "name": probe, "index": index,
        "specs": {k: v for k, v in {**specs, **use["specs"]}.items() if v is not None},
        "use_figures": {k: i for k, i in use["ids"].items() if use["specs"][i] is not None},
        "figures": {kind: f"fig-{kind}{suffix}" if specs[f"fig-{kind}{suffix}"] is not None
                    else None for kind in _PER_PROBE_FIGURES},
        "answer": make_answer(scoped, scoped_eq, scoped_values, study=data.readouts,
                              study_href=study_href, study_note=data.notes.get("readouts"),
                              model_card=data.run.model, site=site, use=use["sentence"]),
        "findings": with_use(make_findings(results, equivalence, data.run, data.attribution,
                                           values=data.values, train_rows=train),
                             use["finding"]),
        "label_tables": T.split_table(T.label_metrics_table(results, data.values),
                                      T.LABEL_TABLE_PARTS),
        "gap_table": T.training_gap_table(results, train),
        "heatmap_caption": CAPTIONS["fig-heatmap"].format(probe=probe or ""),
    }


def _render(data: RunData, target: Path, figs: dict[str, F.go.Figure],
            projections: list[dict[str, str]], probe_views: list[dict[str, Any]],
            equivalence: object, method: str, seed: int, max_points: int) -> str:
    from probe_rnn import __version__

    plotly_js, app_js = page.plotly_js(), page.static_text("report.js")
    base = target.parent.resolve()
    downloads = [{"name": n, "href": _relative(data.path.resolve() / n, base)}
                 for n in ("results.csv", "results.parquet", "run.json")
                 if (data.path / n).is_file()]
    tokens = data.attribution.get("tokens")
    methods = (", ".join(str(m) for m in tokens["method"].dropna().unique())
               if tokens is not None and "method" in tokens else "")
    captions = dict(CAPTIONS, **USE_CAPTIONS, **{
        "tokens": CAPTIONS["tokens"].format(method=methods or "method not recorded")})
    context: dict[str, object] = {
        "name": data.name, "version": __version__, "seed": seed, "method": method.upper(),
        "subtitle": _subtitle(data), "downloads": downloads, "probe_views": probe_views,
        "figures": list(figs), "captions": captions, "projections": projections,
        "projection_caption": CAPTIONS["projection"].format(method=method.upper(),
                                                            max_points=max_points),
        "figure_json": [{"id": k, "json": page.figure_json(v)} for k, v in figs.items()],
        "equivalence": T.equivalence_table(equivalence) if equivalence is not None else None,
        "equivalence_sites": [(eq.site, T.equivalence_table(eq))
                              for eq in equivalences_of(data.diagnosis) if eq.site is not None],
        "diagnosis": (T.frame_table(plain_explanations(data.diagnosis))
                      if data.diagnosis is not None else None),
        "results": T.results_table(data.results), "notes": data.notes,
        "use_table": (T.frame_table(data.interventions) if data.interventions is not None
                      else None),
        "results_href": next((d["href"] for d in downloads if d["name"] == "results.csv"),
                             "results.csv"),
        "built": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "css": markupsafe.Markup(page.static_text("report.css")), "plotly_js": plotly_js,
        "app_js": app_js, "csp": page.csp([plotly_js, app_js]),
        **_cards(data), **_attribution_context(data),
    }
    context["toc"] = _toc(context)
    return page.environment().get_template("index.html.j2").render(**context)


def _subtitle(data: RunData) -> str:
    cfg = data.run.model_config
    rows = data.run.data_rows
    parts = []
    if cfg:
        bi = "bidirectional " if cfg.get("bidirectional") else ""
        parts.append(f"{cfg.get('layers', '?')}-layer {bi}{str(cfg.get('rnn', 'rnn')).upper()}, "
                     f"hidden {cfg.get('hidden', '?')}, readout {cfg.get('readout', '?')}")
    if rows is not None:
        parts.append(f"{rows} sentences from {data.run.data_source}")
    labels = data.run.labels
    if labels:
        parts.append("labels " + ", ".join(str(x) for x in labels[:8]))
    return " · ".join(parts) or json.dumps(data.run.name or "")
