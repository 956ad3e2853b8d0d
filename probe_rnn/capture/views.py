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
``h_n/L{l}``                 final hidden state of layer l, every direction concatenated
``c_n/L{l}/{fwd,bwd}``       final cell state (LSTM); ``c_n/L{l}`` concatenated likewise
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

The grammar of the names (:class:`ViewSpec`, :func:`parse_view`, :data:`VIEW_CATALOGUE`) lives
in :mod:`probe_rnn.catalogue` and is re-exported here; this module holds the functions on states.

Gate views are recomputed from the module's weights only when asked for by name
(:mod:`probe_rnn.capture.gates`): they are not among the default views (:func:`views_for`,
:func:`available_views`), :func:`gate_views` lists them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from probe_rnn.capture.states import RecurrentStates
from probe_rnn.catalogue import (
    FINAL_BASES,
    GATE_NAMES,
    MAX_OUTPUT,
    MEAN_OUTPUT,
    OUTPUT,
    OUTPUT_LAST,
    STEP_BASES,
    SUMMARY_VIEWS,
    ViewSpec,
    final_view,
    gate_names,
    looped_kind,
    parse_view,
    state_view,
    state_views,
    try_parse,
)
from probe_rnn.errors import ConfigError


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
    return state_views("gate", range(layers), directions, gate_names(kind))


def views_for(layers: int, directions: int, has_cell: bool) -> list[str]:
    """Every sentence view and token view (without ``@t``) of a module of that shape: after
    each layer's ``h_n/L{l}/{dir}`` views comes ``h_n/L{l}``, both directions concatenated
    (what a head reading ``cat(h_n fwd, h_n bwd)`` reads; for a unidirectional module the
    same vector as ``h_n/L{l}/fwd``)."""
    names = list(SUMMARY_VIEWS)
    for base in (*FINAL_BASES, *STEP_BASES) if has_cell else (FINAL_BASES[0], STEP_BASES[0]):
        if base == FINAL_BASES[0]:
            for layer in range(layers):
                names += [*state_views(base, [layer], directions), final_view(base, layer)]
            continue
        names += state_views(base, range(layers), directions)
    names.append(OUTPUT)
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
        if spec.kind == "sentence" and spec.base in (*STEP_BASES, "gate"):
            name = str(spec.without_step())  # the store derives @t
        if name not in kinds and name not in extra:
            raise ConfigError(
                f"view {spec.name!r} is not available for this module; available: "
                f"{', '.join([*kinds, *extra])} (per-step ones also with @t)"
            )
        chosen[name] = kinds.get(name) or extra[name]
    return chosen


def check_views(model: torch.nn.Module, views: Sequence[str] | None) -> None:
    """Capture's own check of view names, before any work: each name parses, and each bare
    name (or a ``SITE:VIEW``'s view) is a view of one of the model's recurrent modules (its
    sites are known only once the model runs); an error lists the valid names of the first
    module, so a typo never costs a capture."""
    from probe_rnn.models.recurrent import module_kind, recurrent_modules

    specs = [parse_view(view) for view in views or ()]
    modules = [m for m in recurrent_modules(model).values() if module_kind(m) is not None]
    if not modules or not specs:
        return
    shapes = []
    for module in modules:
        dirs = 2 if module.bidirectional else 1
        kind = module_kind(module) or ""
        shapes.append((views_for(module.num_layers, dirs, kind == "lstm"),
                       gate_views_for(kind, module.num_layers, dirs)))
    for spec in specs:
        if any(_resolves(spec.bare, shape) for shape in shapes):
            continue
        resolve_views(shapes[0][0], [spec.bare], optional=shapes[0][1])  # raises, listing


def _resolves(name: str, shape: tuple[list[str], list[str]]) -> bool:
    try:
        resolve_views(shape[0], [name], optional=shape[1])
    except ConfigError:
        return False
    return True


def _inferred_gate_views(available: Sequence[str]) -> list[str]:
    """Gate views of the layers/directions with a ``hidden`` token view: LSTM gates where
    the matching ``cell`` view exists, GRU gates elsewhere."""
    names = []
    for name in available:
        spec = try_parse(name)
        if spec is not None and spec.base == "hidden" and spec.t is None:
            cell = state_view("cell", spec.layer, spec.direction)
            kind = "lstm" if cell in available else "gru"
            names += [state_view("gate", spec.layer, spec.direction, gate=g)
                      for g in GATE_NAMES[kind]]
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
        elif gate_names(looped_kind(states.kind) or ""):
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
    if reads_module_results(spec.name):
        return module_view(spec, states.output, states.h_n, states.c_n, lengths,
                           states.num_directions, zero_padded=True), full
    if spec.base == "output":
        seq = states.output
    elif spec.base == "gate":
        seq = states.gate_padded(spec.layer, spec.direction_index, spec.gate)
    else:
        d = spec.direction_index
        seq = states.padded_layer(spec.base, spec.layer)[:, :, d]
    if spec.base == "output" and not spec.relative:
        return seq[:, -1], full
    step = lengths + spec.t if spec.relative else torch.full_like(lengths, spec.t)
    mask = (step >= 0) & (step < lengths)
    rows = torch.arange(batch)
    values = seq[rows.to(seq.device), step.clamp(0, max(states.time - 1, 0)).to(seq.device)]
    values = values * mask.to(values.device, values.dtype)[:, None]
    return values, mask


def reads_module_results(name: str) -> bool:
    """Whether a view is one :func:`module_view` reads from a module's own results (its
    padded ``output``, ``h_n``, ``c_n`` and each row's length): ``h_n``/``c_n`` views,
    ``output@last``, ``mean(output)``, ``max(output)``."""
    spec = parse_view(name)
    return spec.is_final or spec.base in (MEAN_OUTPUT, MAX_OUTPUT) or spec.name == OUTPUT_LAST


def module_view(spec: ViewSpec, output: Tensor, h_n: Tensor, c_n: Tensor | None,
                lengths: Tensor, directions: int, *, zero_padded: bool = False) -> Tensor:
    """A sentence view a recurrent module's own results give, differentiably: ``h_n``/``c_n``
    of a layer and direction, ``output@last``, ``mean(output)`` or ``max(output)`` over each
    row's valid steps, ``(batch, dim)``. Capture reads it from the recomputed states, probe
    attribution from the module's output inside the model's forward.

    ``output`` ``(batch, time, directions * size)`` batch-major (what lies past each row's
    length is never read); ``h_n``, ``c_n`` ``(layers * directions, batch, size)``.
    ``zero_padded``: ``output`` is exactly 0 past each row's length (states' padded output),
    so ``mean(output)`` sums it as it is (see :func:`mean_over_steps`).
    """
    if spec.is_final:
        final = h_n if spec.base == "h_n" else c_n
        if spec.direction is None:  # every direction of the layer, fwd then bwd
            rows = final[spec.layer * directions:(spec.layer + 1) * directions]
            return torch.cat(list(rows), dim=-1)
        return final[spec.layer * directions + spec.direction_index]
    lengths = lengths.to(output.device)
    if spec.name == OUTPUT_LAST:
        return output[torch.arange(len(lengths), device=output.device), lengths - 1]
    if spec.base == MEAN_OUTPUT:
        return mean_over_steps(output, lengths, zero_padded)
    if spec.base == MAX_OUTPUT:
        return max_over_steps(output, lengths)
    raise ConfigError(f"state view {spec.name!r} is not read from a module's results alone")


def mean_over_steps(output: Tensor, lengths: Tensor, zero_padded: bool = False) -> Tensor:
    """``(batch, dim)``: each row's mean over its first ``lengths`` steps of ``output``
    ``(batch, time, dim)``. ``zero_padded`` (``output`` is exactly 0 past each row's length, as
    states' padded output is): summed as it is, the same bits as masking it; otherwise the
    valid steps are summed by one batched product with the mask, without a masked copy."""
    scale = lengths.clamp(min=1).to(output)[:, None]
    if zero_padded:
        return output.sum(1) / scale
    valid = torch.arange(output.shape[1], device=output.device)[None, :] < lengths[:, None]
    return torch.bmm(valid.to(output.dtype)[:, None, :], output)[:, 0] / scale


def max_over_steps(output: Tensor, lengths: Tensor) -> Tensor:
    """``(batch, dim)``: each row's maximum over its first ``lengths`` steps of ``output``
    ``(batch, time, dim)`` (-inf for an empty row). One reduction per row over its own steps:
    the same maxima as masking the rest with -inf, without a masked copy of the whole batch."""
    empty = output.new_full(output.shape[-1:], float("-inf"))
    return torch.stack([output[row, :n].amax(0) if n > 0 else empty
                        for row, n in enumerate(lengths.tolist())])


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
        return states.gate_flat(spec.layer, spec.direction_index, spec.gate)
    return states.flat(spec.base, spec.layer, spec.direction_index)
