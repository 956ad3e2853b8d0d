"""Token attribution: which input tokens drive the target logit.

The default is Integrated Gradients on the embedding layer's output: the path runs between the
PAD-token embedding (baseline: every valid position replaced by PAD, the **same lengths**) and
the real embedding, and ``ids`` and ``lengths`` travel in ``additional_forward_args`` so they
are never interpolated. This is what Captum's ``LayerIntegratedGradients`` computes, with one
difference that matters for time-major models: Captum interpolates a layer's output along its
dim 0, which is *time* when the model embeds ``(time, batch)`` ids; here the embeddings are
batch-major and the hook hands the model its own layout.
Attributions are summed over the embedding dimension, padded positions are set to exactly 0,
and completeness is judged per sentence: ``|sum - (F(x) - F(baseline))| / |F(x) - F(baseline)|``.

Other methods share the interface: ``saliency`` (L1 norm of the gradient at the embedding),
``ixg`` (InputXGradient), ``deeplift`` (Captum runs it on recurrent models without complaint,
but cannot apply its rescale rule to the sigmoid/tanh inside a fused kernel, so its summation
check is reported and usually fails) and ``occlusion`` (F(x) - F(x with token t -> PAD)).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from captum.attr import (
    DeepLift,
    InputXGradient,
    IntegratedGradients,
    Occlusion,
    Saliency,
)
from torch import Tensor

from probe_rnn.attribution.parts import (
    EmbeddingFed,
    ModelParts,
    attribution_mode,
    checked_inputs,
    chunks,
    endpoint_logits,
    relative_error,
    valid_mask,
)
from probe_rnn.errors import ConfigError, ParameterError
from probe_rnn.validation import shown

METHODS = ("ig", "saliency", "ixg", "deeplift", "occlusion")
COMPLETE = ("ig", "deeplift")  # methods whose sum should equal F(x) - F(baseline)


@dataclass
class TokenAttributions:
    """Token attributions of one batch.

    attributions (batch, time), exactly 0 at padding; f_x, f_baseline, delta,
    completeness_error (batch,); delta and completeness_error are NaN for methods without a
    summation property (saliency, ixg, occlusion).
    """

    method: str
    attributions: Tensor
    f_x: Tensor
    f_baseline: Tensor
    delta: Tensor
    completeness_error: Tensor


def embedding_ig(parts: ModelParts, fn: Callable[..., Tensor], ids: Tensor, base: Tensor,
                 args: tuple, target: Tensor | None, n_steps: int, internal_batch_size: int
                 ) -> tuple[Tensor, Tensor]:
    """Integrated Gradients of ``fn(ids, *args)`` w.r.t. the embedding output, from the
    embedding of ``base`` to that of ``ids``: (attributions (batch, time, emb), captum delta)."""
    with torch.no_grad():
        emb, emb_base = _batch_major(parts, ids), _batch_major(parts, base)
    ig = IntegratedGradients(EmbeddingFed(parts, fn))
    return ig.attribute(emb, baselines=emb_base, additional_forward_args=(ids, *args),
                        target=target, n_steps=n_steps, internal_batch_size=internal_batch_size,
                        return_convergence_delta=True)


def _batch_major(parts: ModelParts, ids: Tensor) -> Tensor:
    """The embedding of batch-major ``ids`` as ``(batch, time, emb)``."""
    return parts.embedding(ids).detach()


def _raw(method: str, parts: ModelParts, ids: Tensor, lengths: Tensor, target: Tensor,
         n_steps: int, internal_batch_size: int) -> tuple[Tensor, Tensor | None]:
    """(attributions (batch, time), captum delta or None) for one chunk."""
    base = parts.pad_ids(ids)
    if method == "ig":
        attr, delta = embedding_ig(parts, parts.forward, ids, base, (lengths,), target,
                                   n_steps, internal_batch_size)
        return attr.sum(-1), delta
    if method == "occlusion":
        attr = Occlusion(parts.forward).attribute(
            ids, sliding_window_shapes=(1,), baselines=parts.pad_id, target=target,
            additional_forward_args=(lengths,), perturbations_per_eval=4)
        return attr.to(torch.get_default_dtype()), None
    fed = EmbeddingFed(parts)
    with torch.no_grad():
        emb, emb_base = _batch_major(parts, ids), _batch_major(parts, base)
    emb = emb.requires_grad_(True)
    extra = (ids, lengths)
    if method == "saliency":
        attr = Saliency(fed).attribute(emb, target=target, additional_forward_args=extra)
        return attr.abs().sum(-1), None
    if method == "ixg":
        attr = InputXGradient(fed).attribute(emb, target=target, additional_forward_args=extra)
        return attr.sum(-1), None
    with warnings.catch_warnings():  # Captum announces its (temporary) hooks on activations
        warnings.simplefilter("ignore", UserWarning)
        attr, delta = DeepLift(fed).attribute(
            emb, baselines=emb_base, target=target, additional_forward_args=extra,
            return_convergence_delta=True)
    return attr.sum(-1), delta


def token_attributions(parts: ModelParts, ids: Tensor, lengths: Tensor, target: Tensor, *,
                       method: str = "ig", n_steps: int = 50,
                       internal_batch_size: int = 256, refine_above: float = 1e-2,
                       refine_factor: int = 4) -> TokenAttributions:
    """Attribute the ``target`` logit of each row to its tokens.

    Parameters
    ----------
    parts : model parts (:func:`probe_rnn.attribution.find_parts`).
    ids : (batch, time) long, right-padded with the PAD id.
    lengths : (batch,) long; never attributed.
    target : (batch,) long class index per row.
    method : one of ``METHODS``.
    n_steps : integration steps (IG).
    internal_batch_size : rows per forward pass (bounds memory; IG splits its steps by it).
    refine_above, refine_factor : IG rows whose completeness error exceeds ``refine_above``
        are recomputed once with ``refine_factor`` times the steps (kept if better).
    """
    if method not in METHODS:
        raise ParameterError("method", f"one of {', '.join(METHODS)}", shown(method))
    if n_steps < 1 or internal_batch_size < 1:
        raise ConfigError(f"n_steps and internal_batch_size must be ≥ 1; got {n_steps}, "
                          f"{internal_batch_size}")
    ids, lengths, target = checked_inputs(parts, ids, lengths, target)
    attrs, deltas = [], []
    with attribution_mode(parts.model):
        for sl in chunks(len(ids), internal_batch_size):
            a, d = _raw(method, parts, ids[sl], lengths[sl], target[sl], n_steps,
                        internal_batch_size)
            attrs.append(a.detach())
            deltas.append(d.detach() if d is not None else None)
        f_x, f_b = endpoint_logits(parts, ids, lengths, target)
    mask = valid_mask(lengths, ids.shape[1])
    attributions = torch.where(mask, torch.cat(attrs), torch.zeros((), dtype=attrs[0].dtype))
    nan = torch.full_like(f_x, float("nan"))
    if method in COMPLETE:
        delta = attributions.sum(1) - (f_x - f_b)
        error = relative_error(delta, f_x - f_b)
        redo = torch.nonzero(error > refine_above).flatten()
        if method == "ig" and len(redo) and refine_factor > 1:  # sharp paths: more steps
            again = token_attributions(parts, ids[redo], lengths[redo], target[redo],
                                       method="ig", n_steps=n_steps * refine_factor,
                                       internal_batch_size=internal_batch_size, refine_factor=1)
            better = again.completeness_error < error[redo]
            keep = redo[better]
            attributions[keep] = again.attributions[better]
            delta[keep], error[keep] = again.delta[better], again.completeness_error[better]
    else:
        delta, error = nan, nan.clone()
    return TokenAttributions(method, attributions, f_x, f_b, delta, error)

