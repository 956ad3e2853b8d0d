"""An adapter that runs the recurrent module several times per forward (once per row) is a
one-line error naming the adapter and what is supported, not an IndexError deep inside."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from probe_rnn.capture import diagnose
from probe_rnn.data.vocab import VocabTokenizer
from probe_rnn.errors import CaptureError
from probe_rnn.models import IdsAdapter, ModelBundle

VOCAB = {"<pad>": 0, **{c: i + 1 for i, c in enumerate("abcdefgh")}}


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(VOCAB), 4, padding_idx=0)
        self.lstm = nn.LSTM(4, 3, batch_first=True)
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(self.lstm(self.embedding(x))[1][0][-1])


class PerRow(IdsAdapter):
    """Calls the model once per row, on the row's own tokens."""

    def forward(self, model, batch):
        return torch.cat([model(batch["ids"][i:i + 1, :int(n)])
                          for i, n in enumerate(batch["lengths"])])


def test_an_adapter_calling_the_module_once_per_row_is_named() -> None:
    torch.manual_seed(0)
    tok = VocabTokenizer(VOCAB, "char", pad_id=0)
    bundle = ModelBundle(model=Model(), tokenizer=tok, labels=["a", "b"], config=None, meta={},
                         adapter=PerRow(tok))
    df = pd.DataFrame({"text": ["abc", "ab", "hgfe"]})
    with pytest.raises(CaptureError) as caught:
        diagnose(bundle, df)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("one forward of a batch of 3 rows through adapter PerRow ran the "
                              "recurrent module 'lstm' 3 times (on 1, 1, 1 rows): probe-rnn "
                              "captures one call of each recurrent module per forward")
    bundle.adapter = IdsAdapter(tok)  # the same model called once per batch works
    assert len(diagnose(bundle, df))
