"""Named state views: the state catalogue of DESIGN.md as functions of :class:`RecurrentStates`.

Sentence views give one vector per row ``(batch, dim)``; token views give one vector per valid
token, flat and row-major ``(n_valid_tokens, dim)`` (row 0's steps, then row 1's, ...), matching
``lengths``. Padding positions never appear in a view (except ``output@-1``, which *is* what
naive code reads from a padded batch, padding included).

===========================  =======================================================
name                         meaning
===========================  =======================================================
``output@last``              top-layer output at each row's own last valid step
``output@-1``                ``output[:, -1]`` of the padded batch (padding for short rows)
``h_n/L{l}/{fwd,bwd}``       final hidden state of layer l, direction
``c_n/L{l}/{fwd,bwd}``       final cell state (LSTM)
``mean(output)``             top-layer output averaged over valid steps
``max(output)``              top-layer output, max over valid steps
``hidden/L{l}/{dir}@t``      h of layer l at step t (t >= 0 absolute; t < 0 from each row's end)
``cell/L{l}/{dir}@t``        c likewise (LSTM)
``hidden/L{l}/{dir}``        token view: h at every valid step
``cell/L{l}/{dir}``          token view: c at every valid step (LSTM)
``output``                   token view: top-layer output at every valid step
``gate/L{l}/{dir}/{g}@t``    gate g's activation at step t, t as for hidden: LSTM i,f,g,o; GRU r,z,n
``gate/L{l}/{dir}/{g}``      token view: gate g's activation at every valid step
===========================  =======================================================

Gate views are recomputed from the module's weights only when asked for by name
(:mod:`probe_rnn.capture.gates`): they are not among the default views (:func:`views_for`,
:func:`available_views`), :func:`gate_views` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from probe_rnn.capture.gates import GATE_NAMES, gate_names
from probe_rnn.capture.states import RecurrentStates
from probe_rnn.errors import ConfigError

__all__ = [
    "VIEW_CATALOGUE",
    "ViewSpec",
    "parse_view",
    "available_views",
    "gate_views",
    "gate_views_for",
    "sentence_view",
    "sentence_view_masked",
    "token_view",
]

VIEW_CATALOGUE: dict[str, str] = {
    "output@last": "top-layer output at each row's own last valid step",
    "output@-1": "output[:, -1] of the padded batch: what naive code reads (padding for short "
    "rows)",
    "h_n/L{l}/{fwd,bwd}": "final hidden state of layer l, direction",
    "c_n/L{l}/{fwd,bwd}": "final cell state of layer l, direction (LSTM)",
    "mean(output)": "top-layer output averaged over valid steps",
    "max(output)": "top-layer output, max over valid steps",
    "hidden/L{l}/{dir}@t": "hidden state of layer l at step t (t >= 0 absolute, t < 0 from the "
    "row's own end)",
    "cell/L{l}/{dir}@t": "cell state of layer l at step t (LSTM; t as for hidden)",
    "hidden/L{l}/{dir}": "token view: hidden state of layer l at every valid step",
    "cell/L{l}/{dir}": "token view: cell state of layer l at every valid step (LSTM)",
    "output": "token view: top-layer output at every valid step",
    "gate/L{l}/{dir}/{i,f,g,o}@t": "LSTM gate activation of layer l at step t (input, forget, "
    "cell candidate, output; t as for hidden; only when asked for)",
    "gate/L{l}/{dir}/{r,z,n}@t": "GRU gate activation of layer l at step t (reset, update, new; "
    "t as for hidden; only when asked for)",
    "gate/L{l}/{dir}/{name}": "token view: gate activation of layer l at every valid step (only "
    "when asked for)",
}

_STATE = re.compile(r"^(hidden|cell|h_n|c_n)/L(\d+)/(fwd|bwd)(?:@(-?\d+))?$")
_GATE = re.compile(r"^gate/L(\d+)/(fwd|bwd)/([ifgorzn])(?:@(-?\d+))?$")
_DIRS = ("fwd", "bwd")


@dataclass(frozen=True)
class ViewSpec:
    """A parsed view name.

    ``base`` is one of ``output``, ``mean(output)``, ``max(output)``, ``h_n``, ``c_n``,
    ``hidden``, ``cell``, ``gate`` (``gate`` names the gate, e.g. ``"f"``, else None);
    ``layer``/``direction`` are None for output-based views; ``t`` is the
    step (``output@last`` is ``t=-1, relative=True``, ``output@-1`` is ``t=-1,
    relative=False``); ``relative`` means counted from each row's own end; ``kind`` is
    ``"sentence"`` or ``"token"``.
    """

    name: str
    base: str
    layer: int | None = None
    direction: str | None = None
    t: int | None = None
    relative: bool = False
    gate: str | None = None

    @property
    def kind(self) -> str:
        """``"token"`` for per-step views without ``@t``, else ``"sentence"``."""
        if self.base in ("hidden", "cell", "output", "gate") and self.t is None:
            return "token"
        return "sentence"


def _bad_name(name: str) -> ConfigError:
    return ConfigError(
        f"unknown state view {name!r}; valid forms: {', '.join(VIEW_CATALOGUE)} "
        "(e.g. hidden/L0/fwd@-1)"
    )


def parse_view(name: str) -> ViewSpec:
    """Parse a view name into a :class:`ViewSpec`; unknown forms raise ConfigError."""
    if not isinstance(name, str):
        raise _bad_name(repr(name))
    fixed = {
        "output@last": ViewSpec(name, "output", t=-1, relative=True),
        "output@-1": ViewSpec(name, "output", t=-1, relative=False),
        "mean(output)": ViewSpec(name, "mean(output)"),
        "max(output)": ViewSpec(name, "max(output)"),
        "output": ViewSpec(name, "output"),
    }
    if name in fixed:
        return fixed[name]
    g = _GATE.match(name)
    if g is not None:
        step = None if g.group(4) is None else int(g.group(4))
        return ViewSpec(name, "gate", int(g.group(1)), g.group(2), t=step,
                        relative=step is not None and step < 0, gate=g.group(3))
    m = _STATE.match(name)
    if m is None:
        raise _bad_name(name)
    base, layer, direction, t = m.group(1), int(m.group(2)), m.group(3), m.group(4)
    if base in ("h_n", "c_n"):
        if t is not None:
            raise _bad_name(name)
        return ViewSpec(name, base, layer, direction)
    if t is None:
        return ViewSpec(name, base, layer, direction)
    step = int(t)
    return ViewSpec(name, base, layer, direction, t=step, relative=step < 0)


def available_views(states: RecurrentStates) -> list[str]:
    """Every sentence view and token view (without ``@t``) these states support."""
    return views_for(states.num_layers, states.num_directions, states.has_cell)


def gate_views(states: RecurrentStates) -> list[str]:
    """The gate token views these states support (asked for by name only; with ``@t`` too)."""
    return gate_views_for(states.kind if states.gate_names else "", states.num_layers,
                          states.num_directions)


def gate_views_for(kind: str, layers: int, directions: int) -> list[str]:
    """The gate token views ``gate/L{l}/{dir}/{name}`` of a module of that kind and shape
    (``"lstm"``: i, f, g, o; ``"gru"``: r, z, n; none otherwise)."""
    return [f"gate/L{layer}/{d}/{g}" for layer in range(layers) for d in _DIRS[:directions]
            for g in gate_names(kind)]


def views_for(layers: int, directions: int, has_cell: bool) -> list[str]:
    """Every sentence view and token view (without ``@t``) of a module of that shape."""
    dirs = _DIRS[:directions]
    names = ["output@last", "output@-1", "mean(output)", "max(output)"]
    for base in ("h_n", "c_n") if has_cell else ("h_n",):
        names += [f"{base}/L{layer}/{d}" for layer in range(layers) for d in dirs]
    for base in ("hidden", "cell") if has_cell else ("hidden",):
        names += [f"{base}/L{layer}/{d}" for layer in range(layers) for d in dirs]
    names.append("output")
    return names


def resolve_views(available: list[str], requested: Sequence[str] | None,
                  optional: Sequence[str] | None = None) -> dict[str, str]:
    """Map the views to store to their kind (``"sentence"`` or ``"token"``), in order.

    ``requested`` None means all of ``available``; a per-step ``hidden/L0/fwd@3`` (or
    ``gate/L0/fwd/f@3``) stores its per-token base. ``optional`` are the views stored only when
    requested (the gate views, :func:`gate_views_for`); when None they are inferred from
    ``available``: LSTM gates where there is a cell view, GRU gates elsewhere (an ``nn.RNN``'s
    are then refused only when its states are seen). A name the module does not have is a
    one-line error listing what is available.
    """
    kinds = {name: parse_view(name).kind for name in available}
    if requested is None:
        return kinds
    if optional is None:
        optional = _inferred_gate_views(kinds)
    extra = {name: "token" for name in optional}
    chosen: dict[str, str] = {}
    for name in requested:
        spec = parse_view(name)  # unknown forms raise ConfigError listing the valid ones
        if spec.kind == "sentence" and spec.base in ("hidden", "cell"):
            name = f"{spec.base}/L{spec.layer}/{spec.direction}"  # the store derives @t
        elif spec.kind == "sentence" and spec.base == "gate":
            name = f"gate/L{spec.layer}/{spec.direction}/{spec.gate}"
        if name not in kinds and name not in extra:
            raise ConfigError(
                f"view {spec.name!r} is not available for this module; available: "
                f"{', '.join([*kinds, *extra])} (per-step ones also with @t)"
            )
        chosen[name] = kinds.get(name) or extra[name]
    return chosen


def _inferred_gate_views(available: Sequence[str]) -> list[str]:
    """Gate views of the layers/directions with a ``hidden`` token view: LSTM gates where
    the matching ``cell`` view exists, GRU gates elsewhere."""
    names = []
    for name in available:
        if name.startswith("hidden/"):
            where = name[len("hidden/"):]
            kind = "lstm" if f"cell/{where}" in available else "gru"
            names += [f"gate/{where}/{g}" for g in GATE_NAMES[kind]]
    return names


def _check(spec: ViewSpec, states: RecurrentStates) -> None:
    problem = None
    if spec.layer is not None and spec.layer >= states.num_layers:
        problem = f"layer {spec.layer} does not exist ({states.num_layers} layer(s))"
    elif spec.direction == "bwd" and states.num_directions == 1:
        problem = "the module is not bidirectional"
    elif spec.base in ("cell", "c_n") and not states.has_cell:
        problem = f"a {states.kind} module has no cell state"
    elif spec.base == "gate" and spec.gate not in states.gate_names:
        if states.gate_names:
            problem = f"a {states.kind} module's gates are {', '.join(states.gate_names)}"
        elif states.kind.endswith("-cell") and gate_names(states.kind[:-5]):
            problem = "gates of a cell looped by the model are not captured (only nn.LSTM/nn.GRU)"
        elif gate_names(states.kind):
            problem = "these states were built without the inputs their gates need"
        else:
            problem = f"a {states.kind} module has no gates"
    if problem:
        raise ConfigError(
            f"state view {spec.name!r} is not available: {problem}; available: "
            f"{', '.join(available_views(states) + gate_views(states))} "
            "(per-step ones also with @t)"
        )


def sentence_view_masked(states: RecurrentStates, name: str) -> tuple[Tensor, Tensor]:
    """Sentence view and a ``(batch,)`` bool mask of rows for which it exists.

    Rows without the state (``@t`` views of rows with ``length <= t`` or ``length < -t``) get
    zero rows and ``mask`` False. Returns ``(values (batch, dim), mask (batch,))``.
    """
    spec = parse_view(name)
    if spec.kind != "sentence":
        raise ConfigError(
            f"state view {name!r} is a token view; use token_view, or add @t for one step"
        )
    _check(spec, states)
    batch = states.batch
    full = torch.ones(batch, dtype=torch.bool)
    lengths = states.lengths
    if spec.base in ("h_n", "c_n"):
        final = states.h_n if spec.base == "h_n" else states.c_n
        k = spec.layer * states.num_directions + _DIRS.index(spec.direction)
        return final[k], full
    if spec.base in ("mean(output)", "max(output)"):
        out = states.output
        valid = (torch.arange(states.time)[None, :] < lengths[:, None]).to(out.device)
        if spec.base == "mean(output)":
            summed = (out * valid[..., None]).sum(1)
            return summed / lengths.clamp(min=1).to(out)[:, None], full
        masked = out.masked_fill(~valid[..., None], float("-inf"))
        return masked.max(1).values, full
    if spec.base == "output":
        seq = states.output
    elif spec.base == "gate":
        seq = states.gate_padded(spec.layer, _DIRS.index(spec.direction), spec.gate)
    else:
        d = _DIRS.index(spec.direction)
        seq = states.padded_layer(spec.base, spec.layer)[:, :, d]
    if spec.base == "output" and not spec.relative:
        return seq[:, -1], full
    step = lengths + spec.t if spec.relative else torch.full_like(lengths, spec.t)
    mask = (step >= 0) & (step < lengths)
    rows = torch.arange(batch)
    values = seq[rows.to(seq.device), step.clamp(0, max(states.time - 1, 0)).to(seq.device)]
    values = values * mask.to(values.device, values.dtype)[:, None]
    return values, mask


def sentence_view(states: RecurrentStates, name: str) -> Tensor:
    """Sentence view ``(batch, dim)``; rows without the state (``@t`` views) are NaN."""
    values, mask = sentence_view_masked(states, name)
    if bool(mask.all()):
        return values
    values = values.clone()
    values[~mask.to(values.device)] = float("nan")
    return values


def token_view(states: RecurrentStates, name: str) -> Tensor:
    """Token view: ``(n_valid_tokens, dim)`` flat over valid tokens, row-major."""
    spec = parse_view(name)
    if spec.kind != "token":
        raise ConfigError(
            f"state view {name!r} is a sentence view; use sentence_view, or a per-step name "
            "without @t (hidden/L{l}/{dir}, cell/L{l}/{dir}, gate/L{l}/{dir}/{name}, output)"
        )
    _check(spec, states)
    if spec.base == "output":
        top = states.flat("hidden", states.num_layers - 1)
        return top.reshape(top.shape[0], -1)
    if spec.base == "gate":
        return states.gate_flat(spec.layer, _DIRS.index(spec.direction), spec.gate)
    return states.flat(spec.base, spec.layer, _DIRS.index(spec.direction))
