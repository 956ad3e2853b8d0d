"""What a forward returns, read as class logits, a pair score, per-step logits or states."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from probe_rnn.models.adapters import last_module
from probe_rnn.models.outputs import next_token_logprobs, placeholder_first, read_output


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


def test_next_token_logprobs_align_a_decoder_loops_unwritten_first_step() -> None:
    """Step t scores token t + 1, except after a placeholder step 0 (constant over the
    vocabulary in every row: a decoder loop's outputs[0] zeros, or their log-softmax), which
    is dropped so that the loop's step t scores token t; a decoder fed tokens 0..T-2 (one step
    fewer than the target) scores tokens 1..T-1."""
    torch.manual_seed(0)
    ids, lengths = torch.tensor([[1, 2, 3], [3, 1, 0]]), torch.tensor([3, 2])
    steps = torch.randn(2, 3, 4)
    logp = torch.log_softmax(steps, -1)
    gold, hit, valid = next_token_logprobs(steps, ids, lengths)  # a language model
    assert torch.allclose(gold[0], torch.stack([logp[0, 0, 2], logp[0, 1, 3]]))
    assert valid.tolist() == [[True, True], [True, False]]
    assert hit[0].tolist() == [int(steps[0, 0].argmax()) == 2, int(steps[0, 1].argmax()) == 3]
    for first in (torch.zeros(2, 4), torch.full((2, 4), -math.log(4))):
        loop = torch.cat([first[:, None], steps[:, 1:]], 1)
        assert placeholder_first(loop) and not placeholder_first(steps)
        gold, _, valid = next_token_logprobs(loop, ids, lengths)
        assert torch.allclose(gold[0], torch.stack([logp[0, 1, 2], logp[0, 2, 3]]))
        assert torch.allclose(gold[1], torch.stack([logp[1, 1, 1], torch.tensor(0.0)]))
    shorter, _, _ = next_token_logprobs(steps[:, :2], ids, lengths)
    assert torch.allclose(shorter[0], torch.stack([logp[0, 0, 2], logp[0, 1, 3]]))
