"""Token attribution over two texts: Captum's IG on both texts' embeddings equals a
hand-written Gauss-Legendre IG, adds up per row, gives each embedding call its own input (no
captum #794), is exactly 0 at padding; methods that do not apply are refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probe_rnn.attribution.text_tokens import TEXT_METHODS, text_token_attributions
from probe_rnn.attribution.texts import TextsFed, find_text_parts
from probe_rnn.errors import ConfigError
from tests.unit.attribution.texts_tiny import (
    Seq2Seq,
    Siamese,
    TwoEmbeddings,
    pair_batch,
    texts_forward_of,
)

MODELS = [Siamese, TwoEmbeddings, Seq2Seq]


def _setup(cls, seed: int = 0):
    torch.manual_seed(seed)
    model = cls().eval()
    batch = pair_batch()
    parts = find_text_parts(model, texts_forward_of(model), *batch,
                            layout="time" if cls is Seq2Seq else "batch", pad_id=0)
    return model, batch, parts


def _embeddings(model, ids, ids_2):
    """Each text's embedding, taken from the model's own modules (not through probe-rnn)."""
    if isinstance(model, Siamese):
        return model.embedding(ids), model.embedding(ids_2)
    if isinstance(model, TwoEmbeddings):
        return model.emb_a(ids), model.emb_b(ids_2)
    return model.src_embedding(ids), model.trg_embedding(ids_2)


def _reference_ig(model, batch, n_steps: int):
    """Gauss-Legendre IG on ``value_from`` with autograd, from the PAD embeddings of both texts
    to the real ones: per-token attributions of each text."""
    ids, lengths, ids_2, lengths_2 = batch
    with torch.no_grad():
        x, x_2 = _embeddings(model, ids, ids_2)
        b, b_2 = _embeddings(model, torch.zeros_like(ids), torch.zeros_like(ids_2))
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    total, total_2 = torch.zeros_like(x), torch.zeros_like(x_2)
    for node, weight in zip((nodes + 1) / 2, weights / 2, strict=True):
        e = (b + float(node) * (x - b)).requires_grad_(True)
        e_2 = (b_2 + float(node) * (x_2 - b_2)).requires_grad_(True)
        value = model.value_from(e, e_2, *batch).sum()
        g, g_2 = torch.autograd.grad(value, (e, e_2), allow_unused=True)
        total += float(weight) * g
        total_2 += float(weight) * (g_2 if g_2 is not None else 0)
    return ((x - b) * total).sum(-1), ((x_2 - b_2) * total_2).sum(-1)


@pytest.mark.parametrize("cls", MODELS)
def test_ig_equals_a_hand_written_integral_and_adds_up(cls):
    model, batch, parts = _setup(cls)
    res = text_token_attributions(parts, *batch, torch.zeros(4, dtype=torch.long), n_steps=40,
                                  refine_factor=1)
    want, want_2 = _reference_ig(model, batch, 40)
    assert torch.allclose(res.attributions, want, atol=2e-5)
    assert torch.allclose(res.attributions_2, want_2, atol=2e-5)
    with torch.no_grad():  # completeness against the model's own value at both ends
        x = model.value_from(*_embeddings(model, batch[0], batch[2]), *batch)
        base = model.value_from(*_embeddings(model, torch.zeros_like(batch[0]),
                                             torch.zeros_like(batch[2])), *batch)
    assert torch.allclose(res.f_x, x, atol=1e-5) and torch.allclose(res.f_baseline, base,
                                                                      atol=1e-5)
    total = res.attributions.sum(1) + res.attributions_2.sum(1)
    assert torch.allclose(total, x - base, atol=1e-4)
    assert float(res.completeness_error.max()) < 1e-3


@pytest.mark.parametrize("cls", MODELS)
def test_the_second_text_gets_its_own_interpolation(cls):
    """The #794 bug fed the first call's output to the second: here text 2 moves the value,
    and changing only text 1 changes text 1's attributions, not what text 2 is fed."""
    model, batch, parts = _setup(cls)
    ids, lengths, ids_2, lengths_2 = batch
    x, x_2 = (e.detach() for e in _embeddings(model, ids, ids_2))
    _, b_2 = (e.detach() for e in _embeddings(model, ids, torch.zeros_like(ids_2)))
    fed = TextsFed(parts)
    with torch.no_grad():
        half = fed(x, (x_2 + b_2) / 2, *batch)[:, 0]
        assert torch.allclose(half, model.value_from(x, (x_2 + b_2) / 2, *batch), atol=1e-6)
        assert not torch.allclose(half, fed(x, x_2, *batch)[:, 0])
    target = torch.zeros(4, dtype=torch.long)
    res = text_token_attributions(parts, *batch, target, n_steps=24)
    assert bool((res.attributions_2.abs() > 1e-6).any(1)[lengths_2 > 1].all())
    changed = ids.clone()
    changed[0, 0] = 2 if int(ids[0, 0]) != 2 else 3
    other = text_token_attributions(parts, changed, lengths, ids_2, lengths_2, target,
                                    n_steps=24)
    assert not torch.allclose(other.attributions[0], res.attributions[0])
    assert torch.equal(other.attributions[1:], res.attributions[1:])


@pytest.mark.parametrize("method", TEXT_METHODS)
@pytest.mark.parametrize("cls", MODELS)
def test_padding_gets_exactly_zero(cls, method):
    _, batch, parts = _setup(cls)
    res = text_token_attributions(parts, *batch, torch.zeros(4, dtype=torch.long),
                                  method=method, n_steps=8)
    for attr, ids, lengths in ((res.attributions, batch[0], batch[1]),
                               (res.attributions_2, batch[2], batch[3])):
        pad = torch.arange(ids.shape[1])[None, :] >= lengths[:, None]
        assert torch.equal(attr[pad], torch.zeros(int(pad.sum())))
        assert bool((attr[~pad] != 0).any())
    assert res.completeness_error.isnan().all() == (method != "ig")


def test_occlusion_is_the_effect_of_each_token_embedding_set_to_pad():
    model, batch, parts = _setup(Siamese)
    res = text_token_attributions(parts, *batch, torch.zeros(4, dtype=torch.long),
                                  method="occlusion")
    ids, lengths, ids_2, lengths_2 = batch
    with torch.no_grad():
        x, x_2 = _embeddings(model, ids, ids_2)
        pad = model.embedding(torch.zeros(1, dtype=torch.long))[0]
        full = model.value_from(x, x_2, *batch)
        for t in range(int(lengths_2.max())):
            hidden = x_2.clone()
            hidden[:, t] = pad
            effect = (full - model.value_from(x, hidden, *batch)) * (t < lengths_2)
            assert torch.allclose(res.attributions_2[:, t], effect, atol=1e-5)


def test_deeplift_is_refused_naming_what_applies():
    _, batch, parts = _setup(Siamese)
    with pytest.raises(ConfigError, match="does not apply to a model reading two texts.*ig"):
        text_token_attributions(parts, *batch, torch.zeros(4, dtype=torch.long),
                                method="deeplift")
