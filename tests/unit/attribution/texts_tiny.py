"""Tiny seeded models reading two texts, for attribution tests: a siamese LSTM with one shared
embedding called twice, a pair model with an embedding per text, and a teacher-forced GRU
encoder-decoder (time-major, decoder stepping one token at a time, ``outputs[0]`` zeros). Each
also computes its value straight from given embeddings (``value_from``), the independent
reference of the tests' hand-written Integrated Gradients."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probe_rnn.models.outputs import ModelOutput

VOCAB = 12


def _scaled(module: nn.Module, factor: float = 2.5) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(factor)


class Siamese(nn.Module):
    """``forward(a, b)``: cosine of the two texts' last hidden states, one shared encoder."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, 5, padding_idx=0)
        self.lstm = nn.LSTM(5, 7, batch_first=True)
        _scaled(self.lstm)

    def encode(self, emb: Tensor, lengths: Tensor) -> Tensor:
        out, _ = self.lstm(emb)
        return out[torch.arange(len(lengths)), lengths - 1]

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        la, lb = (a != 0).sum(1), (b != 0).sum(1)
        return F.cosine_similarity(self.encode(self.embedding(a), la),
                                   self.encode(self.embedding(b), lb))

    def value_from(self, emb: Tensor, emb_2: Tensor, ids: Tensor, lengths: Tensor,
                   ids_2: Tensor, lengths_2: Tensor) -> Tensor:
        return F.cosine_similarity(self.encode(emb, lengths), self.encode(emb_2, lengths_2))


class TwoEmbeddings(nn.Module):
    """``forward(a, b)``: a score from an LSTM over text a and a GRU over text b, each with
    its own embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.emb_a = nn.Embedding(VOCAB, 4, padding_idx=0)
        self.emb_b = nn.Embedding(VOCAB, 6, padding_idx=0)
        self.lstm = nn.LSTM(4, 5, batch_first=True)
        self.gru = nn.GRU(6, 5, batch_first=True)
        self.head = nn.Linear(10, 1)
        _scaled(self.lstm)
        _scaled(self.gru)

    def value_from(self, emb: Tensor, emb_2: Tensor, ids: Tensor, lengths: Tensor,
                   ids_2: Tensor, lengths_2: Tensor) -> Tensor:
        rows = torch.arange(len(lengths))
        h_a = self.lstm(emb)[0][rows, lengths - 1]
        h_b = self.gru(emb_2)[0][rows, lengths_2 - 1]
        return self.head(torch.cat([h_a, h_b], 1))[:, 0]

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        la, lb = (a != 0).sum(1), (b != 0).sum(1)
        return self.value_from(self.emb_a(a), self.emb_b(b), a, la, b, lb)


class Seq2Seq(nn.Module):
    """``forward(src, trg)`` time-major, teacher-forced: ``outputs[0]`` zeros, ``outputs[t]``
    the decoder's logits after reading ``trg[t - 1]`` (the PyTorch seq2seq tutorials' loop)."""

    def __init__(self) -> None:
        super().__init__()
        self.src_embedding = nn.Embedding(VOCAB, 5)
        self.encoder = nn.GRU(5, 6)
        self.trg_embedding = nn.Embedding(VOCAB, 4)
        self.decoder = nn.GRU(4, 6)
        self.out = nn.Linear(6, VOCAB)
        _scaled(self.encoder, 2.0)
        _scaled(self.decoder, 2.0)

    def forward(self, src: Tensor, trg: Tensor) -> Tensor:
        _, hidden = self.encoder(self.src_embedding(src))
        outputs = torch.zeros(trg.shape[0], trg.shape[1], VOCAB)
        for t in range(1, trg.shape[0]):
            step, hidden = self.decoder(self.trg_embedding(trg[t - 1].unsqueeze(0)), hidden)
            outputs[t] = self.out(step[0])
        return outputs

    def value_from(self, emb: Tensor, emb_2: Tensor, ids: Tensor, lengths: Tensor,
                   ids_2: Tensor, lengths_2: Tensor) -> Tensor:
        """The summed log-probability of each row's target tokens 1..length-1 (batch-major)."""
        _, hidden = self.encoder(emb.transpose(0, 1))
        total = torch.zeros(emb.shape[0])
        for t in range(1, ids_2.shape[1]):
            step, hidden = self.decoder(emb_2[:, t - 1].unsqueeze(0), hidden)
            logp = torch.log_softmax(self.out(step[0]), -1)
            gold = logp.gather(1, ids_2[:, t:t + 1])[:, 0]
            total = total + gold * (t < lengths_2)
        return total


def pair_batch(seed: int = 3) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Two texts of 4 rows, right-padded with 0: ids (4, 6), lengths; ids_2 (4, 5), lengths."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for lens in ((6, 2, 4, 1), (3, 5, 1, 4)):
        lengths = torch.tensor(lens)
        ids = torch.randint(2, VOCAB, (4, max(lens)), generator=g)
        ids[torch.arange(ids.shape[1])[None, :] >= lengths[:, None]] = 0
        out += [ids, lengths]
    return tuple(out)


def texts_forward_of(model: nn.Module):
    """``f(ids, lengths, ids_2, lengths_2) -> (batch, 1)`` as the built-in adapters call the
    model: a pair model's score, the encoder-decoder's continuation log-likelihood."""
    from probe_rnn.attribution.targets import text_target

    def forward(ids: Tensor, lengths: Tensor, ids_2: Tensor, lengths_2: Tensor) -> Tensor:
        if isinstance(model, Seq2Seq):
            out = ModelOutput("step-logits", model(ids.t(), ids_2.t()).transpose(0, 1))
            return text_target(out, "continuation", lengths_2, ids_2)
        return text_target(ModelOutput("score", model(ids, ids_2)), "score", lengths_2, ids_2)

    return forward
