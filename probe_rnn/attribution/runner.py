"""``attribute``: token, per-step, neuron and probe attribution of a bundle, into a folder.

Writes ``tokens.parquet``, ``examples.parquet``, ``steps.parquet``, ``neurons.parquet``,
``probe_tokens.parquet``, ``summary.csv`` and, last, ``manifest.json`` (a folder without a
manifest is an unfinished run). Rows are a seeded, label-stratified sample (held-out ``test``
rows when the table has enough), or the row numbers given. A model reading two texts (a pair
model, an encoder-decoder) is handed to :func:`~probe_rnn.attribution.two_texts.attribute_texts`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from probe_rnn.attribution.neurons import default_neuron_views, rank_neurons, view_units
from probe_rnn.attribution.parts import ModelParts, find_parts
from probe_rnn.attribution.probe_attribution import probe_token_attributions, view_function
from probe_rnn.attribution.result import (
    AttributionResult,
    class_targets,
    nanmax,
    start_run,
    write_frames,
    write_manifest,
)
from probe_rnn.attribution.steps import STATE_BASELINES, StepAttributions, step_attributions
from probe_rnn.attribution.summary import build_summary, examples_frame, tokens_frame
from probe_rnn.attribution.targets import (
    CONTINUATION,
    TARGETS,
    attribution_target,
    continuation_loglik,
    texts_read,
)
from probe_rnn.attribution.tokens import METHODS, token_attributions
from probe_rnn.attribution.two_texts import attribute_texts
from probe_rnn.attribution.verdict import completeness_verdict
from probe_rnn.catalogue import OUTPUT_LAST, readout_views
from probe_rnn.models.adapters import model_output
from probe_rnn.models.recurrent import module_kind
from probe_rnn.validation import (
    SEED,
    AnyOf,
    Instance,
    Interval,
    Items,
    Names,
    Options,
    PathLike,
    validate_params,
)

if TYPE_CHECKING:
    from probe_rnn.models import ModelBundle

_VIEWS = Names("names of state views (str)", example="output@last")
#: What each argument of :func:`attribute` accepts (:mod:`probe_rnn.validation`).
PARAMETER_CONSTRAINTS: dict[str, Any] = {
    "out_dir": PathLike(), "method": Options(METHODS),
    "rows": AnyOf(None, Interval(Integral, 1, None),
                  Items(Integral, "row numbers (int)", example=0, min_items=1),
                  allowed="None, a number of rows >= 1 or a non-empty list of row numbers"),
    "n_steps": Interval(int, 1, None), "internal_batch_size": Interval(int, 1, None),
    "seed": SEED, "target": [None, Options(TARGETS)], "state_steps": Interval(int, 1, None),
    "state_baseline": Options(STATE_BASELINES), "neuron_views": [None, _VIEWS],
    "top_k": Interval(int, 1, None),
    "probes": [None, Instance(Mapping, "a dict of fitted probes by view", example={})],
    "probe_views": [None, _VIEWS], "probe_rows": Interval(int, 1, None),
}
Progress = Callable[[int, int, str], Any]


def _parts(bundle: ModelBundle, target: str = "prediction") -> ModelParts:
    model, adapter = bundle.model, bundle.adapter

    def forward(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch = {"ids": ids, "lengths": lengths}
        if target == "continuation":
            return continuation_loglik(model_output(adapter, model, batch).values, ids, lengths)
        return adapter.forward(model, batch)

    return find_parts(model, forward, embedding=getattr(bundle, "embedding", None),
                      layout=getattr(adapter, "layout", "batch"),
                      pad_id=getattr(bundle.tokenizer, "pad_id", None),
                      embedding_module=getattr(adapter, "input_embedding", None))


def attribute(bundle: ModelBundle, df: pd.DataFrame, out_dir: str | Path, method: str = "ig",
              rows: int | Sequence[int] | None = None, n_steps: int = 50,
              internal_batch_size: int = 512, seed: int = 0, progress: Progress | None = None,
              *, target: str | None = None, state_steps: int = 16,
              state_baseline: str = "zero", neuron_views: Sequence[str] | None = None,
              top_k: int = 10, probes: dict[str, Any] | None = None,
              probe_views: Sequence[str] | None = None, probe_rows: int = 2000
              ) -> AttributionResult:
    """Attribute ``bundle``'s predictions on rows of ``df``; write the files into ``out_dir``.

    Parameters
    ----------
    bundle : ModelBundle (model with ``embedding`` and one recurrent module, adapter, labels).
    df : table with ``text``, ``label`` (optional ``split``); rows are numbered by position.
    method : token method, one of ``ig``, ``saliency``, ``ixg``, ``deeplift``, ``occlusion``.
    rows : None (24 sampled), a count (sampled, seeded, stratified by label) or row numbers.
    n_steps : IG steps for tokens and probes; ``state_steps``: IG steps per state (Gauss-Legendre
        nodes; the per-step ablation check reports whether they suffice).
    internal_batch_size : rows per forward pass inside Captum (bounds memory).
    target : :mod:`probe_rnn.attribution.targets` (``prediction``, ``label``, ``continuation``,
        ``score``); none: NoTargetError. Two texts: :mod:`probe_rnn.attribution.two_texts`.
    neuron_views : views to rank units of (default: output@last, every h_n and c_n).
    probes : fitted linear probes by view (the pipeline passes the probes its probing measured,
        :mod:`probe_rnn.probing.exported`); missing views get a standardised logistic
        regression fitted on up to ``probe_rows`` rows (train split first) here. The manifest's
        ``probe_sources`` says which probe each view's attribution explains.
    probe_views : views whose probe is attributed to tokens (default: output@last and the top
        layer's h_n).
    progress : called as ``progress(done, total, what)`` after each stage, and within the
        per-step stage after each chunk of taps (each chunk one more part of ``total``).
    """
    validate_params(PARAMETER_CONSTRAINTS, locals())
    target = attribution_target(bundle, target)
    if texts_read(bundle) == 2:  # a pair model, an encoder-decoder: tokens of both texts
        return attribute_texts(bundle, df, out_dir, target=target, method=method, rows=rows,
                               n_steps=n_steps, internal_batch_size=internal_batch_size,
                               seed=seed, progress=progress)
    out, picked, sub = start_run(out_dir, df, rows, seed)
    parts = _parts(bundle, target)
    ids, lengths, logits = _predict(bundle, parts, sub)
    targets = class_targets(sub, list(bundle.labels), logits, target).to(parts.device)
    bundle = replace(bundle, labels=[CONTINUATION]) if target == "continuation" else bundle
    say = progress or (lambda *_: None)
    tok = token_attributions(parts, ids, lengths, targets, method=method, n_steps=n_steps,
                             internal_batch_size=internal_batch_size)
    say(1, 4, "tokens")
    st, extra = _steps(parts, ids, lengths, targets, state_steps, internal_batch_size,
                       state_baseline, say)
    tokens = [bundle.adapter.tokens(t) for t in sub["text"].astype(str)]
    ctx = _Context(bundle, df, sub, picked, parts, ids, lengths, targets, logits, tokens)
    neurons, fitted = _neurons(ctx, st, neuron_views, probes or {}, top_k, probe_rows, seed)
    say(3 + extra, 4 + extra, "neurons")
    probe_tok = _probe_tokens(ctx, fitted, probe_views, n_steps, internal_batch_size)
    say(4 + extra, 4 + extra, "probes")
    sources = _probe_sources(fitted, probes or {}, probe_rows)
    return _write(ctx, out, tok, st, neurons, probe_tok, {
        "method": method, "n_steps": n_steps, "state_steps": state_steps,
        "state_baseline": state_baseline, "internal_batch_size": internal_batch_size,
        "seed": seed, "target": target, "top_k": top_k, "probe_sources": sources})


def _steps(parts: ModelParts, ids: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor,
           state_steps: int, internal_batch_size: int, baseline: str,
           say: Callable[[int, int, str], None]) -> tuple[StepAttributions, int]:
    """The per-step stage, its chunks of taps said as parts of the work (after the tokens'
    one, before the neurons' and the probes'); returns its result and the parts it added."""
    chunks_of_steps = [1]

    def steps_done(done: int, total: int) -> None:
        chunks_of_steps[0] = total
        say(1 + done, 3 + total, "steps")
    st = step_attributions(parts, ids, lengths, targets, n_steps=state_steps,
                           internal_batch_size=internal_batch_size, baseline=baseline,
                           progress=steps_done)
    extra = chunks_of_steps[0] - 1
    say(2 + extra, 4 + extra, "steps")
    return st, extra


def _predict(bundle: ModelBundle, parts: ModelParts, sub: pd.DataFrame
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids, lengths, logits) of the picked rows, encoded by the adapter, in eval mode."""
    batch = bundle.adapter.encode(sub["text"].astype(str).tolist())
    parts.layout = getattr(bundle.adapter, "layout", parts.layout)  # a collate's, once it ran
    ids, lengths = batch["ids"].to(parts.device), batch["lengths"].to(parts.device)
    with torch.no_grad(), torch.backends.cudnn.flags(enabled=False):
        bundle.model.eval()
        logits = parts.forward(ids, lengths)
    return ids, lengths, logits


def _probe_sources(fitted: dict[str, Any], given: dict[str, Any], probe_rows: int
                   ) -> dict[str, str]:
    """Which probe each view's attribution explains, for the manifest's ``probe_sources``."""
    return {view: (_described(given[view]) if view in given else
                   f"fitted here: standardised logistic regression on up to {probe_rows} rows")
            for view, probe in fitted.items() if probe is not None}


def _described(probe: Any) -> str:
    """Where a given probe came from, for the manifest."""
    origin = getattr(probe, "origin_", None)
    return str(origin) if origin else f"given: {type(probe).__name__}"


@dataclass
class _Context:
    bundle: ModelBundle
    df: pd.DataFrame
    sub: pd.DataFrame
    picked: np.ndarray
    parts: ModelParts
    ids: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor
    logits: torch.Tensor
    tokens: list[list[str]]


def _rnn_shape(parts: ModelParts) -> tuple[int, int, int, bool]:
    rnn = parts.rnn
    out_size = getattr(rnn, "proj_size", 0) or rnn.hidden_size
    return rnn.num_layers, 2 if rnn.bidirectional else 1, out_size, module_kind(rnn) == "lstm"


def _fit_probe(ctx: _Context, view: str, probe_rows: int, seed: int) -> Any:
    """Standardised logistic regression on ``view`` over up to ``probe_rows`` rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df = ctx.df
    pool = df[df["split"] == "train"] if "split" in df.columns else df
    pool = pool if len(pool) >= 20 else df
    pool = pool.sample(n=min(probe_rows, len(pool)), random_state=seed)
    read = view_function(ctx.parts, view)
    feats = []
    with torch.no_grad(), torch.backends.cudnn.flags(enabled=False):
        for start in range(0, len(pool), 256):
            enc = ctx.bundle.adapter.encode(pool["text"].astype(str).iloc[start:start + 256]
                                            .tolist())
            feats.append(read(enc["ids"].to(ctx.parts.device),
                              enc["lengths"].to(ctx.parts.device)).cpu().numpy())
    y = pool["label"].astype(str).to_numpy()
    if len(set(y)) < 2:
        return None
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return model.fit(np.concatenate(feats), y)


def _neurons(ctx: _Context, st: StepAttributions, views: Sequence[str] | None,
             probes: dict[str, Any], k: int, probe_rows: int, seed: int):
    layers, dirs, out_size, lstm = _rnn_shape(ctx.parts)
    views = list(views) if views is not None else default_neuron_views(layers, dirs, lstm)
    fitted = dict(probes)
    frames = []
    for view in views:
        units = view_units(st, view, layers, dirs, out_size)
        if view not in fitted:
            fitted[view] = _fit_probe(ctx, view, probe_rows, seed)
        frames.append(rank_neurons(view, units, ctx.targets.cpu().numpy(),
                                   list(ctx.bundle.labels), fitted[view], k))
    return pd.concat(frames, ignore_index=True), fitted


def _probe_tokens(ctx: _Context, fitted: dict[str, Any], views: Sequence[str] | None,
                  n_steps: int, internal_batch_size: int) -> pd.DataFrame:
    layers, dirs, _, _ = _rnn_shape(ctx.parts)
    if views is None:
        views = [OUTPUT_LAST, *readout_views("hidden", layers, dirs)]
    frames = []
    for view in views:
        probe = fitted.get(view)
        if probe is None:
            continue
        res, cls = probe_token_attributions(ctx.parts, ctx.ids, ctx.lengths, probe, view,
                                            n_steps=n_steps,
                                            internal_batch_size=internal_batch_size)
        classes = [str(c) for c in getattr(probe, "classes_", [])]
        names = [classes[i] if i < len(classes) else str(i) for i in cls.tolist()]
        frame = tokens_frame(ctx, res, names)
        frame.insert(0, "view", view)
        ex = examples_frame(ctx, res)[["row", "f_x", "f_baseline", "completeness_error"]]
        frames.append(frame.merge(ex, on="row", how="left"))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _write(ctx: _Context, out: Path, tok, st: StepAttributions, neurons: pd.DataFrame,
           probe_tok: pd.DataFrame, settings: dict[str, Any]) -> AttributionResult:
    labels = list(ctx.bundle.labels)
    tokens = tokens_frame(ctx, tok, [labels[i] for i in ctx.targets.tolist()])
    examples = examples_frame(ctx, tok)
    steps = st.frame[st.frame["valid"]].drop(columns=["valid"]).copy()
    steps["row"] = ctx.picked[steps["row"].to_numpy()]
    steps = steps[["row", "layer", "direction", "state", "t", "t_from_end", "attribution",
                   "share", "ablation", "abs_error", "completeness_error"]]
    summary = build_summary(tokens, examples, steps, neurons, probe_tok, st.twin_error)
    files = {"tokens.parquet": tokens, "examples.parquet": examples, "steps.parquet": steps,
             "neurons.parquet": neurons, "probe_tokens.parquet": probe_tok}
    write_frames(out, files, summary)
    manifest = write_manifest(out, files, settings, ctx.picked, ctx.bundle, {
        "packed": st.packed, "twin_max_difference": st.twin_error,
        "worst_token_completeness_error": nanmax(examples["completeness_error"]),
        "worst_step_completeness_error": nanmax(steps["completeness_error"]),
        "completeness": completeness_verdict(examples, steps, settings.get("n_steps"),
                                             settings.get("state_steps"))})
    return AttributionResult(out, tokens, examples, steps, neurons, probe_tok, summary, manifest)
