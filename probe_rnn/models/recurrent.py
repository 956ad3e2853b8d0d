"""Which modules of a model are recurrent, and of what kind: one place for every stage.

:func:`recurrent_modules` finds every ``nn.RNN``/``nn.GRU``/``nn.LSTM`` (and, on request, every
``nn.RNNCell``/``nn.GRUCell``/``nn.LSTMCell``) inside a model, in model order;
:func:`module_kind` and :func:`cell_kind` name a module's kind with the state catalogue's
spellings (:data:`probe_rnn.catalogue.MODULE_KINDS`, :data:`probe_rnn.catalogue.CELL_KINDS`).
Models, capture, attribution and the studies all ask here, so they agree on what counts.
"""

from __future__ import annotations

from torch import nn


def module_kind(module: nn.Module) -> str | None:
    """``"lstm"``, ``"gru"``, ``"rnn-tanh"`` or ``"rnn-relu"`` for a fused recurrent module;
    ``None`` for anything else."""
    if isinstance(module, nn.LSTM):
        return "lstm"
    if isinstance(module, nn.GRU):
        return "gru"
    if isinstance(module, nn.RNN):
        return "rnn-relu" if module.nonlinearity == "relu" else "rnn-tanh"
    return None


def cell_kind(module: nn.Module) -> str | None:
    """``"lstm-cell"``, ``"gru-cell"`` or ``"rnn-cell"`` for a recurrent cell; else ``None``."""
    if isinstance(module, nn.LSTMCell):
        return "lstm-cell"
    if isinstance(module, nn.GRUCell):
        return "gru-cell"
    return "rnn-cell" if isinstance(module, nn.RNNCell) else None


def recurrent_modules(model: nn.Module, cells: bool = False) -> dict[str, nn.Module]:
    """``{name: module}`` for every fused recurrent module of ``model`` (and every recurrent
    cell when ``cells``), in the order of ``model.named_modules()``; the model itself is
    named ``""``."""
    return {name: module for name, module in model.named_modules()
            if module_kind(module) is not None or (cells and cell_kind(module) is not None)}


def first_recurrent(model: nn.Module) -> tuple[str, nn.Module] | None:
    """``(name, module)`` of the model's first fused recurrent module, or ``None``."""
    return next(iter(recurrent_modules(model).items()), None)
