"""``attribute`` for a model reading two texts: a pair model's score, an encoder-decoder's
continuation (or a pair classifier's class logit), attributed to the tokens of both texts.

Writes the same files as for one text (:mod:`probe_rnn.attribution.runner`): ``tokens.parquet``
with a ``which_text`` column (1 or 2; ``text`` holds that text), ``examples.parquet`` with both
texts and each row's completeness check over both, ``summary.csv``, and empty
``steps.parquet``, ``neurons.parquet`` and ``probe_tokens.parquet``: the manifest's ``stages``
says per stage why it does not apply (:func:`stage_notes`). The manifest's ``target`` names what
was explained and ``explains`` says it in words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from probe_rnn.attribution.result import (
    AttributionResult,
    class_targets,
    nanmax,
    start_run,
    write_frames,
    write_manifest,
)
from probe_rnn.attribution.summary import build_summary
from probe_rnn.attribution.targets import CONTINUATION, text_target
from probe_rnn.attribution.text_tokens import (
    TextTokenAttributions,
    check_text_method,
    text_token_attributions,
)
from probe_rnn.attribution.texts import TextsForward, find_text_parts, run_hooked
from probe_rnn.attribution.verdict import completeness_verdict
from probe_rnn.data.text_pairs import SECOND_TEXT, model_inputs
from probe_rnn.models.adapters import model_output
from probe_rnn.models.recurrent import recurrent_modules

if TYPE_CHECKING:
    from probe_rnn.models import ModelBundle

#: The name of the one "class" a ``score`` attribution explains.
SCORE = "score of the pair"
TOKEN_COLUMNS = ["row", "which_text", "position", "token", "attribution", "target_label",
                 "prediction", "text", "method"]
STEP_COLUMNS = ["row", "layer", "direction", "state", "t", "t_from_end", "attribution",
                "share", "ablation", "abs_error", "completeness_error"]


def texts_forward(bundle: ModelBundle, target: str) -> TextsForward:
    """``f(ids, lengths, ids_2, lengths_2) -> (batch, n)``: the values ``target`` explains
    (:func:`~probe_rnn.attribution.targets.text_target`), through the bundle's adapter."""
    model, adapter = bundle.model, bundle.adapter

    def forward(ids: torch.Tensor, lengths: torch.Tensor, ids_2: torch.Tensor,
                lengths_2: torch.Tensor) -> torch.Tensor:
        batch = {"ids": ids, "lengths": lengths, "ids_2": ids_2, "lengths_2": lengths_2}
        return text_target(model_output(adapter, model, batch), target, lengths_2, ids_2)

    return forward


def recurrent_calls(model: torch.nn.Module, run: Callable[[], Any]) -> dict[str, int]:
    """How many times ``run()`` calls each recurrent module of ``model``, by name."""
    counts = dict.fromkeys(recurrent_modules(model), 0)
    run_hooked(run, [(m, lambda *_a, n=n: counts.__setitem__(n, counts[n] + 1))
                     for n, m in recurrent_modules(model).items()])
    return counts


def stage_notes(model_name: str, calls: dict[str, int]) -> dict[str, str]:
    """Per attribution stage, what was done or why it does not apply to a two-text model."""
    if len(calls) > 1:
        why = (f"{model_name} has {len(calls)} recurrent modules ({', '.join(calls)}), and "
               "per-step state attribution runs through the unrolled copy of one module")
    else:
        name, n = next(iter(calls.items()), ("its recurrent module", 0))
        why = (f"{model_name} calls {name} {n} times per forward (once per text), and "
               "per-step state attribution runs one text through one call of the module's "
               "unrolled copy") if n > 1 else (
            f"{model_name} reads two texts, and per-step state attribution runs one text "
            "through the unrolled copy of its recurrent module")
    return {"tokens": "done: the tokens of both texts (which_text 1 and 2), Integrated "
                      "Gradients over both texts' embeddings at once",
            "steps": f"not applicable: {why}",
            "neurons": "not applicable: neurons are ranked by their per-step state "
                       "attributions, which this model has none of (see steps)",
            "probe_tokens": f"not applicable: a probe's decision is attributed through one "
                            f"text's forward to that text's states, and {model_name} reads "
                            "two texts per forward"}


def attribute_texts(bundle: ModelBundle, df: pd.DataFrame, out_dir: str | Path, *,
                    target: str, method: str = "ig",
                    rows: int | Sequence[int] | None = None, n_steps: int = 50,
                    internal_batch_size: int = 512, seed: int = 0,
                    progress: Callable[[int, int, str], Any] | None = None
                    ) -> AttributionResult:
    """Attribute ``target`` of a two-text ``bundle`` on rows of ``df`` (``text`` and
    ``text_2``) to the tokens of both texts; write the files into ``out_dir`` (module doc).
    The parameters are :func:`~probe_rnn.attribution.attribute`'s."""
    check_text_method(method)
    out, picked, sub = start_run(out_dir, df, rows, seed)
    batch = bundle.adapter.encode(model_inputs(sub))
    device = next(iter(bundle.model.parameters())).device
    args = tuple(batch[k].to(device) for k in ("ids", "lengths", "ids_2", "lengths_2"))
    forward = texts_forward(bundle, target)
    bundle.model.eval()
    with torch.backends.cudnn.flags(enabled=False):
        calls = recurrent_calls(bundle.model, lambda: forward(*args))
        parts = find_text_parts(bundle.model, forward, *args,
                                layout=getattr(bundle.adapter, "layout", "batch"),
                                pad_id=getattr(bundle.tokenizer, "pad_id", None),
                                extra=getattr(bundle.adapter, "input_embedding", None))
        with torch.no_grad():
            values = forward(*args)
    labels = (list(bundle.labels) if target in ("prediction", "label") else
              [SCORE if target == "score" else CONTINUATION])
    targets = class_targets(sub, labels, values, target).to(device)
    tok = text_token_attributions(parts, *args, targets, method=method, n_steps=n_steps,
                                  internal_batch_size=internal_batch_size)
    (progress or (lambda *_: None))(1, 1, "tokens")
    said, proba = shown_values(values, targets, labels, target)
    names = [labels[i] for i in targets.tolist()]
    tokens = tokens_frame_texts(bundle, sub, picked, tok, (args[1], args[3]), said, names)
    examples = examples_frame_texts(sub, picked, tok, said, proba, names)
    settings = {"method": method, "n_steps": n_steps, "internal_batch_size": internal_batch_size,
                "seed": seed, "target": target, "explains": explained(bundle, target),
                "texts": 2, "stages": stage_notes(type(bundle.model).__name__, calls)}
    return _write(out, bundle, picked, tokens, examples, settings)


def explained(bundle: ModelBundle, target: str) -> str:
    """What ``target`` is, in words, for the manifest and the report."""
    name = type(bundle.model).__name__
    return {"score": f"{name}'s own score of each pair (text 1, text 2)",
            "continuation": f"the log-likelihood {name} gives each row's reference target "
                            "(text 2), teacher-forced, given its source (text 1)",
            "label": f"{name}'s logit of each pair's gold label"}.get(
        target, f"{name}'s logit of its predicted class for each pair")


def shown_values(values: torch.Tensor, targets: torch.Tensor, labels: list[str], target: str
           ) -> tuple[list[str], np.ndarray]:
    """Per row, what the model said (a label, a score, a log-likelihood) and its probability
    (NaN unless classes)."""
    values = values.detach().float().cpu()
    if target in ("prediction", "label"):
        proba = values.softmax(1).max(1).values.numpy().astype(float)
        return [labels[i] for i in values.argmax(1).tolist()], proba
    word = "score" if target == "score" else "log-likelihood"
    picked = values.gather(1, targets.cpu().view(-1, 1))[:, 0].tolist()
    return [f"{word} {v:.4g}" for v in picked], np.full(len(picked), np.nan)


def tokens_frame_texts(bundle: ModelBundle, sub: pd.DataFrame, picked: np.ndarray,
                       res: TextTokenAttributions, lengths: tuple[torch.Tensor, torch.Tensor],
                       said: list[str], names: list[str]) -> pd.DataFrame:
    """One row per valid token of either text (:data:`TOKEN_COLUMNS`): ``said`` is what the
    model said of each row, ``names`` the target's name per row."""
    records = []
    for which, column, attr in ((1, "text", res.attributions), (2, SECOND_TEXT,
                                                                 res.attributions_2)):
        attr, counts = attr.cpu().numpy(), lengths[which - 1].tolist()
        for b, text in enumerate(sub[column].astype(str)):
            toks, n = [str(t) for t in bundle.adapter.tokens(text)], int(counts[b])
            toks = toks if len(toks) == n else [f"<{t}>" for t in range(n)]
            records += [(int(picked[b]), which, t, toks[t], float(attr[b, t]), names[b],
                         said[b], text, res.method) for t in range(n)]
    frame = pd.DataFrame.from_records(records, columns=TOKEN_COLUMNS)
    return frame.sort_values(["row", "which_text", "position"], kind="stable")


def examples_frame_texts(sub: pd.DataFrame, picked: np.ndarray, res: TextTokenAttributions,
                         said: list[str], proba: np.ndarray, names: list[str]
                         ) -> pd.DataFrame:
    """One row per attributed pair, with its completeness check over both texts."""
    total = res.attributions.sum(1) + res.attributions_2.sum(1)
    return pd.DataFrame({
        "row": picked.astype(np.int64), "text": sub["text"].astype(str).to_numpy(),
        SECOND_TEXT: sub[SECOND_TEXT].astype(str).to_numpy(),
        "label": sub["label"].astype(str).to_numpy(), "prediction": said,
        "probability": proba, "f_x": res.f_x.cpu().numpy().astype(float),
        "f_baseline": res.f_baseline.cpu().numpy().astype(float),
        "attribution_sum": total.cpu().numpy().astype(float),
        "attribution_sum_2": res.attributions_2.sum(1).cpu().numpy().astype(float),
        "delta": res.delta.cpu().numpy().astype(float),
        "completeness_error": res.completeness_error.cpu().numpy().astype(float),
        "target_label": names, "method": res.method})


def _write(out: Path, bundle: ModelBundle, picked: np.ndarray, tokens: pd.DataFrame,
           examples: pd.DataFrame, settings: dict[str, Any]) -> AttributionResult:
    steps = pd.DataFrame({c: pd.Series(dtype=float) for c in STEP_COLUMNS})
    neurons, probe_tok = pd.DataFrame(), pd.DataFrame()
    summary = build_summary(tokens, examples, steps, neurons, probe_tok, float("nan"))
    summary = summary[summary["what"] != "unrolled-check"].reset_index(drop=True)
    files = {"tokens.parquet": tokens, "examples.parquet": examples, "steps.parquet": steps,
             "neurons.parquet": neurons, "probe_tokens.parquet": probe_tok}
    write_frames(out, files, summary)
    manifest = write_manifest(out, files, settings, picked, bundle, {
        "twin_max_difference": None,
        "worst_token_completeness_error": nanmax(examples["completeness_error"]),
        "worst_step_completeness_error": None,
        "completeness": completeness_verdict(examples, steps, settings.get("n_steps"))})
    return AttributionResult(out, tokens.reset_index(drop=True), examples, steps, neurons,
                             probe_tok, summary, manifest)
