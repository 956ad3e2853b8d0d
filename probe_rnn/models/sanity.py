"""Checks a loaded model's numbers must pass before anything runs on them.

:func:`check_declared_sizes` compares a checkpoint's declared architecture (its ``config``)
with the weights the file holds and with the memory there is, on a skeleton built on PyTorch's
``meta`` device (no memory is allocated), so a crafted config declaring ``hidden=2000000000``
is a one-line error rather than an allocation that fails half-way or exhausts the machine.
:func:`check_finite` names a weight that holds NaN or inf (a model that diverged in training),
which would otherwise surface later as recomputed states disagreeing with the module's own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from probe_rnn.errors import CheckpointError

if TYPE_CHECKING:
    from probe_rnn.models.config import ModelConfig

def available_memory() -> int | None:
    """Bytes of memory available now (``MemAvailable`` of ``/proc/meminfo``), else None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:,.1f} GiB"


def check_declared_sizes(config: ModelConfig, state_dict: Mapping[str, Any], where: str,
                         memory: int | None = None) -> None:
    """Raise :class:`CheckpointError` unless the classifier ``config`` declares fits the
    stored weights and the available memory (``memory`` bytes; default: measured now).

    Nothing is allocated: the model is built on the ``meta`` device.
    """
    from probe_rnn.models.classifier import RNNClassifier

    try:
        with torch.device("meta"):
            shapes = {k: tuple(v.shape) for k, v in RNNClassifier(config).state_dict().items()}
    except (RuntimeError, ValueError, OverflowError, TypeError) as exc:
        raise CheckpointError(
            f"checkpoint {where} declares sizes no model can have (hidden={config.hidden}, "
            f"embedding_dim={config.embedding_dim}, vocab_size={config.vocab_size}: "
            f"{' '.join(str(exc).split())[:80]}): the file is damaged or crafted; re-save it"
        ) from None
    needed = 4 * sum(math.prod(shape) for shape in shapes.values())  # float32 weights
    memory = available_memory() if memory is None else memory
    if memory is not None and needed > memory:
        raise CheckpointError(
            f"checkpoint {where} declares a model of {_gib(needed)} (hidden={config.hidden}, "
            f"embedding_dim={config.embedding_dim}, layers={config.layers}), more than the "
            f"{_gib(memory)} of memory available: it was not allocated; check the file (a "
            "damaged or crafted config) or use a machine with more memory")
    stored = {k: tuple(v.shape) for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    wrong = [f"{k} {stored[k]} vs {shape}" for k, shape in shapes.items()
             if k in stored and stored[k] != shape]
    if wrong:
        raise CheckpointError(
            f"checkpoint {where} declares sizes its weights do not have (file vs config: "
            f"{', '.join(wrong[:3])}): the config is damaged or crafted; re-save the model")


def check_finite(model: nn.Module, where: str) -> None:
    """Raise :class:`CheckpointError` naming the first weight or buffer that holds NaN or inf."""
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if not tensor.is_floating_point() or tensor.device.type == "meta":
            continue
        values = tensor.detach()
        bad = ~torch.isfinite(values)
        if bool(bad.any()):
            n_nan, n_inf = int(torch.isnan(values).sum()), int(torch.isinf(values).sum())
            raise CheckpointError(
                f"the weights in {where} are not finite: {name} holds {n_nan} NaN and {n_inf} "
                f"inf of {values.numel()} values (the model diverged in training, or the file "
                "is damaged); use a checkpoint saved before the divergence")
