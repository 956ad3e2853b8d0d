"""How a foreign model is called, found from the model: lengths from forward's signature,
(batch, time) vs (time, batch) from one probing call, the embedding by name, the logits read,
and one-line errors naming forward's signature."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from probe_rnn.errors import ConfigError, ModelCallError
from probe_rnn.models.adapters import IdsAdapter, IdsLengthsAdapter, as_logits
from probe_rnn.models.call_options import call_options, takes_lengths
from probe_rnn.models.calling import detect_call, find_embedding
from probe_rnn.models.feeding import Feeding


class Packed(nn.Module):
    def __init__(self, batch_first: bool) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 4, padding_idx=0)
        self.lstm = nn.LSTM(4, 3, batch_first=batch_first)
        self.head = nn.Linear(3, 2)

    def forward(self, tokens, token_lengths):
        packed = nn.utils.rnn.pack_padded_sequence(
            self.emb(tokens), token_lengths.cpu(), batch_first=self.lstm.batch_first,
            enforce_sorted=False)
        return self.head(self.lstm(packed)[1][0][-1])


class Padded(nn.Module):
    def __init__(self, batch_first: bool) -> None:
        super().__init__()
        self.embedding = nn.Embedding(20, 4)
        self.gru = nn.GRU(4, 3, batch_first=batch_first)
        self.out = nn.Linear(3, 1)  # one logit: a binary model

    def forward(self, x):
        return self.out(self.gru(self.embedding(x))[1][-1])


@pytest.mark.parametrize("model, lengths, layout", [
    (Packed(True), True, "batch"), (Packed(False), True, "time"),
    (Padded(True), False, "batch"), (Padded(False), False, "time"),
])
def test_the_call_is_detected(model, lengths, layout) -> None:
    shape = detect_call(model.eval(), 20, 0)
    assert (shape.lengths, shape.layout) == (lengths, layout)
    assert shape.outputs == 2  # a single logit reads as two


def test_a_given_layout_is_tried_alone_and_fails_in_one_line() -> None:
    with pytest.raises(ModelCallError) as err:
        detect_call(Packed(False).eval(), 20, 0, layout="batch")
    text = str(err.value)
    assert "Packed.forward(tokens, token_lengths)" in text and "(3, 5) batch-major" in text
    assert "time-major" not in text and "\n" not in text


@pytest.mark.parametrize("forward, expected", [
    (lambda self, ids: None, False), (lambda self, text, text_lengths: None, True),
    (lambda self, x, lengths=None: None, True), (lambda self, *args: None, None),
])
def test_lengths_from_the_signature(forward, expected) -> None:
    model = type("M", (nn.Module,), {"forward": forward})()
    assert takes_lengths(model) is expected


def test_a_forward_needing_more_arguments_says_so() -> None:
    model = type("M", (nn.Module,), {"forward": lambda self, ids, mask, extra: None})()
    with pytest.raises(ModelCallError, match=r"M.forward\(ids, mask, extra\) needs 3"):
        takes_lengths(model)


def test_the_embedding_is_found_by_name() -> None:
    assert find_embedding(Packed(True))[0] == "emb"  # the only one
    two = nn.ModuleDict({"a": nn.Embedding(3, 2), "embedding": nn.Embedding(3, 2)})
    assert find_embedding(two)[0] == "embedding"
    other = nn.ModuleDict({"a": nn.Embedding(3, 2), "b": nn.Embedding(3, 2)})
    with pytest.raises(ConfigError, match=r"2 embeddings \(a, b\)"):
        find_embedding(other)
    assert find_embedding(other, "b")[0] == "b"
    assert find_embedding(nn.Linear(2, 2)) is None


def test_logits_are_read_as_probe_rnn_needs_them() -> None:
    z = torch.tensor([[0.3], [-2.0]])
    two = as_logits(z, 2)
    torch.testing.assert_close(two.softmax(1)[:, 1], torch.sigmoid(z[:, 0]))
    assert torch.equal(as_logits((torch.ones(2, 3), "hidden"), 2), torch.ones(2, 3))
    with pytest.raises(TypeError, match=r"shape \(5, 2\), not logits \(2, n_labels\)"):
        as_logits(torch.ones(5, 2), 2)


def test_a_failing_call_names_forward_and_the_shapes() -> None:
    ids = torch.ones(2, 4, dtype=torch.long)
    batch = {"ids": ids, "lengths": torch.tensor([4, 2])}
    with pytest.raises(ModelCallError, match=r"calling Padded.forward\(x\) with ids \(2, 4\) "
                       r"\(batch-major\) and lengths \(2,\) failed: TypeError"):
        IdsLengthsAdapter(None).forward(Padded(True), batch)
    out = IdsAdapter(None, "time").forward(Padded(False).eval(), batch)
    assert out.shape == (2, 2)


class InitHidden(nn.Module):
    """The init_hidden pattern: h_0 sized by a stored batch size unless batch_size is given."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_size = 32
        self.word_embeddings = nn.Embedding(20, 4)
        self.lstm = nn.LSTM(4, 3)
        self.label = nn.Linear(3, 2)

    def forward(self, input_sentence, batch_size=None):
        x = self.word_embeddings(input_sentence).permute(1, 0, 2)
        size = self.batch_size if batch_size is None else batch_size
        h_0 = torch.zeros(1, size, 3)
        return self.label(self.lstm(x, (h_0, torch.zeros(1, size, 3)))[1][0][-1])


class SortedPacked(nn.Module):
    """Packs with enforce_sorted left at True, imported by name as many tutorials do."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(20, 4, padding_idx=0)
        self.rnn = nn.LSTM(4, 3, bidirectional=True)
        self.fc = nn.Linear(6, 1)

    def forward(self, text, text_lengths):
        packed = pack_padded_sequence(self.embedding(text), text_lengths.cpu())
        hidden = self.rnn(packed)[1][0]
        return self.fc(torch.cat([hidden[-2], hidden[-1]], dim=1))


@pytest.mark.parametrize("forward, options", [
    (lambda self, ids: None, [(False, None)]),
    (lambda self, ids, lengths: None, [(True, None)]),
    (lambda self, x, lengths=None: None, [(False, None), (True, None)]),
    (lambda self, x, batch_size=None: None, [(False, None), (False, "batch_size")]),
    (lambda self, x, bsz=8: None, [(False, None), (False, "bsz")]),
    (lambda self, *args: None, [(True, None), (False, None)]),
])
def test_the_calls_tried_follow_the_signature(forward, options) -> None:
    model = type("M", (nn.Module,), {"forward": forward})()
    assert call_options(model) == options


def test_a_batch_size_parameter_gets_the_number_of_rows() -> None:
    model = InitHidden().eval()
    shape = detect_call(model, 20, 0)
    assert (shape.lengths, shape.layout, shape.batch_arg) == (False, "batch", "batch_size")
    adapter = IdsAdapter(None, "batch", Feeding(batch_arg=shape.batch_arg))
    ids = torch.randint(1, 20, (5, 7))
    with torch.no_grad():
        got = adapter.forward(model, {"ids": ids, "lengths": torch.full((5,), 7)})
        want = model(ids, batch_size=5)
    torch.testing.assert_close(got, want)
    with pytest.raises(ModelCallError, match="hidden"):  # ids alone: h_0 has 32 rows
        IdsAdapter(None, "batch").forward(model, {"ids": ids, "lengths": torch.full((5,), 7)})


def test_a_forward_needing_sorted_lengths_is_detected_and_keeps_row_order() -> None:
    torch.manual_seed(0)
    model = SortedPacked().eval()
    shape = detect_call(model, 20, 0)
    assert (shape.lengths, shape.layout, shape.sort) == (True, "time", True)
    lengths = torch.tensor([2, 6, 4, 6, 1])
    ids = torch.randint(1, 20, (5, 6)) * (torch.arange(6)[None, :] < lengths[:, None])
    adapter = IdsLengthsAdapter(None, "time", Feeding(sort=True))
    got = adapter.forward(model, {"ids": ids, "lengths": lengths})
    order = torch.sort(lengths, descending=True, stable=True).indices  # the author's batch
    with torch.no_grad():
        want = model(ids[order].t(), lengths[order])[torch.argsort(order)]
    torch.testing.assert_close(got, torch.cat([-want / 2, want / 2], dim=1))
    assert pack_padded_sequence is globals()["pack_padded_sequence"]  # put back
    with pytest.raises(ModelCallError, match="sorted by decreasing length"):
        IdsLengthsAdapter(None, "time").forward(model, {"ids": ids, "lengths": lengths})


def test_a_forward_no_call_fits_names_what_was_tried_and_the_collate_fix() -> None:
    class Masked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(20, 4)
            self.gru = nn.GRU(4, 3, batch_first=True)

        def forward(self, ids, mask):
            lengths = mask.sum(1)  # a (batch, time) mask, not lengths
            return self.gru(self.embedding(ids))[1][-1][:, :2] * lengths[:, None]

    with pytest.raises(ModelCallError) as err:
        detect_call(Masked().eval(), 20, 0)
    text = str(err.value)
    assert text.startswith("cannot call Masked.forward(ids, mask): tried with ids (3, 5)")
    assert "(5, 3) time-major + lengths (3,)" in text and "pass collate=FILE.py:fn" in text
    assert "\n" not in text
