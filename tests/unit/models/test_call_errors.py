"""Failed calls of the user's model say what they mean: real PyTorch failures (a model without
nn.Embedding fed ids, a packed model that needs sorted rows, a wrong layout) are explained, and
the layout/adapter/vocab hint follows only the failures it can fix."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probe_rnn.data.vocab import VocabTokenizer
from probe_rnn.errors import Mention, ModelCallError, render
from probe_rnn.models.adapters import IdsAdapter, _call_failed
from probe_rnn.models.call_errors import explain_call_error, hint_helps
from probe_rnn.models.calling import detect_call

VOCAB = {"<pad>": 0, **{c: i + 1 for i, c in enumerate("abcdefgh")}}


class OneHot(nn.Module):
    """No nn.Embedding: the LSTM reads one-hot vectors of the vocabulary's size."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(len(VOCAB), 3, batch_first=True)
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(self.rnn(x)[1][0][-1])


class SortedPacked(nn.Module):
    """The older torchtext style: pack_padded_sequence without enforce_sorted=False."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(VOCAB), 4, padding_idx=0)
        self.rnn = nn.GRU(4, 3, batch_first=True)
        self.fc = nn.Linear(3, 2)

    def forward(self, ids, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(ids), lengths.cpu(),
                                                   batch_first=True)
        return self.fc(self.rnn(packed)[1][-1])


def _raised(call) -> Exception:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - whatever PyTorch raises
        call()
    return caught.value


def test_a_model_without_embedding_fed_ids_is_told_so_not_to_convert_the_model() -> None:
    model = OneHot()
    exc = _raised(lambda: model(torch.ones(2, 3, dtype=torch.long)))
    assert "model.to(torch.int64)" in str(exc)  # PyTorch's advice, which would mislead
    parts = explain_call_error(model, exc)
    assert parts is not None
    text = render(parts)
    assert "model.to" not in text
    assert text.startswith("its LSTM 'rnn' reads float vectors of size 9, but the model has no "
                           "nn.Embedding")
    assert not hint_helps(exc)
    error = _call_failed(model, "ids (2, 3) (batch-major)", exc)
    assert str(error) == ("calling OneHot.forward(x) with ids (2, 3) (batch-major) failed: "
                          + text)
    assert error.parameters == ()  # no --layout/--adapter hint


def test_detection_says_a_known_cause_once() -> None:
    class Eager(nn.Module):  # fails the same known way in every layout and call it tries
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.GRU(4, 3)

        def forward(self, x):
            raise RuntimeError("Expected all tensors to be on the same device, but found at "
                               "least two devices, cuda:0 and cpu!")

    with pytest.raises(ModelCallError) as caught:
        detect_call(Eager(), len(VOCAB), 0)
    message = str(caught.value)
    assert message.startswith("cannot call Eager.forward(x): the model failed on its device")
    assert message.count("same device") == 1 and caught.value.parameters == ()


def test_a_packed_model_that_needs_sorted_rows_is_told_where_to_fix_it() -> None:
    model = SortedPacked()
    exc = _raised(lambda: model(torch.tensor([[1, 2, 0, 0], [1, 2, 3, 4]]), torch.tensor([2, 4])))
    assert "sorted in decreasing order" in str(exc)
    error = _call_failed(model, "ids (2, 4) (batch-major) and lengths (2,)", exc)
    assert Mention("adapter") in error.parts and error.parameters == ("adapter",)
    assert "so that probe-rnn detects this and sorts the batch" in str(error)
    assert str(error).endswith("add enforce_sorted=False to that call in the model's forward)")
    assert "layout=" not in str(error)


def test_a_shape_failure_keeps_the_layout_hint() -> None:
    tok = VocabTokenizer(VOCAB, "char", pad_id=0)
    model = nn.Sequential(nn.Embedding(len(VOCAB), 4), nn.Flatten(), nn.Linear(12, 2))
    with pytest.raises(ModelCallError) as caught:  # 4 steps flattened: not the 3 it expects
        IdsAdapter(tok).forward(model, IdsAdapter(tok).encode(["abcd"]))
    assert hint_helps(caught.value.__cause__)
    assert "check layout= (batch or time), adapter=" in str(caught.value)
    assert caught.value.parameters == ("layout", "adapter", "vocab")


def test_an_id_beyond_the_embedding_keeps_the_vocab_hint_and_other_failures_have_none() -> None:
    exc = _raised(lambda: nn.Embedding(3, 2)(torch.tensor([[5]])))
    assert isinstance(exc, IndexError) and hint_helps(exc)
    assert explain_call_error(nn.Embedding(3, 2), exc) is None
    assert not hint_helps(RuntimeError("Expected all tensors to be on the same device, but "
                                       "found at least two devices, cuda:0 and cpu!"))
    assert not hint_helps(ZeroDivisionError("division by zero"))
