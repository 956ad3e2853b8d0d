"""Where a view's state lives in the unrolled twin: (layer, direction, state) and the step.

A view name (:class:`~probe_rnn.catalogue.ViewSpec`) that an intervention may replace is one of

* ``output@last``: the top layer's output at each row's own last valid step, every direction
  (fwd then bwd);
* ``h_n/L{l}/{dir}``, ``c_n/L{l}/{dir}``: a final state; ``h_n/L{l}``, ``c_n/L{l}``: every
  direction of layer l concatenated;
* ``hidden/L{l}/{dir}@t``, ``cell/L{l}/{dir}@t``: the state at absolute step ``t >= 0``.

Each resolves to :class:`Place` parts, one per direction. For a row of length ``n`` in a run
of width ``T`` (``eff = n`` on packed input, ``T`` on a padded one) a part sits at absolute
time ``t`` (the index into :class:`~probe_rnn.attribution.unrolled.TwinStates`) and at loop
step ``t`` (forward) or ``eff - 1 - t`` (backward), which is where the twin's taps act.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from probe_rnn.catalogue import DIRECTIONS, OUTPUT, ViewSpec
from probe_rnn.errors import ConfigError

_STATE = {"h_n": 0, "hidden": 0, "output": 0, "c_n": 1, "cell": 1}


@dataclass(frozen=True)
class Place:
    """One direction's part of a view: layer, direction index, state (0 hidden, 1 cell) and
    where along time (``"final"``, ``"last"`` = each row's last valid step, or ``"t"``)."""

    layer: int
    direction: int
    state: int
    at: str
    t: int | None = None

    def times(self, lengths: Tensor, width: int, packed: bool) -> Tensor:
        """Absolute time index per row (into the twin's ``hidden``/``cell``)."""
        return self.times_in(lengths, lengths if packed else torch.full_like(lengths, width))

    def times_in(self, lengths: Tensor, eff: Tensor) -> Tensor:
        """Absolute time index per row, given each row's processed steps ``eff``."""
        if self.at == "t":
            return torch.full_like(lengths, int(self.t))
        if self.at == "last":
            return lengths - 1
        return eff - 1 if self.direction == 0 else torch.zeros_like(lengths)

    def steps(self, lengths: Tensor, width: int, packed: bool) -> Tensor:
        """Loop step per row (processing order: where the twin's taps act)."""
        t = self.times(lengths, width, packed)
        if self.direction == 0:
            return t
        eff = lengths if packed else torch.full_like(lengths, width)
        return eff - 1 - t


def places(view: str, layers: int, directions: int, lstm: bool) -> list[Place]:
    """The parts of ``view`` in the order its vector concatenates them.

    Raises
    ------
    ConfigError
        The view is not one an intervention can replace, or names a layer, direction or state
        the module does not have.
    """
    spec = ViewSpec.parse(view)
    dirs = range(directions)
    if spec.base == OUTPUT and spec.t == -1 and spec.relative:
        return [Place(layers - 1, d, 0, "last") for d in dirs]
    if spec.base not in _STATE or spec.base == OUTPUT or spec.gate is not None:
        raise _unsupported(view)
    state = _STATE[spec.base]
    if state == 1 and not lstm:
        raise ConfigError(f"view {view!r} names a cell state, which only an LSTM has: "
                          "intervene on hidden or h_n views")
    if spec.layer is None or spec.layer >= layers:
        raise ConfigError(f"view {view!r} names layer {spec.layer}; the module has layers "
                          f"0..{layers - 1}: pick one of those")
    chosen = list(dirs) if spec.direction is None else [spec.direction_index]
    if max(chosen) >= directions:
        raise ConfigError(f"view {view!r} names the backward direction of a unidirectional "
                          "module: use fwd")
    if spec.is_final:
        return [Place(spec.layer, d, state, "final") for d in chosen]
    if spec.t is None or spec.t < 0:
        raise _unsupported(view)
    return [Place(spec.layer, d, state, "t", spec.t) for d in chosen]


def _unsupported(view: str) -> ConfigError:
    return ConfigError(
        f"cannot intervene on view {view!r}: use output@last, h_n/L{{l}}[/{{dir}}], "
        f"c_n/L{{l}}[/{{dir}}] or hidden/L{{l}}/{{dir}}@t, cell/L{{l}}/{{dir}}@t with t >= 0 "
        f"(directions {', '.join(DIRECTIONS)})"
    )
