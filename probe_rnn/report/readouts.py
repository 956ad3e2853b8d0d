"""The readout study's HTML page: ``DIR/index.html`` with the study's tables beside it.

The page answers "should I feed output or hidden state to the classifier?" from a
:class:`~probe_rnn.studies.ReadoutStudy`: the answer first, then the mechanics measured on one
trained model (the output-vs-hidden diagnosis), test accuracy with 95% intervals, training
curves, paired differences with verdicts, and the probing headline per readout. It follows the
report's rules: Jinja2 with autoescape, a Content-Security-Policy meta tag that admits only the
page's own inline scripts (by hash), the plotly runtime embedded once, figures as JSON data,
every data string escaped before plotly sees it, and no request leaving ``file:``. The page
machinery (environment, static files, runtime, CSP) is the report's own, from
:mod:`probe_rnn.report.build`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from probe_rnn import __version__
from probe_rnn.errors import ReportError

# the report's own page machinery: one Jinja environment (autoescape, StrictUndefined), the
# static CSS/JS, the cached plotly runtime and the hash-based CSP, so both pages obey one set
# of rules
from probe_rnn.report.build import _csp, _environment, _figure_json, _plotly_js, _static
from probe_rnn.report.figures import PALETTE, _layout, esc
from probe_rnn.report.tables import Table, fmt, frame_table

if TYPE_CHECKING:
    from probe_rnn.studies.readouts import ReadoutStudy

__all__ = ["write_readout_report", "render_readout_page", "readout_figures"]

TEMPLATE = "readouts.html.j2"


def _colour(readouts: list[str], name: str) -> str:
    return PALETTE[readouts.index(name) % len(PALETTE)]


def accuracy_figure(study: ReadoutStudy) -> go.Figure:
    """Test accuracy per readout: every seed as a dot, the mean with its 95% t-interval."""
    fig = go.Figure()
    s = study.summary
    low = (s["mean"] - s["ci_low"]).fillna(0.0) * 100
    high = (s["ci_high"] - s["mean"]).fillna(0.0) * 100
    fig.add_trace(go.Scatter(
        x=[esc(r) for r in s["readout"]], y=s["mean"] * 100, mode="markers", name="mean, 95% CI",
        marker={"size": 13, "symbol": "diamond", "color": "#1d232b"},
        error_y={"type": "data", "symmetric": False, "array": high, "arrayminus": low},
        hovertemplate="%{x}: mean %{y:.2f}%<extra></extra>",
    ))
    runs = study.runs
    fig.add_trace(go.Scatter(
        x=[esc(r) for r in runs["readout"]], y=runs["test_accuracy"] * 100, mode="markers",
        name="one seed", marker={"size": 8, "color": "#ff725c", "opacity": 0.7},
        customdata=runs["seed"], hovertemplate="%{x}, seed %{customdata}: %{y:.2f}%<extra></extra>",
    ))
    return _layout(fig, height=380, yaxis_title="test accuracy (%)", xaxis_title="readout")


def curves_figure(study: ReadoutStudy) -> go.Figure:
    """Dev accuracy per epoch per readout: mean over seeds, band = range across seeds."""
    fig = go.Figure()
    readouts = list(study.summary["readout"])
    agg = study.curves.groupby(["readout", "epoch"])["dev_accuracy"].agg(
        ["mean", "min", "max", "count"]).reset_index()
    for name in readouts:
        part = agg[agg["readout"] == name]
        colour = _colour(readouts, name)
        fig.add_trace(go.Scatter(
            x=list(part["epoch"]) + list(part["epoch"])[::-1],
            y=list(part["max"] * 100) + list(part["min"] * 100)[::-1], fill="toself",
            fillcolor=colour, opacity=0.18, line={"width": 0}, hoverinfo="skip",
            showlegend=False, legendgroup=esc(name),
        ))
        fig.add_trace(go.Scatter(
            x=part["epoch"], y=part["mean"] * 100, mode="lines+markers", name=esc(name),
            legendgroup=esc(name), line={"color": colour}, customdata=part["count"],
            hovertemplate="epoch %{x}: %{y:.2f}% (mean of %{customdata} seeds)<extra></extra>",
        ))
    return _layout(fig, height=400, xaxis_title="epoch", yaxis_title="dev accuracy (%)")


def probing_figure(study: ReadoutStudy) -> go.Figure | None:
    """Label bits per view, one bar group per readout (mean over seeds, bars = range)."""
    if study.probing.empty:
        return None
    bits = study.probing[study.probing["metric"] == "bits"]
    agg = bits.groupby(["readout", "view"])["value"].agg(["mean", "min", "max"]).reset_index()
    views = [v for v in study.settings.get("probe_views", []) if v in set(agg["view"])]
    readouts = list(study.summary["readout"])
    fig = go.Figure()
    for name in readouts:
        part = agg[agg["readout"] == name].set_index("view").reindex(views)
        fig.add_trace(go.Bar(
            x=[esc(v) for v in views], y=part["mean"], name=esc(name),
            marker_color=_colour(readouts, name),
            error_y={"type": "data", "symmetric": False, "array": part["max"] - part["mean"],
                     "arrayminus": part["mean"] - part["min"]},
            hovertemplate="%{x}: %{y:.3f} bits<extra></extra>",
        ))
    return _layout(fig, height=420, barmode="group", yaxis_title="label information (bits)",
                   xaxis_title="state view of the trained model")


def readout_figures(study: ReadoutStudy) -> dict[str, go.Figure]:
    """DOM id -> figure, for every figure the page shows."""
    figs = {"fig-accuracy": accuracy_figure(study), "fig-curves": curves_figure(study)}
    probing = probing_figure(study)
    if probing is not None:
        figs["fig-probing"] = probing
    return figs


def _pct(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x * 100:.2f}%"


def _points(x: float) -> str:
    return "" if math.isnan(x) else f"{x * 100:+.2f}"


def _key(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def accuracy_table(study: ReadoutStudy) -> Table:
    """Per readout: what it reads, seeds, mean test accuracy, 95% CI, spread, verdict."""
    from probe_rnn.studies.readouts import READOUT_LABELS

    rows, keys = [], []
    for r in study.summary.itertuples(index=False):
        ci = "" if math.isnan(r.ci_low) else f"{_pct(r.ci_low)} to {_pct(r.ci_high)}"
        rows.append([r.readout, READOUT_LABELS.get(r.readout, ""), str(r.n_seeds), _pct(r.mean),
                     ci, fmt(r.std * 100 if not math.isnan(r.std) else r.std, 2),
                     f"{_pct(r.min)} to {_pct(r.max)}", r.vs_best])
        keys.append([None, None, float(r.n_seeds), _key(r.mean), _key(r.ci_low), _key(r.std),
                     _key(r.min), None])
    return Table(["readout", "reads", "seeds", "mean test accuracy", "95% CI (t, across seeds)",
                  "std (points)", "range", "verdict vs best"], rows, keys)


def pairs_table(study: ReadoutStudy) -> Table:
    """Paired differences a − b in accuracy points with interval, p-value and verdict."""
    rows, keys = [], []
    for p in study.pairs.itertuples(index=False):
        ci = "" if math.isnan(p.ci_low) else f"{_points(p.ci_low)} to {_points(p.ci_high)}"
        rows.append([f"{p.readout_a} − {p.readout_b}", str(p.n_pairs), _points(p.mean_diff), ci,
                     fmt(p.p_value, 3), p.verdict])
        keys.append([None, float(p.n_pairs), _key(p.mean_diff), _key(p.ci_low), _key(p.p_value),
                     None])
    return Table(["a − b", "paired seeds", "mean difference (points)", "95% CI (paired t)",
                  "p (paired t-test)", "verdict"], rows, keys)


def probing_table(study: ReadoutStudy) -> Table | None:
    """Label bits (mean over seeds, with the range) per readout and view."""
    if study.probing.empty:
        return None
    head = study.probing_headline()
    bits = study.probing[study.probing["metric"] == "bits"]
    rng = bits.groupby(["readout", "view"])["value"].agg(["min", "max"])
    rows, keys = [], []
    for readout, values in head.iterrows():
        cells, ks = [str(readout)], [None]
        for view, value in values.items():
            lo, hi = rng.loc[(readout, view)]
            cells.append(f"{value:.3f} ({lo:.3f} to {hi:.3f})" if hi > lo else f"{value:.3f}")
            ks.append(_key(value))
        rows.append(cells)
        keys.append(ks)
    entropy = study.probing[study.probing["metric"] == "entropy_bits"]["value"]
    note = (f"H(label) ≈ {entropy.mean():.3f} bits: a view carrying all label information "
            "reaches it." if len(entropy) else "")
    return Table(["model trained with readout", *map(str, head.columns)], rows, keys, note)


def _mechanics(study: ReadoutStudy) -> list[str]:
    """Distinct diagnosis sentences (already carrying this model's numbers)."""
    if study.diagnosis.empty:
        return []
    return list(dict.fromkeys(str(t) for t in study.diagnosis["explanation"]))


def _settings_table(study: ReadoutStudy) -> Table:
    s = study.settings
    direction = "bidirectional" if s.get("bidirectional") else "unidirectional"
    items = [
        ("data", s.get("source", "table given in Python")), ("rows", s.get("rows")),
        ("splits (shared by every run)", ", ".join(f"{k} {v}" for k, v in
                                                   s.get("splits", {}).items())),
        ("labels", ", ".join(s.get("labels", []))),
        ("architecture", f"{s.get('rnn')} · {s.get('layers')} layer(s) · hidden "
                         f"{s.get('hidden')} · {direction}"
                         f" · embedding {s.get('embedding_dim')} · tokenizer {s.get('tokenizer')}"),
        ("batches", "packed sequences" if s.get("packed") else "padded (not packed)"),
        ("budget (same for every run)", f"≤ {s.get('epochs')} epochs, batch {s.get('batch_size')}"
                                        f", lr {s.get('lr')}, early stopping patience "
                                        f"{s.get('patience')} on dev accuracy"),
        ("seeds (paired across readouts)", ", ".join(map(str, s.get("seeds", [])))),
        ("diagnosed model", " seed ".join(map(str, s.get("diagnosed", [])))),
        ("probing sample", f"{s.get('probe_rows')} rows (held-out first), logistic probe, "
                           "5-fold by sentence" if s.get("probe") else "not probed"),
        ("wall time", f"{s.get('seconds')} s with {s.get('jobs')} job(s)"),
    ]
    return Table(["setting", "value"], [[k, fmt(v)] for k, v in items],
                 [[None, None]] * len(items))


def _assets() -> dict[str, str]:
    """The report's CSS, page script and plotly runtime, with a CSP admitting only them."""
    try:
        css, app_js = _static("report.css"), _static("report.js")
    except OSError as exc:
        raise ReportError(f"the report's static files are missing ({exc}); reinstall probe-rnn"
                          ) from exc
    plotly_js = _plotly_js()
    return {"css": css, "app_js": app_js, "plotly_js": plotly_js,
            "csp": _csp([plotly_js, app_js])}


def render_readout_page(study: ReadoutStudy, title: str | None = None) -> str:
    """The study's HTML page as a string (self-contained; see module docstring)."""
    env = _environment()
    figs = readout_figures(study)
    runs = study.runs.assign(
        test_accuracy=study.runs["test_accuracy"].map(_pct),
        dev_accuracy=study.runs["dev_accuracy"].map(_pct))
    diag = study.diagnosis[[c for c in ("module", "check", "value", "unit")
                            if c in study.diagnosis]] if not study.diagnosis.empty else None
    context = {
        **_assets(), "version": __version__,
        "title": title or str(study.settings.get("source", "readout study")),
        "answer": study.answer(), "mechanics": _mechanics(study),
        "settings": _settings_table(study), "accuracy": accuracy_table(study),
        "pairs": pairs_table(study), "probing": probing_table(study),
        "runs": frame_table(runs), "diagnosis": frame_table(diag) if diag is not None else None,
        "figures": list(figs), "figure_json": [{"id": k, "json": _figure_json(v)}
                                               for k, v in figs.items()],
        "packed": bool(study.settings.get("packed", True)),
        "bidirectional": bool(study.settings.get("bidirectional")),
        "built": datetime.now(UTC).isoformat(timespec="seconds"),
        "seeds": len(study.settings.get("seeds", [])),
        "diagnosed": "readout {}, seed {}".format(*study.settings.get("diagnosed", ["?", "?"])),
    }
    return env.get_template(TEMPLATE).render(**context)


def write_readout_report(study: ReadoutStudy, out_dir: str | Path,
                         title: str | None = None) -> Path:
    """Write ``out_dir/index.html`` and the study's csv tables beside it; return the page path."""
    out = Path(out_dir)
    try:
        study.save(out)
        page = out / "index.html"
        page.write_text(render_readout_page(study, title), encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out}: {exc.strerror or exc}") from exc
    return page
