"""The readout study's HTML page: ``DIR/index.html`` with the study's tables beside it.

The page answers "should I feed output or hidden state to the classifier?" from a
:class:`~probe_rnn.studies.ReadoutStudy`: the answer first, then the mechanics measured on one
trained model (the output-vs-hidden diagnosis), test accuracy with 95% intervals (each seed on
its own split, so they include the test set's sampling error), training curves, paired
differences with verdicts and minimum detectable differences, the Holm-corrected verdict of
each readout against the best, and the probing headline per readout. It follows the
report's rules: Jinja2 with autoescape, a Content-Security-Policy meta tag that admits only the
page's own inline scripts (by hash), the plotly runtime embedded once, figures as JSON data,
every data string escaped before plotly sees it, and no request leaving ``file:``. The page
machinery (environment, static files, runtime, CSP) is the report's own, from
:mod:`probe_rnn.report.build`.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from probe_rnn import __version__
from probe_rnn.errors import ReportError
from probe_rnn.report.figure_style import PALETTE, esc, style_figure, white_by_default
from probe_rnn.report.page import environment, figure_json, page_assets
from probe_rnn.report.tables import Table, fmt, frame_table, sort_key
from probe_rnn.studies.answer import study_answer

if TYPE_CHECKING:
    from probe_rnn.studies.study import ReadoutStudy

TEMPLATE = "readouts.html.j2"


def _colour(readouts: list[str], name: str) -> str:
    return PALETTE[readouts.index(name) % len(PALETTE)]


def _labels(study: ReadoutStudy, frame: Any) -> list[str]:
    """Row labels ``readout`` (or ``loss · readout`` when the study has several losses)."""
    if len(study.losses) > 1 and "loss" in frame:
        return [f"{loss} · {r}" for loss, r in zip(frame["loss"], frame["readout"], strict=True)]
    return [str(r) for r in frame["readout"]]


def _scale(study: ReadoutStudy) -> tuple[float, str]:
    """Multiplier and axis unit of the study's metric (accuracies in %, an AUC as is)."""
    return (100.0, " (%)") if study.objective.percent else (1.0, "")


def accuracy_figure(study: ReadoutStudy) -> go.Figure:
    """Test score per readout: every seed as a dot, the mean with its 95% t-interval."""
    fig = go.Figure()
    s = study.summary
    k, unit = _scale(study)
    low = (s["mean"] - s["ci_low"]).fillna(0.0) * k
    high = (s["ci_high"] - s["mean"]).fillna(0.0) * k
    fig.add_trace(go.Scatter(
        x=[esc(r) for r in _labels(study, s)], y=s["mean"] * k, mode="markers",
        name="mean, 95% CI", marker={"size": 13, "symbol": "diamond", "color": "#1d232b"},
        error_y={"type": "data", "symmetric": False, "array": high, "arrayminus": low},
        hovertemplate="%{x}: mean %{y:.3f}<extra></extra>",
    ))
    runs = study.runs
    fig.add_trace(go.Scatter(
        x=[esc(r) for r in _labels(study, runs)], y=runs[study.objective.metric] * k,
        mode="markers", name="one seed", marker={"size": 8, "color": "#ff725c", "opacity": 0.7},
        customdata=runs["seed"], hovertemplate="%{x}, seed %{customdata}: %{y:.3f}<extra></extra>",
    ))
    return style_figure(fig, height=380, yaxis_title=f"{study.objective.metric_label}{unit}",
                   xaxis_title="readout")


def curves_figure(study: ReadoutStudy) -> go.Figure:
    """Dev score per epoch per readout: mean over seeds, band = range across seeds."""
    fig = go.Figure()
    k, unit = _scale(study)
    dev = study.objective.dev_metric
    curves = study.curves.assign(series=_labels(study, study.curves))
    readouts = list(dict.fromkeys(_labels(study, study.summary)))
    agg = curves.groupby(["series", "epoch"])[dev].agg(
        ["mean", "min", "max", "count"]).reset_index()
    for name in readouts:
        part = agg[agg["series"] == name]
        colour = _colour(readouts, name)
        fig.add_trace(go.Scatter(
            x=list(part["epoch"]) + list(part["epoch"])[::-1],
            y=list(part["max"] * k) + list(part["min"] * k)[::-1], fill="toself",
            fillcolor=colour, opacity=0.18, line={"width": 0}, hoverinfo="skip",
            showlegend=False, legendgroup=esc(name),
        ))
        fig.add_trace(go.Scatter(
            x=part["epoch"], y=part["mean"] * k, mode="lines+markers", name=esc(name),
            legendgroup=esc(name), line={"color": colour}, customdata=part["count"],
            hovertemplate="epoch %{x}: %{y:.3f} (mean of %{customdata} seeds)<extra></extra>",
        ))
    return style_figure(fig, height=400, xaxis_title="epoch",
                   yaxis_title=f"dev {study.objective.metric_label.replace('held-out ', '')}"
                               f"{unit}")


def probing_figure(study: ReadoutStudy) -> go.Figure | None:
    """Label bits per view, one bar group per readout (mean over seeds, bars = range)."""
    if study.probing.empty:
        return None
    bits = study.probing[study.probing["metric"] == "bits"]
    bits = bits.assign(series=_labels(study, bits))
    agg = bits.groupby(["series", "view"])["value"].agg(["mean", "min", "max"]).reset_index()
    views = [v for v in study.settings.get("probe_views", []) if v in set(agg["view"])]
    readouts = list(dict.fromkeys(_labels(study, study.summary)))
    fig = go.Figure()
    for name in readouts:
        part = agg[agg["series"] == name].set_index("view").reindex(views)
        fig.add_trace(go.Bar(
            x=[esc(v) for v in views], y=part["mean"], name=esc(name),
            marker_color=_colour(readouts, name),
            error_y={"type": "data", "symmetric": False, "array": part["max"] - part["mean"],
                     "arrayminus": part["mean"] - part["min"]},
            hovertemplate="%{x}: %{y:.3f} bits<extra></extra>",
        ))
    return style_figure(fig, height=420, barmode="group", yaxis_title="label information (bits)",
                   xaxis_title="state view of the trained model")


def readout_figures(study: ReadoutStudy) -> dict[str, go.Figure]:
    """DOM id -> figure, for every figure the page shows."""
    with white_by_default():
        figs = {"fig-accuracy": accuracy_figure(study), "fig-curves": curves_figure(study)}
        probing = probing_figure(study)
    if probing is not None:
        figs["fig-probing"] = probing
    return figs


def _pct(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x * 100:.2f}%"


def _points(x: float) -> str:
    return "" if math.isnan(x) else f"{x * 100:+.2f}"


def _score(study: ReadoutStudy, x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return _pct(x) if study.objective.percent else f"{x:.3f}"


def _loss_cells(study: ReadoutStudy, row: Any) -> list[str]:
    return [str(row.loss)] if len(study.losses) > 1 else []


def accuracy_table(study: ReadoutStudy) -> Table:
    """Per readout: what it reads, seeds, mean score, 95% CI, spread, verdict, and the mean of
    the objective's further scores (perplexity, pair accuracy, distance AUC)."""
    from probe_rnn.studies.objectives import READOUT_LABELS

    obj = study.objective
    extras = [c for c in obj.extras if c in study.runs]
    means = (study.runs.groupby(["loss", "readout"] if "loss" in study.runs else ["readout"])
             [extras].mean() if extras else None)
    rows, keys = [], []
    for r in study.summary.itertuples(index=False):
        ci = "" if math.isnan(r.ci_low) else f"{_score(study, r.ci_low)} to " \
                                             f"{_score(study, r.ci_high)}"
        spread = r.std * 100 if not math.isnan(r.std) else r.std
        cells = [*_loss_cells(study, r), r.readout, READOUT_LABELS.get(r.readout, ""),
                 str(r.n_seeds), _score(study, r.mean), ci, fmt(spread, 2),
                 f"{_score(study, r.min)} to {_score(study, r.max)}", r.vs_best]
        ks = [*([None] * len(_loss_cells(study, r))), None, None, float(r.n_seeds),
              sort_key(r.mean), sort_key(r.ci_low), sort_key(r.std), sort_key(r.min), None]
        for column in extras:
            index = (r.loss, r.readout) if "loss" in study.runs else r.readout
            value = float(means.loc[index, column])
            cells.append(fmt(value, 3) if "perplexity" in column else _score(study, value))
            ks.append(sort_key(value))
        rows.append(cells)
        keys.append(ks)
    head = ["loss"] if len(study.losses) > 1 else []
    return Table([*head, "readout", "reads", "seeds", f"mean {obj.metric_label}",
                  _ci_header(study), "std (points)", "range",
                  "verdict vs best (Holm over the comparisons with it)",
                  *(f"mean {c.replace('_', ' ')}" for c in extras)], rows, keys)


def _ci_header(study: ReadoutStudy) -> str:
    if study.settings.get("split_per_seed"):
        return "95% CI (t across seeds, each on its own split; Nadeau–Bengio)"
    return "95% CI (t across seeds, one shared split)"


def pairs_table(study: ReadoutStudy) -> Table:
    """Paired differences a − b in points with interval, p-value, the minimum detectable
    difference (80% power) and the verdict (each pair on its own, uncorrected)."""
    rows, keys = [], []
    for p in study.pairs.itertuples(index=False):
        ci = "" if math.isnan(p.ci_low) else f"{_points(p.ci_low)} to {_points(p.ci_high)}"
        mdd = float(getattr(p, "mdd", math.nan))
        rows.append([*_loss_cells(study, p), f"{p.readout_a} − {p.readout_b}", str(p.n_pairs),
                     _points(p.mean_diff), ci, fmt(p.p_value, 3),
                     "" if math.isnan(mdd) else f"{mdd * 100:.2f}", p.verdict])
        keys.append([*([None] * len(_loss_cells(study, p))), None, float(p.n_pairs),
                     sort_key(p.mean_diff), sort_key(p.ci_low), sort_key(p.p_value),
                     sort_key(mdd), None])
    head = ["loss"] if len(study.losses) > 1 else []
    return Table([*head, "a − b", "paired seeds", "mean difference (points)", "95% CI (paired t)",
                  "p (paired t-test)", "minimum detectable difference (points, 80% power)",
                  "verdict (this pair alone)"], rows, keys)


def probing_table(study: ReadoutStudy) -> Table | None:
    """Label bits (mean over seeds, with the range) per (loss,) readout and view."""
    if study.probing.empty:
        return None
    bits = study.probing[study.probing["metric"] == "bits"]
    many = len(study.losses) > 1
    rows, keys, columns = [], [], []
    for loss in study.losses:
        head = study.probing_headline(loss)
        part = bits[bits["loss"] == loss] if loss is not None and "loss" in bits else bits
        rng = part.groupby(["readout", "view"])["value"].agg(["min", "max"])
        columns = list(map(str, head.columns))
        for readout, values in head.iterrows():
            cells, ks = [*([str(loss)] if many else []), str(readout)], [None] * (1 + many)
            for view, value in values.items():
                lo, hi = rng.loc[(readout, view)]
                cells.append(f"{value:.3f} ({lo:.3f} to {hi:.3f})" if hi > lo
                             else f"{value:.3f}")
                ks.append(sort_key(value))
            rows.append(cells)
            keys.append(ks)
    entropy = study.probing[study.probing["metric"] == "entropy_bits"]["value"]
    note = (f"H(label) ≈ {entropy.mean():.3f} bits: a view carrying all label information "
            "reaches it." if len(entropy) else "")
    return Table([*(["loss"] if many else []), "model trained with readout", *columns], rows,
                 keys, note)


def _mechanics(study: ReadoutStudy) -> list[str]:
    """Distinct diagnosis sentences (already carrying this model's numbers)."""
    if study.diagnosis.empty:
        return []
    return list(dict.fromkeys(str(t) for t in study.diagnosis["explanation"]))


def _objective_items(study: ReadoutStudy) -> list[tuple[str, Any]]:
    obj = study.objective
    items: list[tuple[str, Any]] = [("setting", f"{obj.name}: {obj.setting}"),
                                    ("compared score", obj.metric_label)]
    if obj.name == "autoencode":
        items.append(("decoder", "same cell, layers and hidden size, unidirectional; initial h "
                                 "= linear bridge(readout) (h_n of every layer for hidden), "
                                 "initial c = 0; teacher forcing on <bos> x1..xL -> x1..xL <eos>"))
    if obj.name == "siamese":
        from probe_rnn.studies.siamese import CONTRASTIVE_MARGIN

        items.append(("losses", ", ".join(map(str, study.losses)) + "; mse = (cos − y)², "
                      f"contrastive = y·d² + (1 − y)·max(0, {CONTRASTIVE_MARGIN} − d)² on the "
                      "Euclidean distance d; pairs: same label = similar, half similar, "
                      "within one split"))
    return items


def _split_label(settings: dict[str, Any]) -> str:
    if settings.get("split_per_seed"):
        return ("splits (each seed its own, seeded by the seed; readouts share it; "
                f"Nadeau–Bengio ratio {settings.get('nb_ratio', 0):.3f})")
    return "splits (one split shared by every run)"


def _settings_table(study: ReadoutStudy) -> Table:
    s = study.settings
    direction = "bidirectional" if s.get("bidirectional") else "unidirectional"
    items = [
        *_objective_items(study),
        ("data", s.get("source", "table given in Python")), ("rows", s.get("rows")),
        (_split_label(s), ", ".join(f"{k} {v}" for k, v in s.get("splits", {}).items())),
        ("labels", ", ".join(s.get("labels", []))),
        ("architecture", f"{s.get('rnn')} · {s.get('layers')} layer(s) · hidden "
                         f"{s.get('hidden')} · {direction}"
                         f" · embedding {s.get('embedding_dim')} · tokenizer {s.get('tokenizer')}"),
        ("batches", "packed sequences" if s.get("packed") else "padded (not packed)"),
        ("budget (same for every run)", f"≤ {s.get('epochs')} epochs, batch {s.get('batch_size')}"
                                        f", lr {s.get('lr')}, early stopping patience "
                                        f"{s.get('patience')} on the dev score"),
        ("seeds (paired across readouts)", ", ".join(map(str, s.get("seeds", [])))),
        ("diagnosed model", " seed ".join(map(str, s.get("diagnosed", [])))),
        ("probing sample", f"{s.get('probe_rows')} rows (held-out first), logistic probe, "
                           "5-fold by sentence" if s.get("probe") else "not probed"),
        ("wall time", f"{s.get('seconds')} s with {s.get('jobs')} job(s)"),
    ]
    return Table(["setting", "value"], [[k, fmt(v)] for k, v in items],
                 [[None, None]] * len(items))


def render_readout_page(study: ReadoutStudy, title: str | None = None,
                        own_report: str | None = None) -> str:
    """The study's HTML page as a string (self-contained; see module docstring);
    ``own_report``: the relative link to the report of the user's own checkpoint on the same
    data (shown in the header), when there is one."""
    env = environment()
    figs = readout_figures(study)
    obj = study.objective
    runs = study.runs.assign(**{c: study.runs[c].map(lambda x: _score(study, x))
                                for c in (obj.metric, obj.dev_metric) if c in study.runs})
    diag = study.diagnosis[[c for c in ("module", "check", "value", "unit")
                            if c in study.diagnosis]] if not study.diagnosis.empty else None
    context = {
        **page_assets(), "version": __version__,
        "title": title or str(study.settings.get("source", "readout study")),
        "answer": study_answer(study), "mechanics": _mechanics(study),
        "settings": _settings_table(study), "accuracy": accuracy_table(study),
        "pairs": pairs_table(study), "probing": probing_table(study),
        "runs": frame_table(runs), "diagnosis": frame_table(diag) if diag is not None else None,
        "figures": list(figs), "figure_json": [{"id": k, "json": figure_json(v)}
                                               for k, v in figs.items()],
        "packed": bool(study.settings.get("packed", True)),
        "split_per_seed": bool(study.settings.get("split_per_seed")),
        "still_improving": len(study.still_improving()), "runs_total": len(study.runs),
        "bidirectional": bool(study.settings.get("bidirectional")),
        "built": datetime.now(UTC).isoformat(timespec="seconds"),
        "seeds": len(study.settings.get("seeds", [])),
        "diagnosed": "readout {}, seed {}".format(*study.settings.get("diagnosed", ["?", "?"])),
        "objective": obj, "several_losses": len(study.losses) > 1,
        "models": list(study.settings.get("models", [])),
        "own_report": own_report,
    }
    return env.get_template(TEMPLATE).render(**context)


def write_readout_report(study: ReadoutStudy, out_dir: str | Path,
                         title: str | None = None, own_report: str | Path | None = None) -> Path:
    """Write ``out_dir/index.html`` and the study's csv tables beside it; return the page path.

    ``own_report``: the report of the user's own checkpoint on the same data, linked from the
    page's header (default: the run report of the folder holding ``out_dir``, when
    ``out_dir`` sits inside a probe run folder, one with ``run.json``)."""
    out = Path(out_dir)
    if own_report is None:
        holder = next((p for p in (out.parent, out.parent.parent) if (p / "run.json").is_file()),
                      None)
        own_report = None if holder is None else holder / "index.html"
    link = None if own_report is None else os.path.relpath(Path(own_report), out)
    try:
        study.save(out)
        page = out / "index.html"
        page.write_text(render_readout_page(study, title, link), encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out}: {exc.strerror or exc}") from exc
    return page
