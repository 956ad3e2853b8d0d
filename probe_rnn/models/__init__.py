"""Models: the reference recurrent classifier family, safe checkpoints, adapters, training.

* :class:`ModelConfig` / :class:`RNNClassifier`: embedding -> RNN/GRU/LSTM -> readout -> head.
* :class:`ModelBundle`: a model with tokenizer, labels, metadata and its :class:`Adapter`.
* :func:`save_checkpoint` / :func:`load_model`: one file loadable with
  ``torch.load(weights_only=True)``; foreign models through a factory; pickled modules only
  when trusted.
* :class:`Architecture` / :class:`TrainBudget`: what :func:`train` builds and how long it
  trains (a :class:`ModelConfig` is an architecture on one vocabulary and label set).
* :func:`train`: seeded training with early stopping; :func:`build_random_init`: the
  random-weights baseline.
"""

from probe_rnn.models.adapters import (
    Adapter,
    IdsAdapter,
    IdsLengthsAdapter,
    ProbeRnnAdapter,
    iter_batches,
    make_adapter,
)
from probe_rnn.models.bundle import ModelBundle, build_random_init, describe_recurrent
from probe_rnn.models.checkpoint import FORMAT, FORMAT_VERSION, save_checkpoint
from probe_rnn.models.classifier import RNNClassifier, valid_mask
from probe_rnn.models.config import READOUTS, RNN_TYPES, Architecture, ModelConfig, TrainBudget
from probe_rnn.models.factory import call_factory, resolve_factory
from probe_rnn.models.loading import load_model
from probe_rnn.models.recurrent import module_kind, recurrent_modules
from probe_rnn.models.training import TrainEvent, TrainResult, accuracy, train

__all__ = [
    "Architecture",
    "TrainBudget",
    "ModelConfig",
    "RNN_TYPES",
    "READOUTS",
    "RNNClassifier",
    "valid_mask",
    "ModelBundle",
    "describe_recurrent",
    "recurrent_modules",
    "module_kind",
    "build_random_init",
    "Adapter",
    "ProbeRnnAdapter",
    "IdsLengthsAdapter",
    "IdsAdapter",
    "make_adapter",
    "iter_batches",
    "FORMAT",
    "FORMAT_VERSION",
    "save_checkpoint",
    "load_model",
    "resolve_factory",
    "call_factory",
    "train",
    "TrainResult",
    "TrainEvent",
    "accuracy",
]
