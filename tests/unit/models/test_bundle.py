"""ModelBundle predictions, batching, the model card and the random-init baseline."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probe_rnn.errors import ConfigError, ParameterError, PluginError
from probe_rnn.models import (
    ProbeRnnAdapter,
    build_random_init,
    describe_recurrent,
    iter_batches,
    make_adapter,
)
from probe_rnn.plugins import registry
from tests.unit.models.models_support import TEXTS, make_bundle


def test_builtin_adapters_are_registered() -> None:
    assert {"probe-rnn", "ids-lengths", "ids"} <= set(registry.names("adapter"))
    assert registry.get("adapter", "probe-rnn") is ProbeRnnAdapter


def test_make_adapter_accepts_names_classes_instances(tokenizer) -> None:
    assert make_adapter("probe-rnn", tokenizer).tokenizer is tokenizer
    assert isinstance(make_adapter(ProbeRnnAdapter, tokenizer), ProbeRnnAdapter)
    instance = ProbeRnnAdapter(tokenizer)
    assert make_adapter(instance, None) is instance
    with pytest.raises(PluginError, match="choose one of"):
        make_adapter("nope", tokenizer)
    with pytest.raises(ConfigError, match="lacks method"):
        make_adapter(object(), tokenizer)


def test_iter_batches_preserves_order_and_tokens_match_lengths(tokenizer) -> None:
    adapter = ProbeRnnAdapter(tokenizer)
    batches = list(iter_batches(TEXTS, adapter, batch_size=4))
    assert [len(b["lengths"]) for b in batches] == [4, 2]
    lengths = torch.cat([b["lengths"] for b in batches]).tolist()
    assert lengths == [len(adapter.tokens(t)) for t in TEXTS] == [len(t) for t in TEXTS]
    assert batches[1]["ids"][0, : len(TEXTS[4])].tolist() == tokenizer.encode(TEXTS[4])
    with pytest.raises(ParameterError) as refused:
        list(iter_batches(TEXTS, adapter, batch_size=0))
    assert refused.value.parameter == "batch_size"


def test_predict_logits_equals_row_by_row_forward(bundle) -> None:
    batched = bundle.predict_logits(TEXTS, batch_size=4)
    with torch.no_grad():
        rows = [bundle.model(*bundle.tokenizer.encode_batch([t])) for t in TEXTS]
    torch.testing.assert_close(batched, torch.cat(rows))
    assert bundle.predict(TEXTS) == [bundle.labels[int(i)] for i in batched.argmax(1)]


def test_describe_recurrent_and_card(tokenizer) -> None:
    bundle = make_bundle(tokenizer, rnn="rnn-relu", layers=3, bidirectional=True)
    (module,) = describe_recurrent(bundle.model)
    expected = sum(p.numel() for name, p in bundle.model.named_parameters() if "rnn." in name)
    assert module == {"name": "rnn", "type": "RNN(relu)", "layers": 3, "directions": 2,
                      "hidden": 5, "proj_size": 0, "parameters": expected}
    card = bundle.card()
    assert card["tokenizer"] == {"kind": "char", "vocab_size": len(tokenizer)}
    assert card["config"]["rnn"] == "rnn-relu" and card["labels"] == ["neg", "pos"]
    projected = nn.LSTM(3, 8, proj_size=2)
    assert describe_recurrent(projected)[0]["proj_size"] == 2
    assert describe_recurrent(projected)[0]["name"] == "(model)"


def test_random_init_is_seeded_same_architecture_new_weights(bundle) -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = build_random_init(bundle, seed=5)
    assert torch.equal(torch.rand(3), expected_next)  # global RNG untouched
    b = build_random_init(bundle, seed=5)
    c = build_random_init(bundle, seed=6)
    for name, trained in bundle.model.state_dict().items():
        assert torch.equal(a.model.state_dict()[name], b.model.state_dict()[name])
        assert not torch.equal(a.model.state_dict()[name], trained) or trained.abs().sum() == 0
    assert not torch.equal(a.model.rnn.weight_hh_l0, c.model.rnn.weight_hh_l0)
    assert a.tokenizer is bundle.tokenizer and a.labels == bundle.labels
    assert a.meta["random_init"] is True and a.meta["random_init_seed"] == 5
    assert a.model.embedding.weight[0].abs().sum() == 0  # padding row stays zero
    assert bundle.model.rnn.weight_hh_l0.data_ptr() != a.model.rnn.weight_hh_l0.data_ptr()


class _Foreign(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(3, 4, batch_first=True)
        self.scale = nn.Parameter(torch.full((4,), 7.0))  # no reset_parameters for this one

    def forward(self, ids):
        return self.gru(ids)[0][:, -1] * self.scale


def test_random_init_of_foreign_model_resets_every_parameter(bundle) -> None:
    foreign = _Foreign()
    foreign_bundle = type(bundle)(foreign, None, ["a"], None, {}, bundle.adapter)
    fresh = build_random_init(foreign_bundle, seed=0).model
    assert fresh is not foreign
    assert torch.all(fresh.scale.abs() <= 0.5) and torch.all(foreign.scale == 7.0)
    assert not torch.equal(fresh.gru.weight_ih_l0, foreign.gru.weight_ih_l0)
