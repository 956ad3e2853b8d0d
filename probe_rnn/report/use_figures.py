"""The "decodable vs used" figures: what a probe reads beside what the head does.

:func:`decodable_vs_used` draws, per whole-sentence view, the probe's label information
(bits) beside the model's accuracy drop when the label is erased from the view (with the
random-subspace control of the same rank) and the share of pairs whose prediction follows
the source when the view is patched. :func:`use_over_time` draws the probe of the label on
the state at step ``t`` (the probing-over-time curve) above the patching follow rate and the
erasure drop at the same ``t``. Conventions of :mod:`probe_rnn.report.figures`: SVG traces,
every data string escaped, data in ``customdata`` only; an intervention whose sanity check
failed is drawn hatched and says so in its hover.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from probe_rnn.report.figure_style import PALETTE, esc, rgba, style_figure
from probe_rnn.report.measures import base_view
from probe_rnn.report.use_data import (
    DROP,
    ERASURE,
    FOLLOW,
    PATCHING,
    Number,
    ViewUse,
    number,
)

_GREY = "#b0b4bb"
#: The captions of the two figures (the report's template writes them under each).
CAPTIONS = {
    "fig-use": "Left: how much label information a probe reads from each state (bits, as in "
    "the label table). Middle and right: what the model's own head does when the state is "
    "changed inside its forward pass (through the unrolled twin, so later steps and layers "
    "see the change): the drop in the model's accuracy when the label is erased from the "
    "state (LEACE) beside the drop when a random subspace of the same rank is erased, and the "
    "share of pairs of held-out sentences with different predictions whose prediction "
    "follows the other sentence when this state is copied from it. Whiskers: paired 95% "
    "intervals. A hatched bar is an intervention whose own sanity check failed (hover it): "
    "no claim rests on it. A state can be decodable and unused: high bits, a drop within its "
    "control and a low follow rate.",
    "fig-use-steps": "Top: a probe of the label on the state at step t (the probing-over-time "
    "curve; the menu switches accuracy and bits). Bottom: the same state at t intervened on: "
    "the share of pairs whose prediction follows the source when the state at t is patched "
    "(solid) and the accuracy drop when the label is erased from it (dotted), with paired 95% "
    "intervals; a cross marks a failed sanity check.",
}


def _bars(views: list[str], numbers: list[Number | None], name: str, color: str,
          unit: str) -> go.Bar:
    """One bar per view (``None``: a gap), whiskers from the intervals, failed checks
    hatched with the check in the hover."""
    value = [np.nan if n is None else n.value for n in numbers]
    low = [np.nan if n is None else n.low for n in numbers]
    high = [np.nan if n is None else n.high for n in numbers]
    check = [esc("" if n is None or not n.failed else
                 f"sanity check failed: {n.sanity or 'no reason recorded'}") for n in numbers]
    return go.Bar(
        x=[esc(v) for v in views], y=value, name=name, marker_color=color,
        marker_pattern_shape=["x" if n is not None and n.failed else "" for n in numbers],
        error_y={"type": "data", "symmetric": False, "thickness": 1.2, "width": 3,
                 "array": np.subtract(high, value), "arrayminus": np.subtract(value, low)},
        customdata=np.array(list(zip(low, high, check, strict=True)), dtype=object),
        legendgroup=name, showlegend=True,
        hovertemplate="%{x}<br>%{fullData.name} " + unit + " %{y:.3f} [%{customdata[0]:.3f}, "
                      "%{customdata[1]:.3f}]<br>%{customdata[2]}<extra></extra>")


def _bits(u: ViewUse) -> Number | None:
    return None if u.bits is None else Number(u.bits.value, u.bits.low, u.bits.high)


def decodable_vs_used(uses: list[ViewUse]) -> go.Figure | None:
    """Per view: label bits | accuracy drop under erasure (and its control) | follow rate."""
    if not uses:
        return None
    views = [u.view for u in uses]
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08, subplot_titles=[
        "decodable: label information (bits)", "used: accuracy drop when erased",
        "used: prediction follows a patch"])
    parts = [(1, "probe", "bits", PALETTE[0], [_bits(u) for u in uses]),
             (2, "erasure (LEACE)", "drop", PALETTE[2], [u.erasure for u in uses]),
             (2, "random subspace, same rank", "drop", _GREY, [u.control for u in uses]),
             (3, "patching", "follow rate", PALETTE[4], [u.follow for u in uses])]
    for col, name, unit, color, numbers in parts:
        if any(n is not None for n in numbers):
            fig.add_trace(_bars(views, numbers, name, color, unit), row=1, col=col)
    style_figure(fig, height=440, barmode="group", legend={"orientation": "h", "y": -0.25})
    fig.update_xaxes(automargin=True, tickangle=-30)
    fig.update_layout(margin={"t": 70, "b": 120})
    return fig


def _probe_curves(results: pd.DataFrame, probe: str | None, task: str) -> pd.DataFrame:
    rows = results[(results["model"] == "trained") & results["t"].notna()
                   & (results["task"] == task) & results["metric"].isin(["accuracy", "bits"])]
    if probe is not None and (rows["probe"] == probe).any():
        rows = rows[rows["probe"] == probe]
    rows = rows[rows["t"].astype(int) >= 0]  # intervention steps are absolute
    return rows.assign(base=rows["view"].map(base_view), t=rows["t"].astype(int))


def _step_numbers(table: pd.DataFrame, intervention: str, measure: str, task: str | None
                  ) -> pd.DataFrame:
    rows = table[(table["intervention"] == intervention) & table["step"].notna()
                 & (table["measure"] == measure)]
    out = []
    for view, step in dict.fromkeys(zip(rows["view"], rows["step"], strict=True)):
        n = number(table, intervention, str(view), measure, step=int(step), task=task)
        if n is not None:
            out.append({"base": base_view(str(view)), "t": int(step), "value": n.value,
                        "ci_low": n.low, "ci_high": n.high, "failed": n.failed,
                        "sanity": n.sanity})
    return pd.DataFrame(out, columns=["base", "t", "value", "ci_low", "ci_high", "failed",
                                      "sanity"])


def _curve(fig: go.Figure, curve: pd.DataFrame, name: str, color: str, row: int,
           dash: str = "solid", visible: bool = True) -> None:
    curve = curve.sort_values("t")
    t = curve["t"].to_numpy(dtype=float)
    if curve["ci_low"].notna().any():
        fig.add_trace(go.Scatter(
            x=np.concatenate([t, t[::-1]]), y=np.concatenate(
                [curve["ci_high"].to_numpy(), curve["ci_low"].to_numpy()[::-1]]),
            mode="lines", fill="toself", fillcolor=rgba(color, 0.15), line={"width": 0},
            hoverinfo="skip", showlegend=False, legendgroup=name, visible=visible),
            row=row, col=1)
    failed = curve["failed"] if "failed" in curve else pd.Series(False, index=curve.index)
    check = [esc(f"sanity check failed: {s or 'no reason recorded'}") if f else ""
             for f, s in zip(failed, curve.get("sanity", [""] * len(curve)), strict=True)]
    fig.add_trace(go.Scatter(
        x=t, y=curve["value"].to_numpy(), mode="lines+markers", name=esc(name),
        legendgroup=name, line={"color": color, "dash": dash}, visible=visible,
        marker={"symbol": ["x" if f else "circle" for f in failed], "size": 8},
        customdata=np.array(check, dtype=object),
        hovertemplate="%{fullData.name}<br>t=%{x}: %{y:.3f}<br>%{customdata}<extra></extra>"),
        row=row, col=1)


def use_over_time(results: pd.DataFrame, table: pd.DataFrame, probe: str | None,
                  task: str = "label") -> go.Figure | None:
    """Top: the label probe on the state at ``t`` (menu: accuracy or bits); bottom: the
    patching follow rate (solid) and the erasure drop (dashed) at the same ``t``."""
    follow = _step_numbers(table, PATCHING, FOLLOW, None)
    drop = _step_numbers(table, ERASURE, DROP, task)
    if follow.empty and drop.empty:
        return None
    probed = _probe_curves(results, probe, task)
    bases = list(dict.fromkeys([*follow["base"], *drop["base"]]))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=["decodable: a probe of the label on the state at t",
                                        "used: patching and erasing the state at t"])
    menu: dict[str, list[int]] = {"accuracy": [], "bits": []}
    for k, base in enumerate(bases):
        color = PALETTE[k % len(PALETTE)]
        for metric in menu:
            curve = probed[(probed["base"] == base) & (probed["metric"] == metric)]
            if not curve.empty:
                first = len(fig.data)
                _curve(fig, curve.groupby("t", as_index=False)[["value", "ci_low", "ci_high"]]
                       .mean(), f"{base} probe {metric}", color, 1, visible=metric == "accuracy")
                menu[metric] += list(range(first, len(fig.data)))
        for frame, what, dash in ((follow, "follow rate", "solid"), (drop, "erasure drop", "dot")):
            part = frame[frame["base"] == base]
            if not part.empty:
                _curve(fig, part, f"{base} {what}", color, 2, dash)
    probe_traces = set(menu["accuracy"]) | set(menu["bits"])
    buttons = [{"label": f"probe: {m}", "method": "update", "args": [{"visible": [
        i in idx or i not in probe_traces for i in range(len(fig.data))]}, {}]}
        for m, idx in menu.items() if idx]
    style_figure(fig, height=560, updatemenus=[{
        "buttons": buttons, "direction": "down", "x": 0, "xanchor": "left", "y": 1.16,
        "yanchor": "top", "showactive": True}] if len(buttons) > 1 else [])
    fig.update_layout(margin={"t": 100})
    steps = [*follow["t"], *drop["t"]]
    fig.update_xaxes(dtick=1 if max(steps) <= 16 else None)
    fig.update_xaxes(title_text="t (0 = first token)", row=2, col=1)
    return fig
