"""The batch-dependence check: a model that mixes the rows of a batch (the tutorial's
``lstm_out.view(-1, hidden)`` on a time-major LSTM) is named before any work; legit packed and
padded models are not, although a padded model's output depends on its padding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probe_rnn.data.vocab import VocabTokenizer
from probe_rnn.errors import ModelCallError
from probe_rnn.models import IdsAdapter, IdsLengthsAdapter, ModelBundle
from probe_rnn.models.batch_dependence import (
    BATCH_TOLERANCE,
    CHECK_ROWS,
    check_batch_dependence,
)

VOCAB = {"<pad>": 0, **{c: i + 1 for i, c in enumerate("abcdefgh")}}
# 6 rows of 4 characters (the group the check compares) and rows of other lengths
TEXTS = ["abcd", "hg", "bcda", "efgh", "abc", "hhga", "dcba", "a", "gfed", "abcdefg"]


class TutorialMixing(nn.Module):
    """As in a widely copied sentiment tutorial, but on a time-major LSTM: the per-step
    outputs are flattened, scored, reshaped to (batch, -1) and the last column read, which
    for a (time, batch) output is another row's step."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(VOCAB), 5, padding_idx=0)
        self.lstm = nn.LSTM(5, 4)
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        batch = x.size(1)
        lstm_out, _ = self.lstm(self.embedding(x))
        out = self.fc(lstm_out.contiguous().view(-1, 4))
        return out.view(batch, -1)[:, -1]


class Packed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(VOCAB), 5, padding_idx=0)
        self.gru = nn.GRU(5, 4, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(8, 3)

    def forward(self, ids, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(ids), lengths.cpu(),
                                                   batch_first=True, enforce_sorted=False)
        h_n = self.gru(packed)[1]
        return self.fc(torch.cat([h_n[0], h_n[1]], dim=1))


class Padded(nn.Module):
    """Runs over its padding and reads h_n: its output for a row depends on how much padding
    the row got, which is not mixing rows."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(VOCAB), 5)
        self.lstm = nn.LSTM(5, 4, batch_first=True)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.lstm(self.embedding(x))[1][0][-1])


def _bundle(model: nn.Module, adapter: type, layout: str = "batch") -> ModelBundle:
    torch.manual_seed(0)
    for p in model.parameters():
        nn.init.normal_(p, std=0.8)
    tok = VocabTokenizer(VOCAB, "char", pad_id=0)
    return ModelBundle(model=model, tokenizer=tok, labels=["0", "1"], config=None,
                       meta={}, adapter=adapter(tok, layout))


def test_a_model_that_mixes_rows_is_named_in_one_line_before_any_work() -> None:
    bundle = _bundle(TutorialMixing(), IdsAdapter, "time")
    with pytest.raises(ModelCallError) as caught:
        check_batch_dependence(bundle, TEXTS)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("TutorialMixing.forward(x) mixes the rows of a batch: 6 rows of 4 "
                              "steps")
    assert "allow_batch_dependence=True" in message
    assert caught.value.parameters == ("allow_batch_dependence",)
    # an independent measure: the same rows through the model by hand, alone and together
    group = [t for t in TEXTS if len(t) == 4]
    ids = torch.tensor([[VOCAB[c] for c in t] for t in group]).t()  # (time, batch)
    with torch.no_grad():
        together = bundle.model(ids)
        alone = torch.cat([bundle.model(ids[:, i:i + 1]) for i in range(len(group))])
    by_hand = float(((together - alone) / 2).abs().max())  # one logit z -> (-z/2, z/2)
    assert by_hand > 1e-2
    # the check's difference is the larger of alone-vs-together and reversed-vs-together
    assert bundle.batch_check["max_difference"] >= by_hand * (1 - 1e-5)
    assert bundle.batch_check["per_row"] is False and bundle.batch_check["allowed"] is False


def test_allowed_it_goes_on_and_the_model_card_says_so() -> None:
    bundle = _bundle(TutorialMixing(), IdsAdapter, "time")
    result = check_batch_dependence(bundle, TEXTS, allow=True)
    assert result["per_row"] is False and result["allowed"] is True
    assert result["rows"] == 6 and result["steps"] == 4 and result["rows_differing"] > 0
    card = bundle.card()["batch_dependence"]
    assert card["per_row"] is False and card["allowed"] is True
    assert "mixes the rows of a batch" in card["sentence"]


@pytest.mark.parametrize("model, adapter", [(Packed(), IdsLengthsAdapter), (Padded(), IdsAdapter)])
def test_legit_packed_and_padded_models_are_not_flagged(model, adapter) -> None:
    bundle = _bundle(model, adapter)
    result = check_batch_dependence(bundle, TEXTS)
    assert result["checked"] and result["per_row"] is True
    assert result["max_difference"] <= result["tolerance"]
    assert result["tolerance"] >= BATCH_TOLERANCE
    assert bundle.card()["batch_dependence"]["per_row"] is True


def test_the_padded_model_does_depend_on_padding_which_is_why_rows_are_of_equal_length() -> None:
    bundle = _bundle(Padded(), IdsAdapter)
    with torch.no_grad():
        alone = bundle.adapter.forward(bundle.model, bundle.adapter.encode(["hg"]))
        padded = bundle.adapter.forward(bundle.model, bundle.adapter.encode(["hg", "abcdefg"]))
    assert float((alone[0] - padded[0]).abs().max()) > 10 * BATCH_TOLERANCE
    check_batch_dependence(bundle, ["hg", "abcdefg", "ab"])  # compares "hg" with "ab" only
    assert bundle.batch_check["rows"] == 2 and bundle.batch_check["per_row"] is True


def test_without_two_rows_of_equal_length_it_says_it_did_not_check() -> None:
    bundle = _bundle(TutorialMixing(), IdsAdapter, "time")
    result = check_batch_dependence(bundle, ["a", "ab", "abc"])
    assert result["checked"] is False and result["per_row"] is None
    assert result["sentence"] == ("not checked: no two of the first 3 rows have the same "
                                  "number of steps")


def test_it_compares_at_most_check_rows_rows() -> None:
    bundle = _bundle(Padded(), IdsAdapter)
    calls: list[int] = []
    bundle.model.register_forward_pre_hook(lambda m, a: calls.append(int(a[0].shape[0])))
    check_batch_dependence(bundle, ["abcd"] * 30)
    assert bundle.batch_check["rows"] == CHECK_ROWS
    assert calls == [CHECK_ROWS, CHECK_ROWS] + [1] * CHECK_ROWS  # together, reversed, alone


class Encoder(nn.Module):
    """Returns its GRU's per-step output: a row alone returns fewer steps than in a batch."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(VOCAB), 5, padding_idx=0)
        self.gru = nn.GRU(5, 4, batch_first=True)

    def forward(self, x):
        return self.gru(self.embedding(x))


def test_an_encoders_states_are_compared_over_the_steps_both_calls_have() -> None:
    bundle = _bundle(Encoder(), IdsAdapter)
    bundle.output_kind = None  # learnt from its first call, as for a collate's model
    result = check_batch_dependence(bundle, ["abcd", "hg", "bcda", "efgh", "abc"])
    assert bundle.output_kind == "states"
    assert result["checked"] and result["per_row"] is True and result["rows"] == 3
