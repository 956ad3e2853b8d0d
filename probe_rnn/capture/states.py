"""The result of one capture: every per-layer, per-direction, per-timestep state of one module.

:class:`RecurrentStates` is what ``rec[name]`` returns for an ``nn.RNN``/``nn.GRU``/``nn.LSTM``
(or a model-driven ``nn.*Cell`` loop). Internally the states are kept in the *packed layout*
the recurrence runs in (one row per valid (step, row) pair, time-major, rows sorted by length);
the padded, batch-major tensors of the public contract are built on first access and cached, so
code that only needs a few views never pays for the full padded copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from probe_rnn.catalogue import gate_names


@dataclass(frozen=True)
class PackedLayout:
    """Index bookkeeping shared by the recurrence, the checks and the padded views.

    Attributes
    ----------
    batch_sizes : list[int]
        Active rows per step (non-increasing), length ``time``.
    offsets : list[int]
        Start of each step's rows in the packed data, length ``time + 1``.
    sorted_indices : Tensor or None
        ``(batch,)`` original row of each sorted row; None when rows are in original order.
    lengths : Tensor
        ``(batch,)`` valid steps per row, original order, on the CPU (long).
    """

    batch_sizes: list[int]
    offsets: list[int]
    sorted_indices: Tensor | None
    lengths: Tensor
    device: torch.device
    _cache: dict[str, Tensor] = field(default_factory=dict, repr=False, compare=False)

    @property
    def time(self) -> int:
        """Number of steps of the longest row."""
        return len(self.batch_sizes)

    @property
    def batch(self) -> int:
        """Number of rows."""
        return self.batch_sizes[0] if self.batch_sizes else 0

    @property
    def n_tokens(self) -> int:
        """Number of valid (step, row) pairs, i.e. rows of the packed data."""
        return self.offsets[-1]

    def _steps_and_rows(self) -> tuple[Tensor, Tensor]:
        bs = torch.tensor(self.batch_sizes, dtype=torch.long)
        steps = torch.repeat_interleave(torch.arange(len(self.batch_sizes)), bs)
        starts = torch.tensor(self.offsets[:-1], dtype=torch.long)
        rows = torch.arange(self.n_tokens) - starts[steps]
        return steps, rows

    def index(self, key: str) -> Tensor:
        """Cached index tensors on ``self.device``.

        ``"dest"``: packed row -> ``orig_row * time + step`` (batch-major padded position);
        ``"last"``: sorted row -> packed row of its last valid step;
        ``"prev_fwd"``/``"prev_bwd"``: packed row -> row of ``cat([h0, packed])`` holding the
        state the step starts from (``h0`` rows come first).
        """
        if key not in self._cache:
            self._cache[key] = self._build(key).to(self.device)
        return self._cache[key]

    def _build(self, key: str) -> Tensor:
        steps, rows = self._steps_and_rows()
        offs = torch.tensor(self.offsets, dtype=torch.long)
        batch = self.batch
        if key == "dest":
            orig = rows if self.sorted_indices is None else self.sorted_indices.cpu()[rows]
            return orig * self.time + steps
        if key == "last":
            sorted_lengths = torch.zeros(batch, dtype=torch.long)
            sorted_lengths.scatter_add_(0, rows, torch.ones_like(rows))
            return offs[sorted_lengths - 1] + torch.arange(batch)
        if key == "prev_fwd":
            prev = batch + offs[(steps - 1).clamp(min=0)] + rows
            return torch.where(steps == 0, rows, prev)
        if key == "prev_bwd":
            bs_next = torch.tensor([*self.batch_sizes[1:], 0], dtype=torch.long)[steps]
            prev = batch + offs[(steps + 1).clamp(max=self.time)] + rows
            return torch.where(rows < bs_next, prev, rows)
        raise KeyError(key)

    def to_padded(self, layers: list[Tensor]) -> Tensor:
        """Scatter per-layer ``(n_tokens, *rest)`` packed rows into ``(batch, time, layers,
        *rest)``, zeros after each row's length, original row order."""
        first = layers[0]
        out = first.new_zeros((self.batch * self.time, len(layers), *first.shape[1:]))
        dest = self.index("dest")
        for i, layer in enumerate(layers):
            out[:, i].index_copy_(0, dest, layer)
        return out.view(self.batch, self.time, len(layers), *first.shape[1:])

    def to_flat(self, packed: Tensor) -> Tensor:
        """Reorder ``(n_tokens, *rest)`` packed rows to row-major valid tokens (row 0's steps,
        then row 1's, ...), matching ``lengths``."""
        if "flat" not in self._cache:
            order = torch.argsort(self.index("dest").cpu(), stable=True)
            self._cache["flat"] = order.to(self.device)
        return packed.index_select(0, self._cache["flat"])


def _layers(packed: list[Tensor] | Tensor) -> list[Tensor]:
    return list(packed.unbind(1)) if isinstance(packed, Tensor) else list(packed)


class RecurrentStates:
    """Exact states of one recurrent module for one call (or one cell loop).

    Attributes
    ----------
    hidden : Tensor
        ``(batch, time, layers, directions, hidden)`` h of every layer/direction/step; zeros at
        steps ``>= lengths``. ``hidden`` is ``proj_size`` wide when the LSTM projects.
    cell : Tensor or None
        ``(batch, time, layers, directions, hidden_size)`` LSTM cell states; None otherwise.
        A capture that stores no per-step cell may hand them over as a function that computes
        them (``cell_packed`` callable): they are then computed on first access, the same
        values.
    lengths : Tensor
        ``(batch,)`` long, valid steps per row (all ``time`` for a padded, unpacked input: the
        module itself ran over every step).
    output : Tensor
        ``(batch, time, directions * hidden)`` the module's output as a padded batch-major
        tensor (zeros after each row's length).
    h_n, c_n : Tensor, Tensor or None
        ``(layers * directions, batch, hidden)`` final states exactly as the module returned
        them (an unbatched call gets a batch axis of 1).
    kind : str
        ``"lstm"``, ``"gru"``, ``"rnn-tanh"``, ``"rnn-relu"``, or ``"lstm-cell"``, ``"gru-cell"``,
        ``"rnn-cell"`` for a cell looped by the model.
    num_layers, num_directions, proj_size, hidden_size : int
    verified : bool
        True when this call was checked against the fused kernel.
    fused_check : dict of str to float or None
        ``max |difference|`` of ``output``, ``h_n`` (and ``c_n``) recomputed against the
        module's own fused call, when this call was compared with it (the first checked call
        of a ``record`` block); None otherwise.
    gate_names : tuple of str
        Gates with views (``("i", "f", "g", "o")`` LSTM, ``("r", "z", "n")`` GRU, else empty);
        read with :meth:`gate_packed`, :meth:`gate_padded`, :meth:`gate_flat` (recomputed on
        first access, see :mod:`probe_rnn.capture.gates`).
    """

    def __init__(
        self,
        *,
        layout: PackedLayout,
        hidden_packed: list[Tensor] | Tensor | Callable[[], list[Tensor] | Tensor],
        cell_packed: list[Tensor] | Tensor | Callable[[], list[Tensor] | Tensor] | None,
        h_n: Tensor,
        c_n: Tensor | None,
        kind: str,
        hidden_size: int,
        proj_size: int = 0,
        verified: bool = False,
        gate_source: Any = None,
        fused_check: dict[str, float] | None = None,
        shape: tuple[int, int] | None = None,
    ) -> None:
        self.layout = layout
        # per layer (n_tokens, directions, size), packed layout; a stacked
        # (n_tokens, layers, directions, size) tensor is accepted too, or a function giving
        # either on first read (then ``shape`` is (layers, directions))
        self._hidden_source = hidden_packed if callable(hidden_packed) else None
        self._hidden_layers = None if callable(hidden_packed) else _layers(hidden_packed)
        if shape is None:
            if self._hidden_layers is None:
                raise ValueError("states whose hidden states come later need their shape")
            shape = (len(self._hidden_layers), int(self._hidden_layers[0].shape[1]))
        self._cell_source = cell_packed if callable(cell_packed) else None
        self._cell_layers = None if cell_packed is None or callable(cell_packed) else \
            _layers(cell_packed)
        self.h_n = h_n
        self.c_n = c_n
        self.kind = kind
        self.num_layers, self.num_directions = shape
        self.hidden_size = hidden_size
        self.proj_size = proj_size
        self.verified = verified
        self.fused_check = fused_check
        # computes gates of one layer/direction on demand (probe_rnn.capture.gates); None: none
        self.gate_source = gate_source
        #: ``(h_0, c_0)`` the call started from, ``(layers * directions, batch, size)`` each
        #: (``c_0`` None but for an LSTM); None where unknown (a cell loop)
        self.initial: tuple[Tensor, Tensor | None] | None = None
        self._gates: dict[tuple[int, int], Tensor] = {}
        self._hidden: Tensor | None = None
        self._cell: Tensor | None = None
        self._layers: dict[tuple[str, int], Tensor] = {}

    @property
    def hidden_layers(self) -> list[Tensor]:
        """Per layer ``(n_tokens, directions, size)`` hidden states, packed layout (laid out
        now if they were handed over as a function)."""
        if self._hidden_layers is None:
            self._hidden_layers = _layers(self._hidden_source())
            self._hidden_source = None
        return self._hidden_layers

    @property
    def cell_layers(self) -> list[Tensor] | None:
        """Per layer ``(n_tokens, directions, hidden_size)`` LSTM cells, packed layout (computed
        now if they were handed over as a function); None when the module has none."""
        if self._cell_layers is None and self._cell_source is not None:
            self._cell_layers = _layers(self._cell_source())
            self._cell_source = None
        return self._cell_layers

    def set_padded_top(self, top: Tensor) -> None:
        """Give the top layer's padded states ``(batch, time, directions, size)`` as the module
        returned them (a padded call's own output: every step valid), so that
        :attr:`output` needs no scatter from the packed layout."""
        self._layers[("hidden", self.num_layers - 1)] = top

    @property
    def lengths(self) -> Tensor:
        """``(batch,)`` valid steps per row."""
        return self.layout.lengths

    @property
    def batch(self) -> int:
        """Number of rows."""
        return int(self.layout.lengths.shape[0])

    @property
    def time(self) -> int:
        """Padded number of steps."""
        return self.layout.time

    @property
    def hidden(self) -> Tensor:
        """``(batch, time, layers, directions, hidden)``, zeros past each row's length."""
        if self._hidden is None:
            self._hidden = self.layout.to_padded(self.hidden_layers)
        return self._hidden

    @property
    def cell(self) -> Tensor | None:
        """``(batch, time, layers, directions, hidden_size)`` or None (not an LSTM)."""
        if self.cell_layers is None:
            return None
        if self._cell is None:
            self._cell = self.layout.to_padded(self.cell_layers)
        return self._cell

    @property
    def output(self) -> Tensor:
        """``(batch, time, directions * hidden)`` top-layer output, padded batch-major."""
        top = self.padded_layer("hidden", self.num_layers - 1)
        return top.reshape(self.batch, self.time, -1)

    def padded_layer(self, what: str, layer: int) -> Tensor:
        """``(batch, time, directions, size)`` of ``"hidden"`` or ``"cell"`` of one layer,
        zeros past each row's length (cached; cheaper than the full ``hidden``/``cell``)."""
        full = self._hidden if what == "hidden" else self._cell
        if full is not None:
            return full[:, :, layer]
        key = (what, layer)
        if key not in self._layers:
            layers = self.hidden_layers if what == "hidden" else self.cell_layers
            if layers is None:
                raise KeyError(what)
            self._layers[key] = self.layout.to_padded([layers[layer]])[:, :, 0]
        return self._layers[key]

    @property
    def hidden_packed(self) -> Tensor:
        """``(n_tokens, layers, directions, hidden)`` packed layout (time-major, sorted)."""
        return torch.stack(self.hidden_layers, 1)

    @property
    def cell_packed(self) -> Tensor | None:
        """``(n_tokens, layers, directions, hidden_size)`` packed layout, or None."""
        return None if self.cell_layers is None else torch.stack(self.cell_layers, 1)

    @property
    def has_cell(self) -> bool:
        """True for LSTM states (without computing cells handed over as a function)."""
        return self._cell_layers is not None or self._cell_source is not None

    def flat(self, what: str, layer: int, direction: int | None = None) -> Tensor:
        """Valid tokens only, row-major, of ``"hidden"`` or ``"cell"`` of one layer:
        ``(n_tokens, directions, size)``, or ``(n_tokens, size)`` for one direction."""
        layers = self.hidden_layers if what == "hidden" else self.cell_layers
        if layers is None:
            raise KeyError(what)
        packed = layers[layer]
        if direction is not None:
            packed = packed[:, direction]
        return self.layout.to_flat(packed)

    @property
    def gate_names(self) -> tuple[str, ...]:
        """Gates these states have views of, PyTorch's order (empty: none)."""
        return gate_names(self.kind) if self.gate_source is not None else ()

    def gate_packed(self, layer: int, direction: int) -> Tensor:
        """``(n_tokens, gates, hidden_size)`` gate activations of one layer/direction, packed
        layout, gates in :attr:`gate_names` order (computed and checked on first access)."""
        if not self.gate_names:
            raise KeyError("gate")
        key = (layer, direction)
        if key not in self._gates:
            self._gates[key] = self.gate_source.compute(self, layer, direction)
        return self._gates[key]

    def gate_padded(self, layer: int, direction: int, name: str) -> Tensor:
        """``(batch, time, hidden_size)`` activation of gate ``name``, zeros past each row's
        length."""
        gate = self.gate_packed(layer, direction)[:, self.gate_names.index(name)]
        return self.layout.to_padded([gate])[:, :, 0]

    def gate_flat(self, layer: int, direction: int, name: str) -> Tensor:
        """``(n_tokens, hidden_size)`` activation of gate ``name`` at every valid token,
        row-major (as :meth:`flat`)."""
        gate = self.gate_packed(layer, direction)[:, self.gate_names.index(name)]
        return self.layout.to_flat(gate)

    def __repr__(self) -> str:
        return (
            f"RecurrentStates(kind={self.kind!r}, batch={self.batch}, time={self.time}, "
            f"layers={self.num_layers}, directions={self.num_directions}, "
            f"hidden={self.proj_size or self.hidden_size}, cell={self.has_cell}, "
            f"verified={self.verified})"
        )
