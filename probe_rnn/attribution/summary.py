"""Tidy tables of attribution results: per-token rows, per-sentence rows and the summary.

``summary.csv`` has the columns ``what, view, layer, direction, step, share,
completeness_error, n``; ``what`` is one of

* ``tokens``: all token attributions; ``completeness_error`` = the worst sentence's;
* ``token-position``: ``step`` = absolute position, ``share`` = mean share of |attribution|
  (two texts: per text, ``view`` = ``text 1`` or ``text 2``, the share of the row's both texts);
* ``state``: ``view`` = ``hidden/L{l}/{dir}`` or ``cell/...``, ``step`` = absolute t,
  ``share`` = mean share of |attribution| over the sentence's steps, ``completeness_error`` =
  worst |IG sum - ablation effect| (relative, see :mod:`probe_rnn.attribution.steps`);
* ``neurons``: per view and label, ``share`` = share of |score| held by the top-k units;
* ``probe-tokens``: probe attribution per view, worst completeness error;
* ``unrolled-check``: not a completeness error but the largest |difference| between the
  recurrent module's own output and its unrolled (step-by-step) copy, through which the
  per-step attributions run (:mod:`probe_rnn.attribution.unrolled`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from probe_rnn.attribution.tokens import TokenAttributions
from probe_rnn.catalogue import state_view

SUMMARY_COLUMNS = ["what", "view", "layer", "direction", "step", "share",
                   "completeness_error", "n"]


def _predictions(ctx: Any) -> list[str]:
    labels = list(ctx.bundle.labels)
    return [labels[i] for i in ctx.logits.argmax(1).tolist()]


def tokens_frame(ctx: Any, res: TokenAttributions, target_names: list[str]) -> pd.DataFrame:
    """One row per valid token: ``row, position, token, attribution, target_label, prediction,
    text, method``."""
    preds = _predictions(ctx)
    attr = res.attributions.cpu().numpy()
    records = []
    for b, n in enumerate(ctx.lengths.tolist()):
        toks = ctx.tokens[b] if len(ctx.tokens[b]) == n else [
            str(i) for i in ctx.ids[b, :n].tolist()]
        text = str(ctx.sub["text"].iloc[b])
        for t in range(n):
            records.append((int(ctx.picked[b]), t, toks[t], float(attr[b, t]), target_names[b],
                            preds[b], text, res.method))
    return pd.DataFrame.from_records(records, columns=[
        "row", "position", "token", "attribution", "target_label", "prediction", "text",
        "method"])


def examples_frame(ctx: Any, res: TokenAttributions) -> pd.DataFrame:
    """One row per sentence with its completeness check."""
    proba = ctx.logits.softmax(1).max(1).values.cpu().numpy()
    labels = list(ctx.bundle.labels)
    return pd.DataFrame({
        "row": ctx.picked.astype(np.int64),
        "text": ctx.sub["text"].astype(str).to_numpy(),
        "label": ctx.sub["label"].astype(str).to_numpy(),
        "prediction": _predictions(ctx),
        "probability": proba.astype(float),
        "f_x": res.f_x.cpu().numpy().astype(float),
        "f_baseline": res.f_baseline.cpu().numpy().astype(float),
        "attribution_sum": res.attributions.sum(1).cpu().numpy().astype(float),
        "delta": res.delta.cpu().numpy().astype(float),
        "completeness_error": res.completeness_error.cpu().numpy().astype(float),
        "target_label": [labels[i] for i in ctx.targets.tolist()],
        "method": res.method,
    })


def _row(what: str, view: str = "", layer: int = -1, direction: str = "", step: Any = pd.NA,
         share: float = np.nan, error: float = np.nan, n: int = 0) -> dict[str, Any]:
    return dict(zip(SUMMARY_COLUMNS, (what, view, layer, direction, step, share, error, n),
                    strict=True))


def _shares(frame: pd.DataFrame, keys: list[str], value: str) -> pd.Series:
    mass = frame[value].abs()
    total = mass.groupby([frame[k] for k in keys]).transform("sum")
    return mass / total.where(total > 0, 1.0)


def build_summary(tokens: pd.DataFrame, examples: pd.DataFrame, steps: pd.DataFrame,
                  neurons: pd.DataFrame, probe_tokens: pd.DataFrame,
                  twin_error: float) -> pd.DataFrame:
    """The tidy summary table (columns ``SUMMARY_COLUMNS``)."""
    err = examples["completeness_error"]
    rows = [_row("tokens", share=1.0, error=float(err.max()) if err.notna().any() else np.nan,
                 n=len(examples))]
    tok = tokens.assign(share=_shares(tokens, ["row"], "attribution"))
    if "which_text" in tok:  # two texts: positions per text, ``view`` names the text
        for (which, t), part in tok.groupby(["which_text", "position"]):
            rows.append(_row("token-position", f"text {int(which)}", step=int(t),
                             share=float(part["share"].mean()), n=len(part)))
    else:
        for t, part in tok.groupby("position"):
            rows.append(_row("token-position", step=int(t), share=float(part["share"].mean()),
                             n=len(part)))
    for (state, layer, direction, t), part in steps.groupby(
            ["state", "layer", "direction", "t"], sort=True):
        rows.append(_row("state", state_view(state, int(layer), direction), int(layer), direction,
                         int(t), float(part["share"].mean()),
                         float(part["completeness_error"].max()), len(part)))
    if len(neurons):
        for (view, _label), part in neurons.groupby(["view", "label"], sort=False):
            rows.append(_row("neurons", view, share=float(part["share"].iloc[0]),
                             n=len(part)))
    if len(probe_tokens):
        for view, part in probe_tokens.groupby("view", sort=False):
            rows.append(_row("probe-tokens", view, share=1.0,
                             error=float(part["completeness_error"].max()),
                             n=int(part["row"].nunique())))
    rows.append(_row("unrolled-check", error=float(twin_error), n=len(examples)))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
