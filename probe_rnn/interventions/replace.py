"""Run a model with one state replaced per row, through the unrolled twin.

The fused ``nn.LSTM``/``nn.GRU``/``nn.RNN`` kernel hides every state but ``output`` and the
final ones, and a hook on it can only change what it returns, not what later steps and layers
compute from a state. :class:`StateReplacer` runs the model's own forward with the module
swapped for its unrolled twin (:func:`~probe_rnn.attribution.unrolled.twin_in_place`, module
weights read at call time), whose loop writes the given value into one state
(:mod:`probe_rnn.interventions.places`) at the step where it is computed, so every later step,
every higher layer and the model's own readout and head see the change. Replacing a state by
its own value reproduces the model (checked once per replacer by
:func:`~probe_rnn.attribution.unrolled.verify_twin`, and against the fused module in the tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from probe_rnn.attribution.parts import ModelParts, attribution_mode, chunks, find_parts
from probe_rnn.attribution.unrolled import (
    TwinStates,
    UnrolledRNN,
    processed_steps,
    twin_in_place,
    verify_twin,
)
from probe_rnn.errors import DataError
from probe_rnn.interventions.continuation import (
    CleanChunk,
    CleanStates,
    CleanStatesBuilder,
    Restart,
    continued_run,
    fused_direction,
)
from probe_rnn.interventions.places import Place, places
from probe_rnn.models.recurrent import module_kind

#: What :meth:`StateReplacer.forward` writes: ``(view, values)``, a list of them, or None.
Replace = tuple[str, Tensor] | Sequence[tuple[str, Tensor]] | None


@dataclass
class Replacement:
    """Per-row replacement of one part of a view: its twin ``slot``, its ``place``, the rows'
    ``lengths`` and ``value`` (rows, width) written there. ``step`` (rows,), the loop step as
    in :class:`~probe_rnn.attribution.unrolled.Taps`, is set when the twin runs (it depends on
    the run's width and packing)."""

    slot: int
    place: Place
    lengths: Tensor
    value: Tensor
    step: Tensor | None = None


class ReplacingTwin(UnrolledRNN):
    """The unrolled twin whose taps *replace* a state (rows not named keep theirs exactly).

    With ``fused_elsewhere`` (a replacing run that reads no state back), every (layer,
    direction) without a replacement runs through PyTorch's fused kernel for that one layer
    and direction (:func:`~probe_rnn.interventions.continuation.fused_direction`), on its input
    of this run: only the replaced direction steps through Python. Given the clean run's
    states of the rows (``clean``), a run whose replacements sit in one layer, one step per
    row and direction, continues from the clean run instead
    (:mod:`probe_rnn.interventions.continuation`): nothing below the replaced state is
    recomputed and nothing steps through Python. Per-step cells are not kept in either
    (``states.cell`` is None in such a run).
    """

    def __init__(self, module: torch.nn.RNNBase) -> None:
        super().__init__(module)
        self.replacements: list[Replacement] = []
        self.fused_elsewhere = False
        self.clean: CleanChunk | None = None
        self.last_eff: Tensor | None = None

    def _direction(self, inp: Tensor, mask: Tensor, layer: int, d: int, h0: Tensor,
                   c0: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        touched = {self.slot(layer, d, state) for state in range(self.n_states)}
        lengths = mask.sum(1)
        if (not self.fused_elsewhere or self.taps is not None or not bool(lengths.all())
                or any(rep.slot in touched for rep in self.replacements)):
            return super()._direction(inp, mask, layer, d, h0, c0)
        return fused_direction(self.module, self.mode, inp, lengths, layer, d, h0, c0)

    def run(self, x: Tensor, lengths: Tensor | None = None, hx=None) -> TwinStates:
        """:meth:`UnrolledRNN.run`, with each replacement's loop steps set for this run; a
        run that can continue from the clean run does (its states' ``hidden`` and ``cell``
        are then None: only the output and the final states are computed)."""
        for rep in self.replacements:
            rep.step = rep.place.steps(rep.lengths.to(x.device), x.shape[1], lengths is not None)
        eff = processed_steps(x, lengths)
        self.last_eff = eff
        restarts = self._plan(eff)
        if restarts is None:
            return super().run(x, lengths, hx)
        output, h_n, c_n = continued_run(self.module, self.clean, x, eff, restarts,
                                         self.initial_states(x, hx))
        return TwinStates(output=output, h_n=h_n, c_n=c_n, hidden=None, cell=None)

    def _plan(self, eff: Tensor) -> dict[tuple[int, int], Restart] | None:
        """Each replaced (layer, direction)'s :class:`Restart`, when the run can continue
        from the clean run: clean states of these very rows (the same processed steps), no
        taps, replacements in one layer and one step per row in each direction."""
        if (self.clean is None or self.taps is not None or not self.fused_elsewhere
                or not self.replacements or not torch.equal(eff, self.clean.eff.to(eff.device))
                or not bool((eff > 0).all())):
            return None
        restarts: dict[tuple[int, int], Restart] = {}
        for rep in self.replacements:
            where = (rep.place.layer, rep.place.direction)
            found = restarts.setdefault(where, Restart(rep.step))
            if not torch.equal(found.step, rep.step):
                return None
            if rep.place.state == 0:
                found.hidden = rep.value[:, :self.out_size]
            else:
                found.cell = rep.value[:, :self.hidden_size]
        layers = {layer for layer, _ in restarts}
        if len(layers) != 1 or not self.clean.starts(min(layers)):
            return None
        return dict(sorted(restarts.items()))

    def _tapper(self, slot: int, step: int, dim: int):
        hits = []
        for rep in self.replacements:
            if rep.slot != slot:
                continue
            active = rep.step == step
            if bool(active.any()):
                hits.append((active[:, None], rep.value[:, :dim]))
        if not hits:
            return lambda s: s

        def write(state: Tensor) -> Tensor:
            for active, value in hits:
                state = torch.where(active, value.to(state.dtype), state)
            return state

        return write


def bundle_parts(bundle) -> ModelParts:
    """The model parts of a :class:`~probe_rnn.models.ModelBundle`: its forward through the
    adapter, its embedding and its recurrent module."""
    model, adapter = bundle.model, bundle.adapter

    def forward(ids: Tensor, lengths: Tensor) -> Tensor:
        return adapter.forward(model, {"ids": ids, "lengths": lengths})

    return find_parts(model, forward, embedding=getattr(bundle, "embedding", None),
                      layout=getattr(adapter, "layout", "batch"),
                      pad_id=getattr(bundle.tokenizer, "pad_id", None),
                      embedding_module=getattr(adapter, "input_embedding", None))


def encode(bundle, texts: Sequence[str], parts: ModelParts) -> tuple[Tensor, Tensor]:
    """(ids, lengths) of ``texts`` as the bundle's adapter encodes them, on the model's device."""
    batch = bundle.adapter.encode([str(t) for t in texts])
    parts.layout = getattr(bundle.adapter, "layout", parts.layout)
    return batch["ids"].to(parts.device), batch["lengths"].to(parts.device)


class StateReplacer:
    """The model's forward with one view's state replaced per row (module docstring).

    Parameters
    ----------
    parts : the model's parts (:func:`bundle_parts`).
    batch_size : rows per twin forward (bounds memory).
    fused_elsewhere : run the directions without a replacement through the fused kernel
        (:class:`ReplacingTwin`); a run that reads states back always steps through all.
    """

    def __init__(self, parts: ModelParts, batch_size: int = 256,
                 fused_elsewhere: bool = True) -> None:
        self.parts = parts
        self.twin = ReplacingTwin(parts.rnn)
        self.batch_size = int(batch_size)
        self.fused_elsewhere = fused_elsewhere
        self.twin_error: float | None = None

    @property
    def shape(self) -> tuple[int, int, bool]:
        """(layers, directions, is LSTM) of the recurrent module."""
        t = self.twin
        return t.num_layers, t.num_directions, module_kind(t.module) == "lstm"

    def places(self, view: str) -> list[Place]:
        """The twin places of ``view`` (:func:`~probe_rnn.interventions.places.places`)."""
        return places(view, *self.shape)

    def forward(self, ids: Tensor, lengths: Tensor, replace: Replace = None,
                read: Sequence[str] = (), clean: CleanStates | None = None,
                rows: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """Logits (rows, labels) with ``replace = (view, values (rows, width))`` (or a list of
        such pairs, for several states at once) written into the states, and the values of
        the views in ``read`` in that run (rows, width). With ``clean``, the clean run's kept
        states of a split (:meth:`read_clean`), and ``rows``, the positions of ``ids``'s rows
        in it, a replacing run continues from the clean run (:class:`ReplacingTwin`)."""
        logits, seen, _ = self._forward(ids, lengths, replace, read, clean, rows)
        return logits, seen

    def read_clean(self, ids: Tensor, lengths: Tensor, read: Sequence[str],
                   layers: Sequence[int]) -> tuple[Tensor, dict[str, Tensor], CleanStates]:
        """:meth:`forward` of the clean model reading ``read``, and its states kept for
        runs continued from any of ``layers``
        (:class:`~probe_rnn.interventions.continuation.CleanStates`)."""
        return self._forward(ids, lengths, None, read, keep=sorted(set(layers)))

    def _forward(self, ids: Tensor, lengths: Tensor, replace: Replace, read: Sequence[str],
                 clean: CleanStates | None = None, rows: Tensor | None = None,
                 keep: Sequence[int] | None = None):
        pairs = [] if replace is None else [replace] if isinstance(replace, tuple) else \
            list(replace)
        logits, seen = [], {name: [] for name in read}
        kept = None if keep is None else CleanStatesBuilder(keep, len(ids) * ids.shape[1])
        with attribution_mode(self.parts.model), torch.no_grad():
            if self.twin_error is None:
                head = slice(0, min(len(ids), self.batch_size))
                self.twin_error = verify_twin(self.twin, self.parts.forward, ids[head],
                                              lengths[head])
            for part in chunks(len(ids), self.batch_size):
                values = [(view, value[part]) for view, value in pairs]
                self.twin.clean = None if clean is None or rows is None else \
                    clean.chunk(torch.as_tensor(rows)[part])
                out, states = self._run(ids[part], lengths[part], values,
                                        bool(read) or keep is not None)
                logits.append(out)
                for name in read:
                    seen[name].append(self.read(name, states, lengths[part]))
                if kept is not None:
                    kept.add(self.twin.last_eff, states)
        self.twin.clean = None
        return (torch.cat(logits), {k: torch.cat(v) for k, v in seen.items()},
                None if kept is None else kept.build())

    def read(self, view: str, states: TwinStates, lengths: Tensor) -> Tensor:
        """The value of ``view`` per row from a twin run's states, parts concatenated."""
        width, rows = states.hidden.shape[1], torch.arange(len(lengths), device=lengths.device)
        out = []
        for place in self.places(view):
            source = states.hidden if place.state == 0 else states.cell
            t = place.times(lengths, width, self.twin.last_packed)
            inside = (t < width)[:, None]  # a step beyond every row of this batch: zeros
            value = source[rows, t.clamp(max=width - 1), place.layer, place.direction]
            out.append(torch.where(inside, value, torch.zeros_like(value)))
        return torch.cat(out, dim=1)

    def _run(self, ids: Tensor, lengths: Tensor, replace: list[tuple[str, Tensor]],
             reading: bool = False) -> tuple[Tensor, TwinStates]:
        twin = self.twin
        twin.replacements = [r for view, value in replace
                             for r in self._replacements(lengths, view, value)]
        twin.fused_elsewhere = self.fused_elsewhere and bool(replace) and not reading
        try:
            with twin_in_place(twin):
                logits = self.parts.forward(ids, lengths)
        finally:
            twin.replacements, twin.fused_elsewhere = [], False
        return logits, twin.last

    def _replacements(self, lengths: Tensor, view: str, values: Tensor) -> list[Replacement]:
        """One :class:`Replacement` per part of ``view``, its columns of ``values``."""
        values = values.to(self.parts.device, torch.float32)
        out, start = [], 0
        for place in self.places(view):
            size = self.twin.out_size if place.state == 0 else self.twin.hidden_size
            slot = self.twin.slot(place.layer, place.direction, place.state)
            out.append(Replacement(slot, place, lengths, values[:, start:start + size]))
            start += size
        if start != values.shape[1]:
            raise DataError(f"view {view!r} has width {start}; got values of width "
                             f"{values.shape[1]}: give one value per unit of the view")
        return out
