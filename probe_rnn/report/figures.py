"""Plotly figures of the report, built from the tidy results and the stored states.

Every string that comes from data (sentences, labels, view and task names) is HTML-escaped
before it enters a figure, because plotly.js renders ``<b>``, ``<br>``, ``<a>`` in hover text,
legends and tick labels; data goes into ``text``/``customdata`` only, never into a
``hovertemplate``. Scatter plots use SVG traces unless they exceed ``WEBGL_THRESHOLD`` points
(browsers allow only a handful of WebGL contexts per page).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from probe_rnn.report.figure_style import PALETTE, esc, rgba, style_figure
from probe_rnn.report.measures import base_view, score_metric, sentence_rows

WEBGL_THRESHOLD = 5000
METRIC_NAMES = {"accuracy": "accuracy", "r2": "R²", "bits": "information (bits)",
                "selectivity": "selectivity", "mdl_bits": "MDL codelength (bits)",
                "compression": "MDL compression", "control_accuracy": "control accuracy",
                "control_key_accuracy": "control key (first token) accuracy"}


@dataclass
class FigureSpec:
    """A figure and where it goes: ``id`` is the DOM id, ``section`` the report anchor."""

    id: str
    section: str
    figure: go.Figure


def _menu(labels: Sequence[str], visibility: Sequence[list[bool]], extra: Sequence[dict],
          y: float = 1.18) -> list[dict]:
    buttons = [{"label": esc(lab), "method": "update", "args": [{"visible": vis}, ex]}
               for lab, vis, ex in zip(labels, visibility, extra, strict=True)]
    return [{"buttons": buttons, "direction": "down", "x": 0, "xanchor": "left", "y": y,
             "yanchor": "top", "showactive": True}]


def _metric_menu(fig: go.Figure, labels: Sequence[str], groups: Sequence[range],
                 y: float = 1.18) -> dict:
    """A dropdown with one "task · metric" entry per group of traces; shows the first group.

    Returns the layout arguments (``updatemenus``, ``yaxis_title``) for :func:`style_figure`.
    """
    vis = [[i in g for i in range(len(fig.data))] for g in groups]
    for i in groups[0]:
        fig.data[i].visible = True
    extra = [{"yaxis.title.text": esc(lab.split(" · ")[1])} for lab in labels]
    return {"updatemenus": _menu(labels, vis, extra, y=y),
            "yaxis_title": esc(labels[0].split(" · ")[1])}


def _ordered(values: pd.Series) -> list[str]:
    return [str(v) for v in dict.fromkeys(values.dropna().astype(str))]


def probing_heatmap(results: pd.DataFrame, probe: str | None) -> go.Figure | None:
    """View × task heatmap of the trained model's score (accuracy/R²) and bits, with a toggle."""
    rows = sentence_rows(results)
    if probe is not None and (rows["probe"] == probe).any():
        rows = rows[rows["probe"] == probe]
    views, tasks = _ordered(rows["view"]), _ordered(rows["task"])
    if not views or not tasks:
        return None
    z_score = np.full((len(views), len(tasks)), np.nan)
    z_bits = np.full_like(z_score, np.nan)
    for j, task in enumerate(tasks):
        metric = score_metric(results, task)
        for z, m in ((z_score, metric), (z_bits, "bits")):
            cell = rows[(rows["task"] == task) & (rows["metric"] == m)]
            means = cell.groupby("view")["value"].mean()
            for i, view in enumerate(views):
                z[i, j] = means.get(view, np.nan)
    x, y = [esc(t) for t in tasks], [esc(v) for v in views]
    fig = go.Figure()
    for k, (z, scale, title) in enumerate(
        ((z_score, "Blues", "accuracy / R²"), (z_bits, "Purples", "bits"))
    ):
        fig.add_trace(go.Heatmap(
            z=z, x=x, y=y, colorscale=scale, visible=k == 0, texttemplate="%{z:.2f}",
            hovertemplate="view %{y}<br>task %{x}<br>" + title + " %{z:.3f}<extra></extra>",
            colorbar={"title": {"text": title}}, hoverongaps=False, xgap=1, ygap=1,
        ))
    style_figure(fig, height=max(320, 34 * len(views) + 160),
            updatemenus=_menu(["accuracy / R²", "information (bits)"],
                              [[True, False], [False, True]], [{}, {}]))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(side="bottom", automargin=True)
    return fig


_BOUNDED = {"accuracy", "control_accuracy", "majority_accuracy"}


def _clip_ci(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Accuracies live in [0, 1]: draw their intervals inside that range."""
    if metric in _BOUNDED:
        frame = frame.assign(ci_low=frame["ci_low"].clip(0.0, 1.0),
                             ci_high=frame["ci_high"].clip(0.0, 1.0))
    return frame


def _bar_trace(rows: pd.DataFrame, views: list[str], name: str, color: str) -> dict:
    """One bar per view (its mean value) with its interval, as the trace's properties (a
    figure made from them validates them once; a ``go.Bar`` added is validated again)."""
    means = rows.groupby("view")[["value", "ci_low", "ci_high"]].mean().reindex(views)
    means = _clip_ci(means, str(rows["metric"].iloc[0]) if len(rows) else "")
    value = means["value"].to_numpy()
    plus = (means["ci_high"] - means["value"]).to_numpy()
    minus = (means["value"] - means["ci_low"]).to_numpy()
    return {
        "type": "bar", "x": [esc(v) for v in views], "y": value, "name": name,
        "marker": {"color": color}, "visible": False,
        "error_y": {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus,
                    "thickness": 1.2, "width": 3},
        "customdata": np.column_stack([means["ci_low"], means["ci_high"]]),
        "hovertemplate": "%{x}<br>%{fullData.name} %{y:.3f} [%{customdata[0]:.3f}, "
                         "%{customdata[1]:.3f}]<extra></extra>",
    }


def view_bars(results: pd.DataFrame, probe: str | None) -> go.Figure | None:
    """Per-view bars with CIs for each (task, metric), random-init and majority alongside."""
    rows = results[results["t"].isna()]
    if probe is not None and (rows["probe"] == probe).any():
        rows = rows[rows["probe"] == probe]
    views = _ordered(sentence_rows(rows)["view"])
    cells = dict(tuple(rows.groupby(["task", "metric"], sort=False)))
    traces: list[dict] = []
    labels, groups = [], []
    for task in _ordered(rows["task"]):
        for metric in (score_metric(results, task), "bits", "selectivity",
                       "control_key_accuracy", "mdl_bits", "compression"):
            cell = cells.get((task, metric))
            trained = None if cell is None else sentence_rows(cell)
            if trained is None or trained["value"].notna().sum() == 0:
                continue
            first = len(traces)
            traces.append(_bar_trace(trained, views, "trained", PALETTE[0]))
            rand = cell[cell["model"] == "random-init"]
            if rand["value"].notna().any():
                traces.append(_bar_trace(rand, views, "random-init", "#b0b4bb"))
            base = _baseline(results, task, metric)
            if base is not None:
                traces.append({
                    "type": "scatter", "x": [esc(v) for v in views], "y": [base[1]] * len(views),
                    "mode": "lines", "name": base[0], "visible": False,
                    "line": {"dash": "dash", "color": "#d03a3a"},
                    "hovertemplate": "%{fullData.name} %{y:.3f}<extra></extra>"})
            labels.append(f"{task} · {METRIC_NAMES.get(metric, metric)}")
            groups.append(range(first, len(traces)))
    if not groups:
        return None
    fig = go.Figure(traces)
    style_figure(fig, height=460, barmode="group", **_metric_menu(fig, labels, groups))
    fig.update_xaxes(automargin=True, tickangle=-30)
    return fig


def _baseline(results: pd.DataFrame, task: str, metric: str) -> tuple[str, float] | None:
    if metric != "accuracy":
        return None
    rows = results[results["task"] == task]
    majority = rows.loc[rows["metric"] == "majority_accuracy", "value"].dropna()
    if not majority.empty:
        return "majority class", float(majority.mean())
    chance = rows["chance"].dropna()
    return ("chance", float(chance.mean())) if not chance.empty else None


def timestep_curves(results: pd.DataFrame, probe: str | None) -> go.Figure | None:
    """Score over timestep ``t`` per layer/direction with CI bands, from the start (left) and
    from each sentence's end (right); one menu entry per task; majority baseline dashed."""
    rows = results[(results["model"] == "trained") & results["t"].notna()]
    if probe is not None and (rows["probe"] == probe).any():
        rows = rows[rows["probe"] == probe]
    if rows.empty:
        return None
    rows = rows.assign(base=rows["view"].map(base_view), t=rows["t"].astype(int))
    sides = [s for s, m in (("start", rows["t"] >= 0), ("end", rows["t"] < 0)) if m.any()]
    titles = {"start": "from the start (t = 0 is the first token)",
              "end": "from the end (t = -1 is the last token)"}
    fig = make_subplots(rows=1, cols=len(sides), shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=[titles[s] for s in sides])
    labels, groups = [], []
    for task in _ordered(rows["task"]):
        metric = score_metric(results, task)
        cell = rows[(rows["task"] == task) & (rows["metric"] == metric)]
        if cell.empty:
            continue
        first = len(fig.data)
        for col, side in enumerate(sides, start=1):
            part = cell[(cell["t"] >= 0) if side == "start" else (cell["t"] < 0)]
            for k, base in enumerate(_ordered(cell["base"])):
                curve = part[part["base"] == base].groupby("t")[["value", "ci_low", "ci_high"]]
                if len(curve):
                    _add_curve(fig, _clip_ci(curve.mean().sort_index(), metric), esc(base),
                               PALETTE[k % len(PALETTE)], col, show=col == 1)
            _add_majority(fig, rows, task, side, col)
        labels.append(f"{task} · {METRIC_NAMES.get(metric, metric)}")
        groups.append(range(first, len(fig.data)))
    if not groups:
        return None
    style_figure(fig, height=460, **_metric_menu(fig, labels, groups, y=1.3))
    fig.update_layout(margin={"t": 110})
    fig.update_xaxes(title_text="t", dtick=1 if rows["t"].abs().max() <= 16 else None)
    return fig


def memory_span(results: pd.DataFrame, probe: str | None) -> go.Figure | None:
    """Accuracy of decoding the token read k steps earlier (``token-back-k``; ``current-token``
    is k = 0) from each per-token state, with CI bands and the chance level."""
    rows = results[(results["model"] == "trained") & results["t"].isna()
                   & (results["metric"] == "accuracy")]
    if probe is not None and (rows["probe"] == probe).any():
        rows = rows[rows["probe"] == probe]
    k = rows["task"].astype(str).str.extract(r"^token-back-(\d+)$")[0].astype(float)
    k[rows["task"] == "current-token"] = 0.0
    rows = rows.assign(k=k).dropna(subset=["k"])
    if rows["k"].nunique() < 2:
        return None
    fig = make_subplots(rows=1, cols=1)
    for i, view in enumerate(_ordered(rows["view"])):
        curve = rows[rows["view"] == view].groupby("k")[["value", "ci_low", "ci_high"]].mean()
        _add_curve(fig, _clip_ci(curve.sort_index(), "accuracy"), esc(view),
                   PALETTE[i % len(PALETTE)])
    chance = rows.groupby("k")["chance"].mean().sort_index()
    if chance.notna().any():
        fig.add_trace(go.Scatter(
            x=chance.index.to_numpy(), y=chance.to_numpy(), mode="lines", name="chance",
            line={"dash": "dash", "color": "#d03a3a", "width": 1.5},
            hovertemplate="chance at k=%{x}: %{y:.3f}<extra></extra>"), row=1, col=1)
    for trace in fig.data:
        trace.visible = True
    style_figure(fig, height=400, xaxis_title="k (the token read k steps before the state's step)",
            yaxis_title="accuracy")
    fig.update_xaxes(tickvals=sorted(rows["k"].unique()))
    return fig


def _add_majority(fig: go.Figure, rows: pd.DataFrame, task: str, side: str, col: int) -> None:
    maj = rows[(rows["task"] == task) & (rows["metric"] == "majority_accuracy")]
    maj = maj[(maj["t"] >= 0) if side == "start" else (maj["t"] < 0)]
    if maj.empty:
        return
    curve = maj.groupby("t")["value"].mean().sort_index()
    fig.add_trace(go.Scatter(
        x=curve.index.to_numpy(), y=curve.to_numpy(), mode="lines", name="majority class",
        line={"dash": "dash", "color": "#d03a3a", "width": 1.5}, visible=False,
        legendgroup="majority", showlegend=col == 1,
        hovertemplate="majority class at t=%{x}: %{y:.3f}<extra></extra>"), row=1, col=col)


def _add_curve(fig: go.Figure, curve: pd.DataFrame, name: str, color: str, col: int = 1,
               show: bool = True) -> None:
    t = curve.index.to_numpy(dtype=float)
    if curve["ci_low"].notna().any():
        fig.add_trace(go.Scatter(
            x=np.concatenate([t, t[::-1]]),
            y=np.concatenate([curve["ci_high"].to_numpy(), curve["ci_low"].to_numpy()[::-1]]),
            mode="lines", fill="toself", fillcolor=rgba(color, 0.15), line={"width": 0},
            hoverinfo="skip", showlegend=False, legendgroup=name, visible=False),
            row=1, col=col)
    fig.add_trace(go.Scatter(
        x=t, y=curve["value"].to_numpy(), mode="lines+markers", name=name, legendgroup=name,
        line={"color": color}, visible=False, showlegend=show,
        hovertemplate="%{fullData.name}<br>t=%{x}: %{y:.3f}<extra></extra>"), row=1, col=col)


def projection_figure(coords: np.ndarray, meta: pd.DataFrame, method: str) -> go.Figure:
    """Scatter of 2-D coordinates coloured by label, prediction or length (menu).

    The points are one trace (trace 0), so each sentence's text is stored once; the menu
    recolours it, and marker-only legend traces name the colours.

    Parameters
    ----------
    coords : np.ndarray
        Shape ``(points, 2)``.
    meta : pd.DataFrame
        The same points' ``text``, ``label``, ``prediction``, ``length`` (store meta rows).
    method : str
        ``umap`` or ``pca`` (axis titles).
    """
    trace = go.Scattergl if len(coords) > WEBGL_THRESHOLD else go.Scatter
    text = [esc(_clip(t)) for t in meta["text"]]
    label = [esc(v) for v in meta["label"].astype(str)]
    pred = ([esc(v) for v in meta["prediction"].astype(str)] if "prediction" in meta
            else ["?"] * len(meta))
    length = meta["length"].to_numpy() if "length" in meta else np.zeros(len(meta))
    classes = sorted(set(label) | set(pred))
    colors = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(classes)}
    fig = go.Figure(trace(
        x=coords[:, 0], y=coords[:, 1], mode="markers", name="sentences", text=text,
        customdata=np.column_stack([label, pred, length.astype(object)]), showlegend=False,
        hovertemplate="%{text}<br>label %{customdata[0]} · predicted %{customdata[1]} · "
                      "%{customdata[2]} tokens<extra></extra>",
        marker={"size": 6, "opacity": 0.8, "color": [colors[c] for c in label],
                "colorscale": "Viridis", "showscale": False,
                "colorbar": {"title": {"text": "tokens"}}}))
    keys = [("", c) for c in sorted(set(label))] + [("predicted ", c) for c in sorted(set(pred))]
    for prefix, c in keys:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=prefix + c,
                                 marker={"size": 8, "color": colors[c]}, hoverinfo="skip",
                                 visible=not prefix))
    dummy_colors = [colors[c] for _, c in keys]
    modes = [([colors[c] for c in label], False, ""), ([colors[c] for c in pred], False,
             "predicted "), (length.tolist(), True, None)]
    buttons = []
    for name, (main, scale, prefix) in zip(("label", "prediction", "length"), modes,
                                           strict=True):
        visible = [True] + [p == prefix for p, _ in keys]
        buttons.append({"label": f"colour: {name}", "method": "update", "args": [
            {"marker.color": [main, *dummy_colors], "marker.showscale": [scale] + [False] *
             len(keys), "visible": visible}, {}]})
    style_figure(fig, height=420, hovermode="closest", xaxis_title=f"{method.upper()} 1",
            yaxis_title=f"{method.upper()} 2",
            updatemenus=[{"buttons": buttons, "direction": "down", "x": 0, "xanchor": "left",
                          "y": 1.18, "yanchor": "top", "showactive": True}])
    fig.update_xaxes(showticklabels=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, zeroline=False)
    return fig


def _clip(text: object, limit: int = 300) -> str:
    s = str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def step_attribution(steps: pd.DataFrame) -> go.Figure | None:
    """Mean share of attribution per step before the end, one line per layer/direction/state."""
    need = {"layer", "direction", "state", "t_from_end", "share"}
    if steps is None or steps.empty or not need <= set(steps.columns):
        return None
    fig = go.Figure()
    keys = steps[["layer", "direction", "state"]].drop_duplicates().sort_values(
        ["state", "layer", "direction"])
    for k, (layer, direction, state) in enumerate(keys.itertuples(index=False)):
        part = steps[(steps["layer"] == layer) & (steps["direction"] == direction)
                     & (steps["state"] == state)]
        curve = part.groupby("t_from_end")["share"].agg(["mean", "count"]).sort_index()
        name = esc(f"{state} L{layer} {direction}")
        fig.add_trace(go.Scatter(
            x=curve.index.to_numpy(), y=curve["mean"].to_numpy(), mode="lines+markers",
            name=name, line={"color": PALETTE[k % len(PALETTE)]},
            customdata=curve["count"].to_numpy(),
            hovertemplate="%{fullData.name}<br>%{x} steps before the end: mean share %{y:.3f} "
                                 "(%{customdata} sentences)<extra></extra>"))
    style_figure(fig, height=400, xaxis_title="steps before the end (0 = last token)",
            yaxis_title="mean share of attribution")
    fig.update_xaxes(autorange="reversed")
    return fig
