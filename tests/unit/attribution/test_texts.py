"""Which embedding call reads which text: found from one forward, checked on every call."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probe_rnn.attribution.texts import TextsFed, embedding_calls, find_text_parts
from probe_rnn.errors import AttributionError
from tests.unit.attribution.texts_tiny import (
    VOCAB,
    Seq2Seq,
    Siamese,
    TwoEmbeddings,
    pair_batch,
    texts_forward_of,
)


def test_a_shared_embedding_reads_both_texts_and_two_embeddings_one_each():
    batch = pair_batch()
    for cls, names, readers in ((Siamese, ["embedding"], [(0, 1)]),
                                (TwoEmbeddings, ["emb_a", "emb_b"], [(0,), (1,)]),
                                (Seq2Seq, ["src_embedding", "trg_embedding"], [(0,), (1,)])):
        model = cls().eval()
        parts = find_text_parts(model, texts_forward_of(model), *batch, pad_id=0,
                                layout="time" if cls is Seq2Seq else "batch")
        assert [n for n, _ in parts.embeddings] == names and parts.readers == readers


def test_embedding_calls_lists_modules_in_the_order_of_their_first_call():
    model = Seq2Seq().eval()
    ids, _, ids_2, _ = pair_batch()
    order = embedding_calls(model, lambda: model(ids.t(), ids_2.t()))
    assert [n for n, _ in order] == ["src_embedding", "trg_embedding"]
    extra = nn.Embedding(VOCAB, 3)
    assert [n for n, _ in embedding_calls(model, lambda: extra(ids), extra)] == ["input"]


class _OwnGuesses(Siamese):
    """Embeds text b reversed: not the text's tokens in order."""

    def forward(self, a, b):
        return super().forward(a, b.flip(1))


def test_a_call_reading_other_ids_is_refused_in_one_line():
    model = _OwnGuesses().eval()
    batch = pair_batch()
    parts = find_text_parts(model, texts_forward_of(model), *batch, pad_id=0)
    fed = TextsFed(parts)
    emb, emb_2 = parts.embed(batch[0], 0), parts.embed(batch[2], 1)
    with pytest.raises(AttributionError, match=r"call 2 of the embedding embedding read ids of "
                                               r"shape \(4, 5\) that are not the next steps"):
        fed(emb, emb_2, *batch)


class _NoEmbedding(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(1, 2, batch_first=True)

    def forward(self, a, b):
        return self.rnn(a[..., None].float())[1][0, :, 0] - self.rnn(b[..., None].float())[1][
            0, :, 0]


def test_a_model_without_an_embedding_for_its_texts_is_refused():
    model = _NoEmbedding()
    batch = pair_batch()
    with pytest.raises(AttributionError, match="its forward called none"):
        find_text_parts(model, lambda i, _l, j, _m: model(i, j)[:, None], *batch)


class _StepwiseBatchMajor(Siamese):
    """Embeds text b one step at a time as ``(batch,)`` ids: 1-D calls."""

    def forward(self, a, b):
        first = self.encode(self.embedding(a), (a != 0).sum(1))
        steps = torch.stack([self.embedding(b[:, t]) for t in range(b.shape[1])], 1)
        return nn.functional.cosine_similarity(first, self.encode(steps, (b != 0).sum(1)))


def test_one_step_calls_take_the_next_step_of_their_text():
    model = _StepwiseBatchMajor().eval()
    batch = pair_batch()
    parts = find_text_parts(model, texts_forward_of(model), *batch, pad_id=0)
    emb, emb_2 = parts.embed(batch[0], 0), parts.embed(batch[2], 1)
    half = emb_2 / 2
    with torch.no_grad():
        got = TextsFed(parts)(emb, half, *batch)[:, 0]
    assert torch.allclose(got, model.value_from(emb, half, *batch), atol=1e-6)
