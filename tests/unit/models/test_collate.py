"""``--collate``: the author's batching. Each row's steps come from the PackedSequence the
recurrent module receives, else the batch's lengths or mask, else every step; the ids are what
the embedding read; attribution's batches are rebuilt from ids and lengths."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

from probe_rnn.data.vocab import VocabTokenizer
from probe_rnn.errors import ConfigError
from probe_rnn.models.collate import CollateAdapter, load_collate

VOCAB = {"<pad>": 0, "<unk>": 1, "<sos>": 2, **{c: i + 3 for i, c in enumerate("abcdef")}}
TOKENIZER = VocabTokenizer(VOCAB, "char", 0, 1)


def collate_mask(texts):
    ids = pad_sequence([torch.tensor([2] + [VOCAB[c] for c in t]) for t in texts],
                       batch_first=True)
    return ids, ids != 0


class Masked(nn.Module):
    """forward(ids, mask); packs inside from the mask (sorted or not, as ``packs`` says)."""

    def __init__(self, packs: bool) -> None:
        super().__init__()
        self.packs = packs
        self.embedding = nn.Embedding(len(VOCAB), 4, padding_idx=0)
        self.gru = nn.GRU(4, 3, batch_first=True)
        self.fc = nn.Linear(3, 2)

    def forward(self, ids, mask):
        x = self.embedding(ids)
        if self.packs:
            x = pack_padded_sequence(x, mask.sum(1).cpu(), batch_first=True)  # sorted only
        return self.fc(self.gru(x)[1][-1])


@pytest.mark.parametrize("packs", [True, False])
def test_steps_and_ids_come_from_the_module_or_the_mask(packs) -> None:
    torch.manual_seed(0)
    model = Masked(packs).eval()
    adapter = CollateAdapter(collate_mask, "t:collate_mask", model, TOKENIZER)
    texts = ["ab", "fedcba", "c"]  # unsorted: the forward's packing is sorted within the call
    batch = adapter.encode(texts)
    assert batch["lengths"].tolist() == [3, 7, 2]  # <sos> counts
    assert adapter.roles == {0: "ids", 1: "mask"}
    assert torch.equal(batch["ids"], collate_mask(texts)[0])
    assert adapter.tokens("ab") == ["<sos>", "a", "b"]  # the vocabulary's names of the ids
    got = adapter.forward(model, batch)
    order = [1, 0, 2]  # the batch the author's sorted loader would have built
    with torch.no_grad():
        want = model(*collate_mask([texts[i] for i in order]))
    torch.testing.assert_close(got[order], want)
    rebuilt = adapter.forward(model, {"ids": batch["ids"], "lengths": batch["lengths"]})
    torch.testing.assert_close(rebuilt, got)  # attribution's path: ids and lengths only


def test_without_lengths_or_mask_every_step_is_read() -> None:
    model = Masked(False).eval()
    adapter = CollateAdapter(lambda texts: (collate_mask(texts)[0], torch.ones(1)), "t:f",
                             model, TOKENIZER)
    batch = adapter.encode(["ab", "abcd"])
    assert batch["lengths"].tolist() == [5, 5]  # the module reads the padding
    assert adapter.tokens("ab") == ["<sos>", "a", "b", "<pad>", "<pad>"]


def test_a_collate_that_fails_or_drops_rows_is_one_line() -> None:
    model = Masked(False).eval()
    broken = CollateAdapter(lambda texts: 1 / 0, "f.py:broken", model)
    with pytest.raises(ConfigError, match=r"collate f.py:broken failed on 2 texts "
                                          r"\(ZeroDivisionError"):
        broken.encode(["a", "b"])
    dropping = CollateAdapter(lambda texts: collate_mask(texts[:1]), "f.py:drop", model)
    with pytest.raises(ConfigError, match="made a batch of 1 sequences from 2 texts"):
        dropping.encode(["a", "b"])
    with pytest.raises(ConfigError, match="collate must look like"):
        load_collate("no-colon")
