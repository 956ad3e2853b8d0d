"""What the built-in adapters do to a batch: BOS/EOS and fixed-length padding (as torchtext's
``Field(init_token, eos_token, fix_length)`` does, written out by hand here), one-hot inputs
with zero vectors at padding, and a pack_padded_sequence that sorts rows only within the call."""

from __future__ import annotations

import pytest
import torch
import torch.nn.utils.rnn as rnn_utils
from torch import nn

from probe_rnn.data.vocab import VocabTokenizer
from probe_rnn.errors import ConfigError, ParameterError
from probe_rnn.models.adapters import IdsAdapter
from probe_rnn.models.feeding import Feeding, sorted_packing
from probe_rnn.models.loading import feeding_for

INDEX = {"<pad>": 0, "<unk>": 1, "<sos>": 2, "<eos>": 3, "a": 4, "b": 5, "c": 6}


def _by_hand(texts, bos, eos, width):
    """torchtext's Field: cut to fix_length minus the special tokens, add them, pad."""
    rows = []
    for text in texts:
        body = [INDEX[c] for c in text][: width - bos - eos]
        rows.append([2] * bos + body + [3] * eos)
    return [r + [0] * (width - len(r)) for r in rows], [len(r) for r in rows]


@pytest.mark.parametrize("bos, eos, width", [(1, 1, 6), (0, 1, 4), (1, 0, 3), (0, 0, 5)])
def test_bos_eos_and_fixed_length_match_torchtext(bos, eos, width) -> None:
    tok = VocabTokenizer(INDEX, "char", 0, 1)
    feeding = Feeding(pad_to=width, bos="<sos>" if bos else None, eos="<eos>" if eos else None,
                      bos_id=2 if bos else None, eos_id=3 if eos else None)
    adapter = IdsAdapter(tok, "batch", feeding)
    texts = ["abc", "a", "cabba"]
    batch = adapter.encode(texts)
    rows, lengths = _by_hand(texts, bos, eos, width)
    assert batch["ids"].tolist() == rows
    assert batch["lengths"].tolist() == lengths
    assert [len(adapter.tokens(t)) for t in texts] == lengths
    assert adapter.tokens("cabba")[: bos + 1] == ["<sos>"] * bos + ["c"]


def test_feeding_options_are_checked_against_the_vocabulary() -> None:
    tok = VocabTokenizer(INDEX, "char", 0, 1)
    model = nn.Sequential(nn.Embedding(7, 2), nn.GRU(2, 2))
    found = ("0", model[0])
    assert feeding_for(model, tok, found, 5, "<sos>", "<eos>").bos_id == 2
    with pytest.raises(ConfigError, match=r"eos=</s> must be a token .* has no token '</s>'"):
        feeding_for(model, tok, found, None, None, "</s>")
    with pytest.raises(ConfigError, match="pad_to=2 leaves no step"):
        feeding_for(model, tok, found, 2, "<sos>", "<eos>")
    with pytest.raises(ParameterError) as refused:
        feeding_for(model, tok, found, 0, None, None)
    assert refused.value.parameter == "pad_to"


class OneHotRNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(7, 3)  # time-major, fed without an embedding
        self.h2o = nn.Linear(3, 2)

    def forward(self, line_tensor):
        return self.h2o(self.rnn(line_tensor)[1][0])


def test_one_hot_inputs_when_the_recurrent_module_reads_the_vocabulary() -> None:
    tok = VocabTokenizer(INDEX, "char", 0, 1)
    model = OneHotRNN().eval()
    seen = []
    model.rnn.register_forward_hook(lambda _m, args, _o: seen.append(args[0]))
    feeding = feeding_for(model, tok, None, None, None, None)
    assert feeding.one_hot == 7
    adapter = IdsAdapter(tok, "time", feeding)
    with torch.no_grad():
        logits = adapter.forward(model, adapter.encode(["ab", "c"]))
    want = torch.zeros(2, 2, 7)  # (time, batch, vocab)
    want[0, 0, 4] = want[1, 0, 5] = want[0, 1, 6] = 1  # "ab", "c"; padding stays all-zero
    assert torch.equal(seen[0], want)
    with torch.no_grad():
        torch.testing.assert_close(logits, model(want))
    wide = nn.Sequential(nn.GRU(9, 3))  # reads vectors wider than the vocabulary: no one-hot
    assert feeding_for(wide, tok, None, None, None, None).one_hot is None


def test_sorted_packing_sorts_within_the_call_only() -> None:
    data = torch.randn(4, 3, 2)  # (time, batch, feature)
    lengths = torch.tensor([2, 4, 3])
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        rnn_utils.pack_padded_sequence(data, lengths)
    original = rnn_utils.pack_padded_sequence
    gru = nn.GRU(2, 2)
    with sorted_packing(gru):
        packed = rnn_utils.pack_padded_sequence(data, lengths)
    assert rnn_utils.pack_padded_sequence is original
    want = original(data, lengths, enforce_sorted=False)
    assert torch.equal(packed.data, want.data) and torch.equal(packed.unsorted_indices,
                                                               want.unsorted_indices)
    with pytest.raises(ValueError), sorted_packing(gru):
        raise ValueError("restored on errors too")
    assert rnn_utils.pack_padded_sequence is original


def test_nested_sorted_packing_restores_at_the_outermost_exit() -> None:
    original = rnn_utils.pack_padded_sequence
    gru = nn.GRU(2, 2)
    with sorted_packing(gru):
        with sorted_packing(gru):
            pass
        assert rnn_utils.pack_padded_sequence is not original  # the outer block still sorts
        rnn_utils.pack_padded_sequence(torch.randn(3, 2, 2), torch.tensor([1, 3]))
    assert rnn_utils.pack_padded_sequence is original
