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
    from probe_rnn.models.config import Architecture

    for make in (lambda: ModelConfig(vocab_size=10, n_labels=2, layers=1, dropout=0.3),
                 lambda: Architecture(layers=1, dropout=0.3)):
        with pytest.raises(ParameterError) as caught:
            make()
        assert (caught.value.parameter, caught.value.got) == ("dropout", "0.3")
        assert caught.value.hint  # the fix: layers >= 2 or dropout 0
    assert ModelConfig(vocab_size=10, n_labels=2, layers=2, dropout=0.3).dropout == 0.3
    assert isinstance(ModelConfig(vocab_size=10, n_labels=2, dropout=0).dropout, float)


def test_pad_id_outside_the_vocabulary_names_pad_id_with_a_hint() -> None:
    with pytest.raises(ParameterError) as caught:
        ModelConfig(vocab_size=5, n_labels=2, pad_id=5)
    assert (caught.value.parameter, caught.value.got) == ("pad_id", "5")
    assert "4" in caught.value.allowed and caught.value.hint


#: A checkpoint's "config" as every checkpoint so far stored it (keys and their order).
STORED = {"vocab_size": 40, "n_labels": 3, "rnn": "gru", "embedding_dim": 16, "hidden": 24,
          "layers": 2, "bidirectional": True, "dropout": 0.1, "readout": "mean",
          "packed": False, "pad_id": 0}


def test_a_stored_config_loads_and_writes_back_the_same_keys_in_the_same_order() -> None:
    import pickle

    config = ModelConfig.from_dict(dict(STORED))
    assert (config.rnn, config.hidden, config.layers, config.readout) == ("gru", 24, 2, "mean")
    assert list(config.to_dict().items()) == list(STORED.items())
    # the bytes a checkpoint holds do not change either
    assert pickle.dumps(config.to_dict()) == pickle.dumps(STORED)


def test_a_model_config_is_its_architecture_plus_the_data() -> None:
    from dataclasses import FrozenInstanceError, fields

    from probe_rnn.models.config import Architecture

    config = ModelConfig.from_dict(dict(STORED))
    assert isinstance(config, Architecture)
    names = [f.name for f in fields(ModelConfig)]
    assert names[:len(fields(Architecture))] == [f.name for f in fields(Architecture)]
    assert config.architecture() == Architecture(rnn="gru", embedding_dim=16, hidden=24,
                                                 layers=2, bidirectional=True, dropout=0.1,
                                                 packed=False)
    with pytest.raises(FrozenInstanceError):
        config.hidden = 3  # type: ignore[misc]


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
        TrainBudget(**{field: value})
    assert caught.value.parameter == field and caught.value.got == repr(value)


def test_a_flat_settings_dict_splits_into_architecture_budget_and_the_rest() -> None:
    from probe_rnn.models.config import Architecture, TrainBudget, split_settings

    arch, budget, rest = split_settings({"rnn": "gru", "epochs": 3, "tokenizer": "word",
                                         "layers": 2, "lr": 0.1, "seeds": 4})
    assert arch == Architecture(rnn="gru", layers=2)
    assert budget == TrainBudget(epochs=3, lr=0.1)
    assert rest == {"tokenizer": "word", "seeds": 4}
    assert TrainBudget().with_default_epochs(8).epochs == 8
    assert TrainBudget(epochs=2).with_default_epochs(8).epochs == 2
