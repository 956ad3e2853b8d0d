"""The attribution package's shared parts (``probe_rnn.attribution.parts``): finding the token
embedding and the recurrent module, the PAD baseline's endpoint logits against direct calls of
the model, masks, input checks, chunks, and the guard that disables cuDNN without ``train()``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probe_rnn.attribution.parts import (
    attribution_mode,
    baseline_ids,
    check_inputs,
    chunks,
    endpoint_logits,
    find_parts,
    gather_target,
    relative_error,
    valid_mask,
)
from probe_rnn.errors import AttributionError
from tests.unit.attribution.attr_tiny import tiny_batch, tiny_model


def test_find_parts_locates_the_embedding_rnn_and_padding() -> None:
    model = tiny_model()
    parts = find_parts(model)
    assert parts.embedding is model.embedding and parts.rnn is model.rnn
    assert parts.pad_id == (model.embedding.padding_idx or 0)
    assert parts.forward is model and parts.layout == "batch"
    assert find_parts(model, pad_id=3).pad_id == 3


def test_find_parts_refuses_a_model_it_cannot_attribute() -> None:
    no_embedding = nn.Sequential(nn.Linear(3, 3))
    no_embedding.rnn = nn.LSTM(3, 3)
    with pytest.raises(AttributionError, match="embedding"):
        find_parts(no_embedding)

    class TwoRnns(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(5, 3)
            self.enc, self.dec = nn.GRU(3, 3), nn.GRU(3, 3)

    with pytest.raises(AttributionError, match="exactly one"):
        find_parts(TwoRnns())


def test_endpoint_logits_are_the_model_on_the_input_and_on_all_pad() -> None:
    model = tiny_model()
    ids, lengths = tiny_batch()
    parts = find_parts(model)
    target = torch.tensor([0, 1, 2, 0, 1])
    f_x, f_b = endpoint_logits(parts, ids, lengths, target)
    with torch.no_grad():
        direct = model(ids, lengths)
        pad = model(torch.full_like(ids, parts.pad_id), lengths)
    torch.testing.assert_close(f_x, direct[torch.arange(5), target])
    torch.testing.assert_close(f_b, pad[torch.arange(5), target])
    assert torch.equal(gather_target(direct, target), direct[torch.arange(5), target])
    assert (baseline_ids(ids, 0) == 0).all() and baseline_ids(ids, 0).shape == ids.shape


class _TinyLM(nn.Module):
    """Embedding -> LSTM -> per-step logits; ``forward(ids, lengths)`` is the continuation
    log-likelihood (the next tokens are read from ``ids`` themselves)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.embedding = nn.Embedding(12, 6, padding_idx=0)
        self.rnn = nn.LSTM(6, 8, batch_first=True)
        self.out = nn.Linear(8, 12)

    def step_logits(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.rnn(self.embedding(ids))[0])

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        from probe_rnn.attribution.targets import continuation_loglik

        return continuation_loglik(self.step_logits(ids), ids, lengths)


def test_a_continuations_baseline_keeps_the_inputs_next_tokens() -> None:
    """A language model's target reads its next tokens from the ids: the PAD baseline is the
    PAD embedding fed with the input's ids (the end of the path IG integrates along), so token
    attributions add up to ``F(x) - F(baseline)``; scoring PAD as every next token would not."""
    from probe_rnn.attribution.targets import continuation_loglik
    from probe_rnn.attribution.tokens import token_attributions

    model = _TinyLM().eval()
    ids, lengths = tiny_batch()
    parts = find_parts(model)
    target = torch.zeros(5, dtype=torch.long)
    _, f_b = endpoint_logits(parts, ids, lengths, target)
    with torch.no_grad():
        pad = model.out(model.rnn(model.embedding(torch.zeros_like(ids)))[0])
        expected = continuation_loglik(pad, ids, lengths)[:, 0]
    torch.testing.assert_close(f_b, expected)
    tok = token_attributions(parts, ids, lengths, target, n_steps=64)
    assert float(tok.completeness_error[lengths > 1].max()) < 1e-3


def test_masks_errors_and_chunks() -> None:
    mask = valid_mask(torch.tensor([2, 0, 3]), 3)
    assert mask.tolist() == [[True, True, False], [False] * 3, [True] * 3]
    rel = relative_error(torch.tensor([0.1, -0.2, 1e-9]), torch.tensor([1.0, -0.5, 0.0]))
    torch.testing.assert_close(rel, torch.tensor([0.1, 0.4, 1e-3]))
    assert [(s.start, s.stop) for s in chunks(7, 3)] == [(0, 3), (3, 6), (6, 7)]
    assert [(s.start, s.stop) for s in chunks(2, 0)] == [(0, 1), (1, 2)]  # size at least 1


@pytest.mark.parametrize(("ids", "lengths", "what"), [
    (torch.zeros(2, 3), torch.tensor([1, 2]), "long tensor"),
    (torch.zeros(2, 3, dtype=torch.long), torch.tensor([1, 2, 3]), r"shape \(2,\)"),
    (torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 4]), r"1\.\.3"),
])
def test_check_inputs_names_what_does_not_fit(ids, lengths, what) -> None:
    with pytest.raises(AttributionError, match=what):
        check_inputs(ids, lengths)


def test_attribution_mode_disables_cudnn_and_never_trains() -> None:
    model = tiny_model().train()
    calls: list[bool] = []
    original = model.train

    def spy(mode: bool = True):
        calls.append(mode)
        return original(mode)

    model.train = spy  # eval() is train(False): only that may happen
    before = torch.backends.cudnn.enabled
    with attribution_mode(model):
        assert not torch.backends.cudnn.enabled and not model.training
    assert torch.backends.cudnn.enabled == before
    assert calls == [False]
