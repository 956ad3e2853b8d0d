"""What a forward returns, read as class logits, a pair score, per-step logits or states."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probe_rnn.models.adapters import last_module
from probe_rnn.models.outputs import read_output


class Head(nn.Module):
    def __init__(self, outputs: int, head: bool = True) -> None:
        super().__init__()
        self.embedding = nn.Embedding(10, 4)
        self.gru = nn.GRU(4, 6, batch_first=True)
        self.fc = nn.Linear(6, outputs) if head else None

    def forward(self, ids):
        output, hidden = self.gru(self.embedding(ids))
        return self.fc(hidden[-1]) if self.fc is not None else (output, hidden)


def _read(model: nn.Module, ids: torch.Tensor, **kw):
    with torch.no_grad(), last_module(model) as last:
        out = model(ids)
        return out, read_output(out, ids.shape[0], ids.shape[1], last=last, **kw)


def test_a_linear_head_gives_class_logits_unchanged() -> None:
    ids = torch.randint(0, 10, (3, 5))
    out, read = _read(Head(4).eval(), ids)
    assert read.kind == "logits" and torch.equal(read.logits, out)


def test_an_encoder_returning_its_gru_output_is_states_with_no_prediction() -> None:
    ids = torch.randint(0, 10, (3, 5))
    out, read = _read(Head(4, head=False).eval(), ids)
    assert read.kind == "states" and read.logits is None
    assert torch.equal(read.values, out[0])  # rows first, for the batch-dependence check


def test_one_number_per_pair_is_a_score_and_two_vectors_give_their_cosine() -> None:
    score = torch.tensor([0.2, -0.5, 0.9])
    assert read_output(score, 3, 5, texts=2).kind == "score"
    a, b = torch.randn(3, 6), torch.randn(3, 6)
    read = read_output((a, b), 3, 5, texts=2)
    reference = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
    assert read.kind == "score" and torch.allclose(read.values, reference, atol=1e-6)
    # the same (batch,) return from a one-text model stays a binary classifier's logit
    assert read_output(score, 3, 5, last=[nn.Linear(2, 1)]).logits.shape == (3, 2)


def test_flattened_time_major_step_logits_come_back_batch_major() -> None:
    time, rows, vocab = 4, 3, 7
    per_step = torch.randn(time, rows, vocab)
    read = read_output((per_step.view(-1, vocab), "hidden"), rows, time, time_major=True,
                       last=[nn.Linear(2, vocab)])
    assert read.kind == "step-logits"
    for t in range(time):
        for r in range(rows):
            assert torch.equal(read.values[r, t], per_step[t, r])


def test_a_return_that_fits_no_kind_is_named() -> None:
    with pytest.raises(TypeError, match="not a tensor"):
        read_output({"logits": 1}, 3, 5)
    with pytest.raises(TypeError, match=r"shape \(5, 2\)"):
        read_output(torch.zeros(5, 2), 3, 5, last=[nn.Linear(2, 2)])
