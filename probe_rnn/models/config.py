"""Architecture and training budget of the reference classifier family.

:class:`ModelConfig` is the plain, validated description of an :class:`RNNClassifier`: it is
what a checkpoint stores under ``"config"`` (as a dict of str/int/float/bool only, so it
survives ``torch.load(weights_only=True)``) and what the CLI's ``train`` options fill in.
:class:`Architecture` is its part that does not depend on the data (cell, sizes, layers,
directions, packing): what every model of one training or one study shares, turned into a
:class:`ModelConfig` once the vocabulary and labels are known. :class:`TrainBudget` is how long
and how fast each model trains (epochs, batch size, learning rate, patience, gradient clip).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

# the recurrent cell types (``rnn`` is nn.RNN with tanh, ``rnn-relu`` with ReLU) and the
# readouts (how the head's sentence vector is read) are spelled once, in the vocabulary
from probe_rnn.catalogue import READOUTS, RNN_TYPES
from probe_rnn.errors import ConfigError, ParameterError
from probe_rnn.validation import Boolean, Interval, check_param, shown


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise a one-line ParameterError."""
    if value not in allowed:
        raise ParameterError(name, f"one of {', '.join(allowed)}", shown(value))
    return value


def _check_int(name: str, value: Any, minimum: int) -> int:
    check_param(name, value, Interval(int, minimum, None))
    return value


@dataclass
class ModelConfig:
    """Architecture of an :class:`~probe_rnn.models.classifier.RNNClassifier`.

    Parameters
    ----------
    vocab_size : int
        Number of token ids, including ``<pad>`` and ``<unk>`` (>= 2).
    n_labels : int
        Number of classes of the linear head (>= 2).
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
    readout : {"last", "hidden", "mean", "max", "naive-last"}
        Sentence vector fed to the head; see :meth:`RNNClassifier.readout_from`.
    packed : bool
        Run the recurrent module on a ``PackedSequence`` (True) or on the padded batch.
    pad_id : int
        Token id of padding (the embedding's ``padding_idx``).
    """

    vocab_size: int
    n_labels: int
    rnn: str = "lstm"
    embedding_dim: int = 64
    hidden: int = 64
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    readout: str = "last"
    packed: bool = True
    pad_id: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> ModelConfig:
        """Check every field; raise ParameterError naming the first bad one."""
        _check_int("vocab_size", self.vocab_size, 2)
        _check_int("n_labels", self.n_labels, 2)
        check_choice("rnn", self.rnn, RNN_TYPES)
        _check_int("embedding_dim", self.embedding_dim, 1)
        _check_int("hidden", self.hidden, 1)
        _check_int("layers", self.layers, 1)
        check_choice("readout", self.readout, READOUTS)
        for name in ("bidirectional", "packed"):
            check_param(name, getattr(self, name), Boolean())
        dropout = self.dropout
        check_param("dropout", dropout, Interval(float, 0, 1, closed="left"))
        if dropout > 0 and self.layers == 1:
            raise ConfigError(
                f"dropout acts between recurrent layers, so with layers=1 it has no effect; "
                f"got dropout={dropout!r}: use layers >= 2 or dropout 0"
            )
        check_param("pad_id", self.pad_id, Interval(int, 0, self.vocab_size, closed="left",
                                                    allowed=f"an integer from 0 to vocab_size - "
                                                    f"1 ({self.vocab_size - 1})"))
        self.dropout = float(dropout)
        return self

    @property
    def directions(self) -> int:
        """1, or 2 when bidirectional."""
        return 2 if self.bidirectional else 1

    @property
    def feature_dim(self) -> int:
        """Size of the readout vector: ``hidden * directions``."""
        return self.hidden * self.directions

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (str/int/float/bool only) for checkpoints and run cards."""
        return asdict(self)

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
class Architecture:
    """The data-independent part of a :class:`ModelConfig` (same fields, same meaning), shared
    by every model trained with it; :meth:`config` validates it with the data's sizes."""

    rnn: str = "lstm"
    embedding_dim: int = 64
    hidden: int = 64
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    packed: bool = True

    def config(self, *, vocab_size: int, n_labels: int, pad_id: int, readout: str
               ) -> ModelConfig:
        """The :class:`ModelConfig` of a model reading ``readout`` on this vocabulary."""
        return ModelConfig(vocab_size=vocab_size, n_labels=n_labels, readout=readout,
                           pad_id=pad_id, **asdict(self))


@dataclass(frozen=True)
class TrainBudget:
    """How each model trains: at most ``epochs`` passes of ``batch_size`` shuffled rows, Adam
    at ``lr``, gradient norm clipped to ``grad_clip``, early stopping after ``patience`` epochs
    without a better dev score."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 3e-3
    patience: int = 3
    grad_clip: float = 1.0

    def validate(self) -> TrainBudget:
        """Check every field; raise ParameterError naming the first bad one."""
        for name in ("epochs", "batch_size", "patience"):
            _check_int(name, getattr(self, name), 1)
        for name in ("lr", "grad_clip"):
            check_param(name, getattr(self, name), Interval(float, 0, None, closed="neither"))
        return self
