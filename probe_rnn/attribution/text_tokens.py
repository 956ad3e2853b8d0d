"""Token attribution of a model reading two texts, over both texts' tokens at once.

Integrated Gradients runs on the token embeddings of both texts together (Captum's
``IntegratedGradients`` with a tuple of two inputs, fed through
:class:`~probe_rnn.attribution.texts.TextsFed`, so each embedding call gets its own
interpolated embedding): the path runs from the PAD embeddings of both texts (the same lengths,
as for a classifier) to their real embeddings, ids and lengths travel unchanged (a decoder's
reference tokens are the targets it is scored on, never interpolated). Completeness per row is
over both texts: ``sum(text 1) + sum(text 2) = F(x) - F(baseline)``. ``saliency`` and ``ixg``
run on the same two inputs; ``occlusion`` replaces one token's embedding by PAD's at a time (a
continuation's scored tokens stay as they are). ``deeplift`` does not apply: its rescale rule
needs each module called once per forward, and a siamese encoder is called twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from captum.attr import InputXGradient, IntegratedGradients, Occlusion, Saliency
from torch import Tensor

from probe_rnn.attribution.parts import (
    attribution_mode,
    baseline_ids,
    chunks,
    gather_target,
    relative_error,
    valid_mask,
)
from probe_rnn.attribution.texts import TextsFed, TextsParts
from probe_rnn.errors import ConfigError, Mention

TEXT_METHODS = ("ig", "saliency", "ixg", "occlusion")


@dataclass
class TextTokenAttributions:
    """Token attributions of one batch of two-text rows: ``attributions (batch, time)`` of text
    1, ``attributions_2 (batch, time_2)`` of text 2 (exactly 0 at padding); ``f_x``,
    ``f_baseline``, ``delta``, ``completeness_error`` ``(batch,)``, the last two NaN for methods
    without a summation property."""

    method: str
    attributions: Tensor
    attributions_2: Tensor
    f_x: Tensor
    f_baseline: Tensor
    delta: Tensor
    completeness_error: Tensor


def check_text_method(method: str) -> None:
    """ConfigError, in one line, for a token method that does not apply to two texts."""
    if method not in TEXT_METHODS:
        raise ConfigError(
            Mention("method", method), " does not apply to a model reading two texts (DeepLift's "
            "rule needs each module called once per forward); use ",
            Mention("method", "ig"), f" or one of {', '.join(TEXT_METHODS[1:])}")


def _raw(method: str, parts: TextsParts, args: tuple[Tensor, ...], target: Tensor,
         n_steps: int, internal_batch_size: int) -> tuple[Tensor, Tensor]:
    """(text 1 (batch, time), text 2 (batch, time_2)) attributions of one chunk."""
    ids, _, ids_2, _ = args
    emb, emb_2 = parts.embed(ids, 0), parts.embed(ids_2, 1)
    base = (parts.embed(baseline_ids(ids, parts.pad_id), 0),
            parts.embed(baseline_ids(ids_2, parts.pad_id), 1))
    fed = TextsFed(parts)
    if method == "ig":
        attr = IntegratedGradients(fed).attribute(
            (emb, emb_2), baselines=base, additional_forward_args=args, target=target,
            n_steps=n_steps, internal_batch_size=internal_batch_size)
        return attr[0].sum(-1), attr[1].sum(-1)
    if method == "occlusion":
        windows = ((1, emb.shape[-1]), (1, emb_2.shape[-1]))
        attr = Occlusion(fed).attribute((emb, emb_2), sliding_window_shapes=windows,
                                        strides=windows, baselines=base, target=target,
                                        additional_forward_args=args, perturbations_per_eval=4)
        return attr[0][..., 0], attr[1][..., 0]  # each element of a window holds its effect
    inputs = (emb.requires_grad_(True), emb_2.requires_grad_(True))
    if method == "saliency":
        attr = Saliency(fed).attribute(inputs, target=target, additional_forward_args=args,
                                       abs=True)
        return attr[0].sum(-1), attr[1].sum(-1)
    attr = InputXGradient(fed).attribute(inputs, target=target, additional_forward_args=args)
    return attr[0].sum(-1), attr[1].sum(-1)


def endpoint_values(parts: TextsParts, args: tuple[Tensor, ...], target: Tensor
                    ) -> tuple[Tensor, Tensor]:
    """``F(x)`` and ``F(baseline)`` per row (the PAD embeddings of both texts, the same ids
    and lengths otherwise), no grad."""
    ids, _, ids_2, _ = args
    fed = TextsFed(parts)
    with torch.no_grad():
        f_x = fed(parts.embed(ids, 0), parts.embed(ids_2, 1), *args)
        f_b = fed(parts.embed(baseline_ids(ids, parts.pad_id), 0),
                  parts.embed(baseline_ids(ids_2, parts.pad_id), 1), *args)
    return gather_target(f_x, target), gather_target(f_b, target)


def text_token_attributions(parts: TextsParts, ids: Tensor, lengths: Tensor, ids_2: Tensor,
                            lengths_2: Tensor, target: Tensor, *, method: str = "ig",
                            n_steps: int = 50, internal_batch_size: int = 256,
                            refine_above: float = 1e-2, refine_factor: int = 4
                            ) -> TextTokenAttributions:
    """Attribute column ``target`` of ``parts.forward`` to the tokens of both texts.

    Parameters
    ----------
    parts : :func:`~probe_rnn.attribution.texts.find_text_parts`.
    ids, lengths, ids_2, lengths_2 : each text's ids ``(batch, time)`` (right-padded with PAD)
        and lengths ``(batch,)``; never interpolated.
    target : ``(batch,)`` long: the column of the forward's values explained per row (0 for a
        score or a continuation).
    method, n_steps, internal_batch_size, refine_above, refine_factor : as
        :func:`~probe_rnn.attribution.tokens.token_attributions` (``method`` one of
        :data:`TEXT_METHODS`).
    """
    check_text_method(method)
    args = tuple(t.to(parts.device) for t in (ids, lengths, ids_2, lengths_2))
    target = target.to(parts.device)
    firsts, seconds = [], []
    with attribution_mode(parts.model):
        for sl in chunks(len(ids), internal_batch_size):
            a, b = _raw(method, parts, tuple(t[sl] for t in args), target[sl], n_steps,
                        internal_batch_size)
            firsts.append(a.detach())
            seconds.append(b.detach())
        f_x, f_b = endpoint_values(parts, args, target)
    zero = torch.zeros((), dtype=firsts[0].dtype, device=firsts[0].device)
    attr = torch.where(valid_mask(args[1], ids.shape[1]), torch.cat(firsts), zero)
    attr_2 = torch.where(valid_mask(args[3], ids_2.shape[1]), torch.cat(seconds), zero)
    nan = torch.full_like(f_x, float("nan"))
    if method != "ig":
        return TextTokenAttributions(method, attr, attr_2, f_x, f_b, nan, nan.clone())
    delta = attr.sum(1) + attr_2.sum(1) - (f_x - f_b)
    error = relative_error(delta, f_x - f_b)
    redo = torch.nonzero(error > refine_above).flatten()
    if len(redo) and refine_factor > 1:  # sharp paths: more steps, kept where better
        again = text_token_attributions(
            parts, args[0][redo], args[1][redo], args[2][redo], args[3][redo], target[redo],
            n_steps=n_steps * refine_factor, internal_batch_size=internal_batch_size,
            refine_factor=1)
        better = again.completeness_error < error[redo]
        keep = redo[better]
        attr[keep], attr_2[keep] = again.attributions[better], again.attributions_2[better]
        delta[keep], error[keep] = again.delta[better], again.completeness_error[better]
    return TextTokenAttributions(method, attr, attr_2, f_x, f_b, delta, error)
