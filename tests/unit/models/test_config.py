"""ModelConfig validation: every bad value names the parameter, the allowed values and the input."""

from __future__ import annotations

import pytest

from probe_rnn.errors import ConfigError, ParameterError
from probe_rnn.models import ModelConfig


def test_defaults_are_valid_and_round_trip() -> None:
    config = ModelConfig(vocab_size=10, n_labels=3)
    assert config.rnn == "lstm" and config.readout == "last" and config.packed
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert config.feature_dim == 64
    assert ModelConfig(vocab_size=10, n_labels=3, bidirectional=True, hidden=7).feature_dim == 14


@pytest.mark.parametrize(
    ("field", "value"),
    [("rnn", "gpt"), ("readout", "first"), ("hidden", 0), ("layers", 1.5),
     ("embedding_dim", True), ("dropout", 1.0), ("bidirectional", "yes"), ("n_labels", 1),
     ("pad_id", 10), ("pad_id", -1)],
)
def test_bad_values_raise_one_line(field: str, value: object) -> None:
    kwargs: dict[str, object] = {"vocab_size": 10, "n_labels": 2, field: value}
    with pytest.raises(ParameterError) as info:
        ModelConfig(**kwargs)
    assert info.value.parameter == field and info.value.got == repr(value)
    assert info.value.allowed and "\n" not in str(info.value)


@pytest.mark.parametrize(("field", "value"), [("pad_id", 9), ("dropout", 0.0), ("hidden", 1)])
def test_values_at_the_edges_are_taken(field: str, value: object) -> None:
    config = ModelConfig(vocab_size=10, n_labels=2, layers=2, **{field: value})
    assert getattr(config, field) == value


def test_dropout_with_one_layer_is_rejected_not_ignored() -> None:
    with pytest.raises(ConfigError, match="between recurrent layers"):
        ModelConfig(vocab_size=10, n_labels=2, layers=1, dropout=0.3)
    assert ModelConfig(vocab_size=10, n_labels=2, layers=2, dropout=0.3).dropout == 0.3


def test_from_dict_rejects_unknown_and_missing_keys() -> None:
    with pytest.raises(ConfigError, match="unknown model config keys colour"):
        ModelConfig.from_dict({"vocab_size": 5, "n_labels": 2, "colour": "red"})
    with pytest.raises(ConfigError, match="lacks required keys n_labels"):
        ModelConfig.from_dict({"vocab_size": 5})


def test_an_architecture_fills_a_model_config_with_the_data_sizes() -> None:
    from dataclasses import asdict

    from probe_rnn.models.config import Architecture

    arch = Architecture(rnn="gru", embedding_dim=5, hidden=7, layers=2, bidirectional=True,
                        dropout=0.25, packed=False)
    config = arch.config(vocab_size=11, n_labels=3, pad_id=0, readout="mean")
    assert asdict(config) == {**asdict(arch), "vocab_size": 11, "n_labels": 3, "pad_id": 0,
                              "readout": "mean"}
    with pytest.raises(ParameterError) as caught:
        Architecture(hidden=0).config(vocab_size=11, n_labels=3, pad_id=0, readout="last")
    assert caught.value.parameter == "hidden" and caught.value.got == "0"


@pytest.mark.parametrize(("field", "value"), [
    ("epochs", 0), ("batch_size", True), ("patience", 1.5), ("lr", 0), ("grad_clip", -1.0),
])
def test_a_bad_budget_is_one_line_naming_the_field(field, value) -> None:
    from probe_rnn.models.config import TrainBudget

    with pytest.raises(ParameterError) as caught:
        TrainBudget(**{field: value}).validate()
    assert caught.value.parameter == field and caught.value.got == repr(value)
