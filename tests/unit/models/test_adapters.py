"""Adapters (``probe_rnn.models.adapters``): whatever a model returns is read as logits whose
softmax is the model's own probabilities (a tuple's first element, one BCE logit per row, a
final ``nn.Sigmoid``/``nn.Softmax``), adapters are made from names, classes or instances, and
texts are encoded in consecutive batches in row order. (Every registered adapter also runs
through the plugin contract table, tests/unit/test_plugin_contract.py.)"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probe_rnn.data import Tokenizer
from probe_rnn.errors import ConfigError
from probe_rnn.models.adapters import (
    IdsAdapter,
    ProbeRnnAdapter,
    as_logits,
    iter_batches,
    last_module,
    make_adapter,
)


def test_a_tuple_gives_its_first_element() -> None:
    logits = torch.randn(3, 4)
    assert torch.equal(as_logits((logits, torch.zeros(1)), 3), logits)


@pytest.mark.parametrize("shape", [(5,), (5, 1)])
def test_one_bce_logit_per_row_becomes_two_with_the_same_probability(shape) -> None:
    z = torch.linspace(-3, 3, 5).reshape(shape)
    p = as_logits(z, 5).softmax(1)
    torch.testing.assert_close(p[:, 1], torch.sigmoid(z.reshape(-1)))
    torch.testing.assert_close(p[:, 0], 1 - torch.sigmoid(z.reshape(-1)))


def test_probabilities_from_a_final_sigmoid_or_softmax_come_back_as_logits() -> None:
    torch.manual_seed(0)
    x = torch.randn(6, 3)
    binary = nn.Sequential(nn.Linear(3, 1), nn.Sigmoid())
    multi = nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=1))
    for model, reference in ((binary, lambda out: torch.cat([1 - out, out], 1)),
                             (multi, lambda out: out)):
        with torch.no_grad(), last_module(model) as last:
            out = model(x)
        assert isinstance(last[-1], nn.Sigmoid | nn.Softmax)
        torch.testing.assert_close(as_logits(out, 6, last).softmax(1), reference(out))


def test_what_is_not_logits_is_refused_in_words() -> None:
    with pytest.raises(TypeError, match="returned a dict, not a tensor of logits"):
        as_logits({"logits": torch.zeros(2, 2)}, 2)
    with pytest.raises(TypeError, match=r"returned shape \(3, 2\), not logits \(2, n_labels\)"):
        as_logits(torch.zeros(3, 2), 2)


def test_make_adapter_from_a_name_a_class_or_an_instance() -> None:
    tok = Tokenizer("char").fit(["ab", "ba"])
    by_name = make_adapter("ids", tok, layout="time")
    assert isinstance(by_name, IdsAdapter) and by_name.layout == "time"
    assert isinstance(make_adapter(ProbeRnnAdapter, tok), ProbeRnnAdapter)
    assert make_adapter(by_name, tok) is by_name

    class Own:
        def __init__(self, tokenizer) -> None:
            self.tokenizer = tokenizer

        def encode(self, texts):
            return {"lengths": torch.tensor([len(t) for t in texts])}

        def forward(self, model, batch):
            return model(batch)

        def tokens(self, text):
            return list(text)

    assert isinstance(make_adapter(Own, tok), Own)
    with pytest.raises(ConfigError, match="layout=time applies to the built-in adapters"):
        make_adapter(Own, tok, layout="time")
    with pytest.raises(ConfigError, match=r"lacks method\(s\) forward, tokens"):
        make_adapter(type("Half", (), {"encode": lambda self, texts: {}})(), tok)


def test_iter_batches_keeps_row_order_in_consecutive_batches() -> None:
    texts = ["a", "bb", "ccc", "d", "ee"]
    tok = Tokenizer("char").fit(texts)
    batches = list(iter_batches(texts, ProbeRnnAdapter(tok), batch_size=2))
    assert [len(b["lengths"]) for b in batches] == [2, 2, 1]
    assert torch.cat([b["lengths"] for b in batches]).tolist() == [1, 2, 3, 1, 2]
    assert batches[1]["ids"].shape == (2, 3)  # padded to its own longest row
    assert tok.decode(batches[1]["ids"][0]) == list("ccc")


def test_a_subclass_overriding_forward_is_called_through_it() -> None:
    from probe_rnn.models.adapters import IdsAdapter, model_output

    class Doubled(IdsAdapter):
        def forward(self, model, batch):
            return super().forward(model, batch) * 2

    model = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Flatten(), torch.nn.Linear(6, 2))
    batch = {"ids": torch.tensor([[1, 2], [3, 4]]), "lengths": torch.tensor([2, 2])}
    plain = model_output(IdsAdapter(None), model, batch)
    doubled = model_output(Doubled(None), model, batch)
    assert plain.kind == "logits" and torch.allclose(doubled.logits, 2 * plain.logits)
