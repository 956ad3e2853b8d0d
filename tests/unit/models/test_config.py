"""ModelConfig validation: every bad value names the parameter, the allowed values and the input."""

from __future__ import annotations

import pytest

from probe_rnn.errors import ConfigError
from probe_rnn.models import ModelConfig


def test_defaults_are_valid_and_round_trip() -> None:
    config = ModelConfig(vocab_size=10, n_labels=3)
    assert config.rnn == "lstm" and config.readout == "last" and config.packed
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert config.feature_dim == 64
    assert ModelConfig(vocab_size=10, n_labels=3, bidirectional=True, hidden=7).feature_dim == 14


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("rnn", "gpt", "rnn must be one of lstm, gru, rnn, rnn-relu; got 'gpt'"),
        ("readout", "first", "readout must be one of last, hidden, mean, max, naive-last"),
        ("hidden", 0, "hidden must be an integer >= 1; got 0"),
        ("layers", 1.5, "layers must be an integer >= 1; got 1.5"),
        ("embedding_dim", True, "embedding_dim must be an integer"),
        ("dropout", 1.0, "dropout must be a number in [0, 1); got 1.0"),
        ("bidirectional", "yes", "bidirectional must be true or false"),
        ("n_labels", 1, "n_labels must be an integer >= 2; got 1"),
        ("pad_id", 10, "pad_id must be < vocab_size (10)"),
    ],
)
def test_bad_values_raise_one_line(field: str, value: object, expected: str) -> None:
    kwargs: dict[str, object] = {"vocab_size": 10, "n_labels": 2, field: value}
    with pytest.raises(ConfigError) as info:
        ModelConfig(**kwargs)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


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
    with pytest.raises(ConfigError, match="hidden must be an integer >= 1; got 0"):
        Architecture(hidden=0).config(vocab_size=11, n_labels=3, pad_id=0, readout="last")


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("epochs", 0, "epochs must be an integer >= 1; got 0"),
    ("batch_size", True, "batch_size must be an integer >= 1; got True"),
    ("patience", 1.5, "patience must be an integer >= 1; got 1.5"),
    ("lr", 0, "lr must be a number > 0; got 0"),
    ("grad_clip", -1.0, "grad_clip must be a number > 0; got -1.0"),
])
def test_a_bad_budget_is_one_line_naming_the_field(field, value, expected) -> None:
    from probe_rnn.models.config import TrainBudget

    with pytest.raises(ConfigError) as caught:
        TrainBudget(**{field: value}).validate()
    assert str(caught.value) == expected
