"""Sites: every recurrent module of a model and every call of it in one forward, named.

A **site** is one recurrent module's call (or run of calls) in a forward: the two branches of a
siamese model are the sites ``encoder`` and ``encoder#2`` of one shared encoder; an
encoder–decoder has the sites ``encoder`` and ``decoder``. Its name is the module's *role*
(:func:`module_roles`: the shortest leading part of its ``named_modules()`` path that tells it
apart from the model's other recurrent modules), with ``#k`` for its k-th call (k >= 2). Views
of a model with several sites are named ``SITE:VIEW`` (:func:`probe_rnn.catalogue.site_view`);
a model with one site keeps the bare names.

Consecutive calls of one module on the same rows, one step each, each starting from the state
the previous call returned (a decoder stepping one token at a time) are **one** site, stacked
along time (:func:`stack_steps`): ``decoder:hidden/L0/fwd@t`` is step t.

Each site's rows have lengths (which steps are real): a PackedSequence gives them exactly;
otherwise the encoded batch says: the first site in execution order reads text 1
(``batch["lengths"]``), every later site reads text 2 (``batch["lengths_2"]``) when the batch
has it, else text 1; a stepped site's rows all have the number of calls as length.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from probe_rnn.capture.states import PackedLayout, RecurrentStates
from probe_rnn.errors import CaptureError, ConfigError
from probe_rnn.models.recurrent import recurrent_modules

if TYPE_CHECKING:
    from probe_rnn.capture.recorder import Recorder

#: What a site is: one call of a fused module; consecutive one-step calls stacked along time;
#: a cell (``nn.LSTMCell`` ...) looped by the model, every call one step.
SITE_KINDS = ("call", "stepped", "cell loop")


@dataclass(frozen=True)
class Site:
    """One site of a forward.

    ``name`` (``encoder#2``), ``module`` (its ``named_modules()`` path), ``call`` (1 for the
    module's first site, k for its k-th), ``kind`` (:data:`SITE_KINDS`), ``text`` (1 or 2: the
    text whose tokens its steps are; None for a stepped site, whose steps are its calls),
    ``calls`` (module calls it holds) and ``packed`` (its input was a PackedSequence).
    """

    name: str
    module: str
    call: int
    kind: str
    text: int | None
    calls: int = 1
    packed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The site as a JSON object (the manifest's ``capture.sites``)."""
        return {"name": self.name, "module": self.module, "call": self.call, "kind": self.kind,
                "text": self.text, "calls": self.calls, "packed": self.packed}


def module_roles(model: torch.nn.Module) -> dict[str, str]:
    """Each recurrent module's role: the shortest leading part of its path that no other
    recurrent module's path shares (``encoder.gru``, ``decoder.gru`` -> ``encoder``,
    ``decoder``; ``layers.0.lstm``, ``layers.1.lstm`` -> ``layers.0``, ``layers.1``)."""
    names = list(recurrent_modules(model, cells=True))
    parts = {name: name.split(".") for name in names}
    roles = {}
    for name in names:
        for k in range(1, len(parts[name]) + 1):
            head = parts[name][:k]
            if not any(other != name and parts[other][:k] == head for other in names):
                roles[name] = ".".join(head)
                break
        else:
            roles[name] = name
    return roles


def _continues(before: RecurrentStates, after: RecurrentStates) -> bool:
    """Whether ``after`` is the next step of ``before``: one step each, same rows, starting
    from the state ``before`` returned."""
    if before.time != 1 or after.time != 1 or before.batch != after.batch:
        return False
    if after.initial is None:
        return False
    h0, c0 = after.initial
    if h0.shape != before.h_n.shape or not torch.allclose(h0, before.h_n, rtol=1e-4, atol=1e-6):
        return False
    return c0 is None or before.c_n is None or torch.allclose(c0, before.c_n, rtol=1e-4,
                                                              atol=1e-6)


def stack_steps(calls: list[RecurrentStates]) -> RecurrentStates:
    """One-step calls stacked along time into one call's states (``time = len(calls)``; every
    row has every step); ``h_n``/``c_n`` are the last call's, ``fused_check`` the largest of
    the calls' (gates are not kept)."""
    if len(calls) == 1:
        return calls[0]
    batch, time = calls[0].batch, len(calls)
    hidden = [torch.cat([c.hidden_layers[i] for c in calls], 0)
              for i in range(calls[0].num_layers)]
    cell = None if calls[0].cell_layers is None else [
        torch.cat([c.cell_layers[i] for c in calls], 0) for i in range(calls[0].num_layers)]
    layout = PackedLayout([batch] * time, [batch * t for t in range(time + 1)], None,
                          torch.full((batch,), time, dtype=torch.long), calls[0].layout.device)
    checks = [c.fused_check for c in calls if c.fused_check]
    fused = None if not checks else {
        what: max(float(c.get(what, 0.0)) for c in checks) for what in checks[0]}
    last = calls[-1]
    states = RecurrentStates(
        layout=layout, hidden_packed=hidden, cell_packed=cell, h_n=last.h_n, c_n=last.c_n,
        kind=last.kind, hidden_size=last.hidden_size, proj_size=last.proj_size,
        verified=all(c.verified for c in calls), fused_check=fused)
    states.initial = calls[0].initial
    return states


def _groups(calls: list[RecurrentStates]) -> list[list[int]]:
    """The module's calls in runs: a run is one call, or consecutive stepped calls."""
    runs: list[list[int]] = []
    for i, states in enumerate(calls):
        if runs and _continues(calls[runs[-1][-1]], states):
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def forward_sites(rec: Recorder, names: list[str], roles: dict[str, str],
                  batch: dict[str, Any]) -> list[tuple[Site, RecurrentStates]]:
    """The sites of the forward just recorded, in execution order, with their states."""
    found: list[tuple[int, Site, RecurrentStates]] = []
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(rec.order):
        positions.setdefault(name, []).append(position)
    for name in names:
        if name not in positions:
            continue
        role = roles.get(name, name)
        if rec.is_cell(name):
            found.append((positions[name][0], Site(role, name, 1, "cell loop", None,
                                                   len(positions[name])), rec[name]))
            continue
        calls = rec.calls(name)
        for k, run in enumerate(_groups(calls), start=1):
            states = stack_steps([calls[i] for i in run])
            kind = "stepped" if len(run) > 1 else "call"
            site = Site(role if k == 1 else f"{role}#{k}", name, k, kind, None, len(run),
                        packed=kind == "call" and _is_packed(states))
            found.append((positions[name][run[0]], site, states))
    found.sort(key=lambda item: item[0])
    return [(_with_text(site, states, batch, first=i == 0), states)
            for i, (_, site, states) in enumerate(found)]


def _is_packed(states: RecurrentStates) -> bool:
    return not bool((states.lengths == states.time).all())


def _with_text(site: Site, states: RecurrentStates, batch: dict[str, Any], first: bool
               ) -> Site:
    """The site with the text its steps are (the rule of the module docstring)."""
    if site.kind == "stepped":
        return site
    has_2 = isinstance(batch.get("lengths_2"), torch.Tensor)
    text = 1 if first or not has_2 else 2
    if site.packed:
        seen = states.lengths.detach().cpu()
        fits = {t: torch.equal(seen, batch[key].detach().cpu().long())
                for t, key in ((1, "lengths"), (2, "lengths_2"))
                if isinstance(batch.get(key), torch.Tensor)
                and batch[key].shape == seen.shape}
        if not fits.get(text) and any(fits.values()):
            text = next(t for t, ok in fits.items() if ok)
    return replace(site, text=text)


def site_lengths(site: Site, states: RecurrentStates, batch: dict[str, Any]) -> np.ndarray:
    """Each row's real steps at this site: the number of calls for a stepped site, else the
    batch's lengths of the site's text (a PackedSequence's own lengths chose that text; the
    store checks they agree)."""
    if site.text is None:
        return states.lengths.detach().cpu().numpy().astype(np.int64)
    key = "lengths_2" if site.text == 2 else "lengths"
    return np.asarray(batch[key].detach().cpu()).astype(np.int64)


def ran_real_tokens(states: RecurrentStates, lengths: np.ndarray, start: int) -> bool:
    """Whether the module ran exactly the adapter's ``lengths`` (a PackedSequence), rather
    than every step of the padded batch; a CaptureError when it did neither."""
    seen = states.lengths.detach().cpu().long()
    if np.array_equal(seen.numpy(), lengths):
        return True
    if not (bool((seen == states.time).all()) and int(lengths.max()) <= states.time):
        raise CaptureError(
            f"rows {start}..{start + len(lengths) - 1}: the recurrent module saw lengths that "
            "differ from the adapter's 'lengths': the adapter must report the real step counts"
        )
    return False


def real_tokens(states: RecurrentStates, lengths: np.ndarray, start: int) -> RecurrentStates:
    """The states at each row's real tokens (the adapter's ``lengths``).

    Equal to ``states`` when the module got a PackedSequence. A module that ran over the padded
    batch (or a cell loop) reports every step as valid; its states are re-laid out so that
    views and token arrays cover only the real tokens (``h_n``, ``c_n`` stay as returned; gates,
    if read, are those the module computed at the real tokens).
    """
    from torch.nn.utils.rnn import pack_padded_sequence

    from probe_rnn.capture.gates import RepackedGates
    from probe_rnn.capture.states import PackedLayout, RecurrentStates

    if ran_real_tokens(states, lengths, start):
        return states
    real = torch.as_tensor(lengths, dtype=torch.long)
    hidden = pack_padded_sequence(states.hidden, real, batch_first=True, enforce_sorted=False)
    cell = None if states.cell is None else pack_padded_sequence(
        states.cell, real, batch_first=True, enforce_sorted=False).data
    sizes = hidden.batch_sizes.tolist()
    layout = PackedLayout(sizes, [0, *np.cumsum(sizes).tolist()], hidden.sorted_indices, real,
                          states.hidden.device)
    gates = None if states.gate_source is None else RepackedGates(states)  # lazy, as states'
    return RecurrentStates(
        layout=layout, hidden_packed=hidden.data, cell_packed=cell, h_n=states.h_n,
        c_n=states.c_n, kind=states.kind, hidden_size=states.hidden_size,
        proj_size=states.proj_size, verified=states.verified, gate_source=gates,
    )


def view_at_real_tokens(states: RecurrentStates, view: str, kind: str, lengths: np.ndarray,
                        start: int, memo: dict[str, Any]) -> Any:
    """A bare view of one batch's states at each row's real tokens (the adapter's
    ``lengths``), as a store keeps it: ``output@-1`` as the module ran (padding included);
    views of the module's own results (``h_n``, ``c_n``, ``output@last``, pooled ``output``)
    read from its padded output with the real lengths; any other from the states re-laid out
    by :func:`real_tokens`. ``memo`` (one per site and batch) keeps what every view of the
    site shares: whether the module ran the real tokens, and the re-laid-out states."""
    from probe_rnn.capture.views import (
        module_view,
        reads_module_results,
        sentence_view,
        token_view,
    )
    from probe_rnn.catalogue import OUTPUT_NAIVE_LAST, parse_view

    if "ran_real" not in memo:  # True: the module ran the real tokens (a PackedSequence)
        memo["ran_real"] = ran_real_tokens(states, lengths, start)
    if view == OUTPUT_NAIVE_LAST:
        return sentence_view(states, view)
    if kind == "sentence" and reads_module_results(view):  # no re-layout needed
        return module_view(parse_view(view), states.output, states.h_n, states.c_n,
                           torch.as_tensor(lengths), states.num_directions,
                           zero_padded=memo["ran_real"])
    if "states" not in memo:
        memo["states"] = real_tokens(states, lengths, start)
    real = memo["states"]
    return sentence_view(real, view) if kind == "sentence" else token_view(real, view)


def site_views(states: RecurrentStates, requested: list[str] | None, site: str | None,
               n_sites: int) -> dict[str, str]:
    """The bare views to store for one site, with their kinds: every default view, or the
    requested ones that name this site (``SITE:VIEW``) or no site (a bare name is taken at
    every site that has it when there are several)."""
    from probe_rnn.capture.views import available_views, gate_views, resolve_views
    from probe_rnn.catalogue import ViewSpec

    available, gates = available_views(states), gate_views(states)
    if requested is None:
        return resolve_views(available, None, optional=gates)
    specs = [ViewSpec.parse(name) for name in requested]
    if n_sites == 1:
        named = next((spec.name for spec in specs if spec.site is not None), None)
        if named is not None:
            raise ConfigError(
                f"view {named!r} names a site, but the model runs one recurrent site: name "
                f"its views without a prefix (e.g. {ViewSpec.parse(named).bare})")
        return resolve_views(available, requested, optional=gates)
    mine = [spec.bare for spec in specs if spec.site == site]
    chosen = resolve_views(available, mine, optional=gates) if mine else {}
    for spec in specs:
        if spec.site is not None:
            continue
        try:
            chosen.update(resolve_views(available, [spec.name], optional=gates))
        except ConfigError:  # a bare name is stored where the site has the view
            continue
    order = {name: i for i, name in enumerate([*available, *gates])}
    return {name: chosen[name] for name in sorted(chosen, key=lambda n: order.get(n, len(order)))}


def check_requested(requested: list[str] | None, chosen: dict[str, dict[str, str]]) -> None:
    """With several sites, every requested view is stored somewhere: a ``SITE:VIEW`` names
    one of the forward's sites, a bare name a view that one site has (a one-line error
    listing the sites otherwise)."""
    if requested is None or len(chosen) < 2:
        return
    from probe_rnn.catalogue import ViewSpec

    for name in requested:
        spec = ViewSpec.parse(name)
        base = str(spec.without_step().with_site(None)) if spec.base in (
            "hidden", "cell", "gate") else spec.bare
        if spec.site is not None and spec.site not in chosen:
            raise ConfigError(
                f"view {name!r} names the site {spec.site!r}, which the forward does not run; "
                f"its sites: {', '.join(chosen)} (SITE:VIEW, e.g. {next(iter(chosen))}:"
                f"{spec.bare})")
        if spec.site is None and not any(base in views for views in chosen.values()):
            raise ConfigError(
                f"view {name!r} is a view of none of the sites {', '.join(chosen)}; "
                "name the site's views SITE:VIEW (see probe-rnn inspect)")
