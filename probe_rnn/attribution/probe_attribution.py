"""Probe attribution: which input tokens a probe's reading of a state came from.

A fitted *linear* probe (a scikit-learn linear model, optionally behind a ``StandardScaler`` in a
``Pipeline``, a probe with ``scaler_`` and ``model_``, or probe-rnn's built-ins, which keep
their standardisation in ``mean_``/``scale_`` before ``model_``) is folded into one
``torch.nn.Linear`` (:func:`linear_probe_to_torch`) that gives the probe's own decision
scores. The function attributed is then
``ids -> model up to the view -> probe decision score for the class``; Integrated Gradients on
the embedding (PAD baseline, lengths never attributed) says which tokens it came from, with the
same per-sentence completeness check as token attribution.

Sentence views supported here (names as in the state catalogue): ``output@last``,
``h_n/L{l}/{fwd,bwd}``, ``c_n/L{l}/{fwd,bwd}`` (LSTM), ``mean(output)``, ``max(output)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from probe_rnn.attribution.parts import (
    ModelParts,
    attribution_mode,
    checked_inputs,
    chunks,
    relative_error,
    valid_mask,
)
from probe_rnn.attribution.tokens import TokenAttributions, embedding_ig
from probe_rnn.capture.views import module_view
from probe_rnn.catalogue import MAX_OUTPUT, MEAN_OUTPUT, OUTPUT_LAST, try_parse
from probe_rnn.errors import AttributionError

SENTENCE_VIEWS = ("output@last", "h_n/L{l}/{dir}", "c_n/L{l}/{dir}", "mean(output)",
                  "max(output)")


def linear_parts(probe: Any) -> tuple[list[Any], Any]:
    """(transform steps, final linear estimator) of a fitted probe."""
    if hasattr(probe, "steps"):  # sklearn Pipeline
        inner = [s for _, s in probe.steps if s not in (None, "passthrough")]
        pre, last = linear_parts(inner[-1])
        return inner[:-1] + pre, last
    if hasattr(probe, "scaler_") and hasattr(probe, "model_"):
        pre, last = linear_parts(probe.model_)
        return [probe.scaler_] + pre, last
    if hasattr(probe, "mean_") and hasattr(probe, "scale_") and hasattr(probe, "model_"):
        pre, last = linear_parts(probe.model_)  # probe-rnn's probes: (X - mean_) / scale_
        return [_Standardise(probe.mean_, probe.scale_)] + pre, last
    return [], probe


class _Standardise:
    """``(X - mean_) / scale_`` as a StandardScaler-like step (probe-rnn's built-in probes)."""

    def __init__(self, mean: Any, scale: Any) -> None:
        self.mean_, self.scale_ = np.asarray(mean), np.asarray(scale)


def linear_probe_to_torch(probe: Any) -> tuple[nn.Linear, np.ndarray]:
    """Fold a fitted linear probe (scaler + coef) into ``nn.Linear``; return it and classes.

    The layer maps raw view vectors (batch, dim) to the probe's decision scores (batch, k):
    k = 1 for a binary classifier (score of ``classes[1]``), else one per class.
    """
    transforms, model = linear_parts(probe)
    if not (hasattr(model, "coef_") and hasattr(model, "intercept_")):
        raise AttributionError(
            f"probe attribution needs a linear probe (coef_ and intercept_); "
            f"{type(model).__name__} has none — use a logistic/linear probe"
        )
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
    for step in reversed(transforms):
        if type(step).__name__ not in ("StandardScaler", "_Standardise"):
            raise AttributionError(
                f"probe attribution can fold only StandardScaler before the linear model; "
                f"found {type(step).__name__}"
            )
        mean = step.mean_ if getattr(step, "with_mean", True) and step.mean_ is not None else 0.0
        scale = step.scale_ if getattr(step, "with_std", True) and step.scale_ is not None else 1.0
        coef = coef / scale
        intercept = intercept - (coef * mean).sum(axis=1)
    layer = nn.Linear(coef.shape[1], coef.shape[0])
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(coef, dtype=torch.get_default_dtype()))
        layer.bias.copy_(torch.as_tensor(intercept, dtype=torch.get_default_dtype()))
    classes = np.asarray(getattr(probe, "classes_", getattr(model, "classes_", [])))
    return layer.requires_grad_(False), classes


def sentence_view_from(view: str, output: Tensor, h_n: Tensor, c_n: Tensor | None,
                       lengths: Tensor, num_directions: int) -> Tensor:
    """The sentence view (batch, dim) from a recurrent module's padded results.

    output (batch, time, directions*out) batch-major; h_n, c_n (layers*directions, batch, out).
    """
    spec = try_parse(view)
    if spec is not None and spec.is_final:
        src = h_n if spec.base == "h_n" else c_n
        index = spec.layer * num_directions + (spec.direction_index or 0)
        if src is None or index >= src.shape[0] or (spec.direction == "bwd"
                                                    and num_directions == 1):
            raise AttributionError(f"view {view!r} does not exist in this model")
    elif view not in (OUTPUT_LAST, MEAN_OUTPUT, MAX_OUTPUT):
        raise AttributionError(
            f"view {view!r} is not supported for probe attribution; use one of "
            f"{', '.join(SENTENCE_VIEWS)}"
        )
    return module_view(spec, output, h_n, c_n, lengths, num_directions)


def view_function(parts: ModelParts, view: str):
    """``f(ids, lengths) -> view (batch, dim)`` read from the recurrent module in the forward."""
    num_directions = 2 if parts.rnn.bidirectional else 1

    def f(ids: Tensor, lengths: Tensor) -> Tensor:
        seen: list = []
        handle = parts.rnn.register_forward_hook(lambda _m, _a, out: seen.append(out))
        try:
            parts.forward(ids, lengths)
        finally:
            handle.remove()
        output, state = seen[-1]
        if isinstance(output, PackedSequence):
            output, _ = pad_packed_sequence(output, batch_first=True)
        elif not parts.rnn.batch_first:
            output = output.transpose(0, 1)
        h_n, c_n = state if isinstance(state, tuple) else (state, None)
        return sentence_view_from(view, output, h_n, c_n, lengths, num_directions)

    return f


def probe_token_attributions(parts: ModelParts, ids: Tensor, lengths: Tensor, probe: Any,
                             view: str, target: Tensor | None = None, *, n_steps: int = 50,
                             internal_batch_size: int = 256) -> tuple[TokenAttributions, Tensor]:
    """IG of the probe's decision score for ``target`` (class index into the probe's classes).

    Returns the token attributions (batch, time) with completeness, and the class index used
    per row (the probe's own prediction when ``target`` is None).
    """
    ids, lengths = checked_inputs(parts, ids, lengths)
    linear, _ = linear_probe_to_torch(probe)
    linear = linear.to(parts.device)
    read = view_function(parts, view)

    def score(ids_: Tensor, len_: Tensor, cls: Tensor) -> Tensor:
        z = linear(read(ids_, len_))
        if z.shape[1] == 1:  # binary: decision of classes[1]; class 0 reads its negative
            return torch.where(cls == 1, z[:, 0], -z[:, 0])
        return z.gather(1, cls.view(-1, 1)).squeeze(1)

    with attribution_mode(parts.model):
        with torch.no_grad():
            z = linear(read(ids, lengths))
        if target is None:
            target = (z[:, 0] > 0).long() if z.shape[1] == 1 else z.argmax(1)
        target = target.to(parts.device)
        attrs = []
        for sl in chunks(len(ids), internal_batch_size):
            a, _ = embedding_ig(parts, score, ids[sl], parts.pad_ids(ids[sl]),
                                (lengths[sl], target[sl]), None, n_steps, internal_batch_size)
            attrs.append(a.sum(-1).detach())
        with torch.no_grad():
            g_x = score(ids, lengths, target)
            g_b = score(parts.pad_ids(ids), lengths, target)
    mask = valid_mask(lengths, ids.shape[1])
    attributions = torch.where(mask, torch.cat(attrs), torch.zeros((), dtype=attrs[0].dtype))
    delta = attributions.sum(1) - (g_x - g_b)
    result = TokenAttributions("ig", attributions, g_x, g_b, delta,
                               relative_error(delta, g_x - g_b))
    return result, target
