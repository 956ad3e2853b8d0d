"""Architecture and training budget of the reference classifier family.

:class:`Architecture` is the data-independent part of a model (cell, sizes, layers, directions,
dropout, packing): what every model of one training or one study shares. :class:`ModelConfig`
*is* an :class:`Architecture` (it inherits the fields, written once) plus what the data decides
(vocabulary size, number of labels, padding id) and the readout: it is what a checkpoint stores
under ``"config"`` (as a dict of str/int/float/bool only, so it survives
``torch.load(weights_only=True)``). :class:`TrainBudget` is how long and how fast each model
trains (epochs, batch size, learning rate, patience, gradient clip).

Each declares what its fields accept as a constraints table (``_parameter_constraints``,
:mod:`probe_rnn.validation`), checked on creation: a refused value raises
:class:`~probe_rnn.errors.ParameterError` naming the field. The rules across fields (dropout
needs two layers, the padding id lies inside the vocabulary) raise the same error with a hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar, Self

# the recurrent cell types (``rnn`` is nn.RNN with tanh, ``rnn-relu`` with ReLU) and the
# readouts (how the head's sentence vector is read) are spelled once, in the vocabulary
from probe_rnn.catalogue import READOUTS, RNN_TYPES
from probe_rnn.errors import ConfigError, ParameterError
from probe_rnn.validation import AnyOf, Boolean, Interval, Options, shown, validate_params


@dataclass(frozen=True, kw_only=True)
class Architecture:
    """The data-independent part of a model, shared by every model trained with it.

    Parameters
    ----------
    rnn : {"lstm", "gru", "rnn", "rnn-relu"}
        Recurrent module: ``nn.LSTM``, ``nn.GRU``, ``nn.RNN`` (tanh) or ``nn.RNN`` (relu).
    embedding_dim, hidden : int
        Embedding size and recurrent hidden size per direction (>= 1).
    layers : int
        Stacked recurrent layers (>= 1).
    bidirectional : bool
        Run a backward direction too; outputs concatenate ``[fwd, bwd]``.
    dropout : float
        Dropout between stacked recurrent layers, in ``[0, 1)``. It acts only between layers,
        so a value > 0 with ``layers == 1`` is rejected rather than silently ignored.
    packed : bool
        Run the recurrent module on a ``PackedSequence`` (True) or on the padded batch.
    """

    rnn: str = "lstm"
    embedding_dim: int = 64
    hidden: int = 64
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    packed: bool = True

    #: What each field accepts (:mod:`probe_rnn.validation`), checked on creation.
    _parameter_constraints: ClassVar[dict[str, Any]] = {
        "rnn": Options(RNN_TYPES),
        "embedding_dim": Interval(int, 1, None),
        "hidden": Interval(int, 1, None),
        "layers": Interval(int, 1, None),
        "bidirectional": Boolean(),
        "dropout": Interval(float, 0, 1, closed="left"),
        "packed": Boolean(),
    }

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> Self:
        """Check every field against the table, then the rules across fields; raise
        :class:`ParameterError` naming the first bad one."""
        validate_params(self._parameter_constraints,
                        {f.name: getattr(self, f.name) for f in fields(self)})
        self._check_across()
        object.__setattr__(self, "dropout", float(self.dropout))
        return self

    def _check_across(self) -> None:
        if self.dropout > 0 and self.layers == 1:
            raise ParameterError(
                "dropout", "0 when layers=1", shown(self.dropout),
                "dropout acts between recurrent layers, so with one layer it has no effect; "
                "use layers >= 2 or dropout 0")

    @property
    def directions(self) -> int:
        """1, or 2 when bidirectional."""
        return 2 if self.bidirectional else 1

    @property
    def feature_dim(self) -> int:
        """Size of the readout vector: ``hidden * directions``."""
        return self.hidden * self.directions

    def architecture(self) -> Architecture:
        """The :class:`Architecture` part alone (of a :class:`ModelConfig` too)."""
        return Architecture(**{f.name: getattr(self, f.name) for f in fields(Architecture)})

    def config(self, *, vocab_size: int, n_labels: int, pad_id: int, readout: str
               ) -> ModelConfig:
        """The :class:`ModelConfig` of a model reading ``readout`` on this vocabulary."""
        return ModelConfig(vocab_size, n_labels, readout=readout, pad_id=pad_id,
                           **asdict(self.architecture()))


#: The key order a checkpoint's ``"config"`` has always had (its bytes, hence the checksum of
#: every checkpoint and of what is keyed on it, depend on it).
_STORED_ORDER = ("vocab_size", "n_labels", "rnn", "embedding_dim", "hidden", "layers",
                 "bidirectional", "dropout", "readout", "packed", "pad_id")


@dataclass(frozen=True)
class ModelConfig(Architecture):
    """An :class:`Architecture` on one vocabulary and label set, reading one readout: the
    plain, validated description of an :class:`~probe_rnn.models.classifier.RNNClassifier`.

    Parameters
    ----------
    vocab_size : int
        Number of token ids, including ``<pad>`` and ``<unk>`` (>= 2).
    n_labels : int
        Number of classes of the linear head (>= 2).
    rnn, embedding_dim, hidden, layers, bidirectional, dropout, packed
        Keyword-only: the :class:`Architecture`'s fields.
    readout : {"last", "hidden", "mean", "max", "naive-last"}
        Keyword-only: the sentence vector fed to the head; see
        :meth:`RNNClassifier.readout_from`.
    pad_id : int
        Keyword-only: token id of padding (the embedding's ``padding_idx``), below
        ``vocab_size``.
    """

    vocab_size: int
    n_labels: int
    readout: str = field(default="last", kw_only=True)
    pad_id: int = field(default=0, kw_only=True)

    _parameter_constraints: ClassVar[dict[str, Any]] = {
        "vocab_size": Interval(int, 2, None),
        "n_labels": Interval(int, 2, None),
        **Architecture._parameter_constraints,
        "readout": Options(READOUTS),
        "pad_id": Interval(int, 0, None),
    }

    def _check_across(self) -> None:
        super()._check_across()
        if self.pad_id >= self.vocab_size:
            raise ParameterError(
                "pad_id", f"an integer from 0 to vocab_size - 1 ({self.vocab_size - 1})",
                shown(self.pad_id), "the padding id is a token id of the vocabulary")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (str/int/float/bool only) for checkpoints and run cards, in the key
        order checkpoints have always stored."""
        values = asdict(self)
        return {name: values[name] for name in _STORED_ORDER}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from :meth:`to_dict` output; unknown or missing keys raise ConfigError."""
        if not isinstance(data, dict):
            raise ConfigError(f"model config must be a dict; got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown model config keys {', '.join(unknown)}; allowed: "
                f"{', '.join(sorted(known))}"
            )
        missing = [k for k in ("vocab_size", "n_labels") if k not in data]
        if missing:
            raise ConfigError(f"model config lacks required keys {', '.join(missing)}")
        return cls(**data)


@dataclass(frozen=True)
class TrainBudget:
    """How each model trains: at most ``epochs`` passes of ``batch_size`` shuffled rows, Adam
    at ``lr``, gradient norm clipped to ``grad_clip``, early stopping after ``patience`` epochs
    without a better dev score.

    ``epochs`` None is the trainer's default: 10 for :func:`~probe_rnn.models.train`, the
    objective's for :func:`~probe_rnn.studies.compare_readouts` (8; 15 for autoencode);
    :meth:`with_default_epochs` fills it in.
    """

    epochs: int | None = None
    batch_size: int = 64
    lr: float = 3e-3
    patience: int = 3
    grad_clip: float = 1.0

    #: What each field accepts (:mod:`probe_rnn.validation`), checked on creation.
    _parameter_constraints: ClassVar[dict[str, Any]] = {
        "epochs": AnyOf(None, Interval(int, 1, None),
                        allowed="an integer >= 1 (None: the trainer's default)"),
        "batch_size": Interval(int, 1, None),
        "lr": Interval(float, 0, None, closed="neither"),
        "patience": Interval(int, 1, None),
        "grad_clip": Interval(float, 0, None, closed="neither"),
    }

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> TrainBudget:
        """Check every field; raise :class:`ParameterError` naming the first bad one."""
        validate_params(self._parameter_constraints,
                        {f.name: getattr(self, f.name) for f in fields(self)})
        return self

    def with_default_epochs(self, epochs: int) -> TrainBudget:
        """This budget, with ``epochs`` where its own is None (the trainer's default)."""
        return self if self.epochs is not None else replace(self, epochs=epochs)


def split_settings(settings: Mapping[str, Any]
                   ) -> tuple[Architecture, TrainBudget, dict[str, Any]]:
    """A flat settings dict (``{"rnn": "gru", "hidden": 32, "epochs": 5, "tokenizer": ...}``)
    as the :class:`Architecture` and the :class:`TrainBudget` its keys name, and the other
    keys (for :func:`~probe_rnn.models.train` or a study's keywords)."""
    parts: list[dict[str, Any]] = [{}, {}, {}]
    names = [{f.name for f in fields(kind)} for kind in (Architecture, TrainBudget)]
    for key, value in settings.items():
        parts[0 if key in names[0] else 1 if key in names[1] else 2][key] = value
    return Architecture(**parts[0]), TrainBudget(**parts[1]), parts[2]
