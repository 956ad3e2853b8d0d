"""The vocabulary of probe-rnn: the names that other modules parse or build, in one place.

* **State view names**, a small grammar (the state catalogue of DESIGN.md; what each view holds
  is computed by :mod:`probe_rnn.capture.views`):

  ===========================  ==========================================================
  ``output@last``              top-layer output at each row's own last valid step
  ``output@-1``                ``output[:, -1]`` of the padded batch (padding for short rows)
  ``mean(output)``             top-layer output averaged over valid steps
  ``max(output)``              top-layer output, max over valid steps
  ``output``                   token view: top-layer output at every valid step
  ``h_n/L{l}/{fwd,bwd}``       final hidden state of layer l, direction
  ``h_n/L{l}``                 final hidden state of layer l, every direction concatenated
  ``c_n/L{l}/{fwd,bwd}``       final cell state (LSTM); ``c_n/L{l}`` concatenated likewise
  ``hidden/L{l}/{dir}``        token view: h at every valid step (``cell/...`` likewise)
  ``hidden/L{l}/{dir}@t``      h at step t (t >= 0 absolute; t < 0 from each row's end)
  ``gate/L{l}/{dir}/{g}``      token view of gate g (LSTM i, f, g, o; GRU r, z, n); with ``@t``
  ===========================  ==========================================================

  A model with several recurrent modules, or a module called several times in one forward, has
  several **sites** (:mod:`probe_rnn.capture.recurrent_sites`); their views carry the site's
  name before a colon, ``SITE:VIEW``: ``encoder:h_n/L0/fwd``, ``encoder#2:output@last``,
  ``decoder:hidden/L0/fwd@3``. A site name is the module's role (the shortest leading part of its
  module path that tells it apart from the model's other recurrent modules) and ``#k`` for the
  k-th call (k >= 2). A model with one site names its views without prefix.

  :class:`ViewSpec` is a parsed name (:meth:`ViewSpec.parse`, ``str(spec)`` gives back the
  canonical name); :func:`state_view`, :func:`state_views` and the constants build names, so
  no caller formats or splits them itself.
* **RNN kinds** and their spellings: ``ModelConfig.rnn`` (:data:`RNN_TYPES`), the fused
  modules' kinds in captured states (:data:`MODULE_KINDS`), cells looped by a model
  (:data:`CELL_KINDS`), and the gates of each (:data:`GATE_NAMES`).
* **Readouts** and the views they read (:data:`READOUTS`, :data:`READOUT_VIEWS`,
  :func:`readout_views`).

It imports nothing heavy (no torch, numpy or pandas): any module may use it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass

from probe_rnn.errors import ConfigError

# -- view names ------------------------------------------------------------------------------
#: The two directions, in the order of PyTorch's ``h_n`` rows (``layer * dirs + index``).
DIRECTIONS = ("fwd", "bwd")
OUTPUT = "output"
OUTPUT_LAST = "output@last"
OUTPUT_NAIVE_LAST = "output@-1"
MEAN_OUTPUT = "mean(output)"
MAX_OUTPUT = "max(output)"
#: The output-based sentence views, in catalogue order.
SUMMARY_VIEWS = (OUTPUT_LAST, OUTPUT_NAIVE_LAST, MEAN_OUTPUT, MAX_OUTPUT)
#: Bases of the final-state views (``h_n/L0/fwd``) and of the per-step ones (``hidden/L0/fwd``).
FINAL_BASES = ("h_n", "c_n")
STEP_BASES = ("hidden", "cell")

VIEW_CATALOGUE: dict[str, str] = {
    "output@last": "top-layer output at each row's own last valid step",
    "output@-1": "output[:, -1] of the padded batch: what naive code reads (padding for short "
    "rows)",
    "h_n/L{l}/{fwd,bwd}": "final hidden state of layer l, direction",
    "h_n/L{l}": "final hidden state of layer l, every direction concatenated (fwd then bwd: "
    "what a head reading cat(h_n fwd, h_n bwd) reads; for a unidirectional module the very "
    "same vector as h_n/L{l}/fwd)",
    "c_n/L{l}": "final cell state of layer l, every direction concatenated (LSTM)",
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
_FINAL_CAT = re.compile(r"^(h_n|c_n)/L(\d+)$")
_GATE = re.compile(r"^gate/L(\d+)/(fwd|bwd)/([ifgorzn])(?:@(-?\d+))?$")
#: A site's name: a module role (``encoder``, ``layers.0``) and ``#k`` for its k-th call.
_SITE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*(?:#([2-9]|[1-9]\d+))?$")


def directions(count: int) -> tuple[str, ...]:
    """The direction names of a module with ``count`` directions: ``("fwd",)`` or both."""
    return DIRECTIONS[:count]


def _bad_name(name: str) -> ConfigError:
    return ConfigError(
        f"unknown state view {name!r}; valid forms: {', '.join(VIEW_CATALOGUE)} "
        "(e.g. hidden/L0/fwd@-1)"
    )


def _format(base: str, layer: int | None, direction: str | None, t: int | None,
            relative: bool, gate: str | None, site: str | None = None) -> str:
    if site is not None:
        return f"{site}:{_format(base, layer, direction, t, relative, gate)}"
    if base == OUTPUT:
        if t is None:
            return OUTPUT
        return OUTPUT_LAST if relative else f"{OUTPUT}@{t}"
    if layer is None:  # mean(output), max(output)
        return base
    name = f"{base}/L{layer}" + (f"/{direction}" if direction else "") + (
        f"/{gate}" if base == "gate" else "")
    return name if t is None else f"{name}@{t}"


@dataclass(frozen=True)
class ViewSpec:
    """A parsed view name.

    ``name`` is the name as written; ``str(spec)`` is its canonical form (the same for every
    name probe-rnn writes). ``base`` is one of ``output``, ``mean(output)``, ``max(output)``,
    ``h_n``, ``c_n``, ``hidden``, ``cell``, ``gate`` (``gate`` names the gate, e.g. ``"f"``,
    else None); ``layer``/``direction`` are None for output-based views (``direction`` is
    None too for ``h_n/L{l}``, every direction of the layer concatenated); ``t`` is the step
    (``output@last`` is ``t=-1, relative=True``, ``output@-1`` is ``t=-1, relative=False``);
    ``relative`` means counted from each row's own end; ``kind`` is ``"sentence"`` or
    ``"token"``; ``site`` is the site's name of a ``SITE:VIEW`` name (None without prefix).
    """

    name: str
    base: str
    layer: int | None = None
    direction: str | None = None
    t: int | None = None
    relative: bool = False
    gate: str | None = None
    site: str | None = None

    # -- reading and writing names ---------------------------------------------------------
    @classmethod
    def parse(cls, name: str) -> ViewSpec:
        """Parse a view name (``VIEW`` or ``SITE:VIEW``); unknown forms raise ConfigError
        listing the valid ones."""
        if not isinstance(name, str):
            raise _bad_name(repr(name))
        if ":" in name:
            site, _, rest = name.partition(":")
            if _SITE.match(site) is None:
                raise ConfigError(
                    f"state view {name!r} has no valid site before ':' (a module role such as "
                    "'encoder', with '#k' for its k-th call, e.g. 'encoder#2:output@last')")
            spec = cls._parse_bare(rest)
            return dataclasses.replace(spec, name=name, site=site)
        return cls._parse_bare(name)

    @classmethod
    def _parse_bare(cls, name: str) -> ViewSpec:
        if name == OUTPUT_LAST:
            return cls(name, OUTPUT, t=-1, relative=True)
        if name == OUTPUT_NAIVE_LAST:
            return cls(name, OUTPUT, t=-1, relative=False)
        if name in (MEAN_OUTPUT, MAX_OUTPUT, OUTPUT):
            return cls(name, name)
        cat = _FINAL_CAT.match(name)
        if cat is not None:  # both directions of a layer's final state, concatenated
            return cls(name, cat.group(1), int(cat.group(2)))
        g = _GATE.match(name)
        if g is not None:
            step = None if g.group(4) is None else int(g.group(4))
            return cls(name, "gate", int(g.group(1)), g.group(2), t=step,
                       relative=step is not None and step < 0, gate=g.group(3))
        m = _STATE.match(name)
        if m is None:
            raise _bad_name(name)
        base, layer, direction, t = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        if base in FINAL_BASES:
            if t is not None:
                raise _bad_name(name)
            return cls(name, base, layer, direction)
        if t is None:
            return cls(name, base, layer, direction)
        step = int(t)
        return cls(name, base, layer, direction, t=step, relative=step < 0)

    @classmethod
    def of(cls, base: str, layer: int | None = None, direction: str | None = None,
           t: int | None = None, gate: str | None = None, site: str | None = None
           ) -> ViewSpec:
        """The view built from its parts (``relative`` follows from ``t < 0``; for ``output``
        use the constants :data:`OUTPUT_LAST` / :data:`OUTPUT_NAIVE_LAST`)."""
        relative = t is not None and t < 0 and base != OUTPUT
        return cls(_format(base, layer, direction, t, relative, gate, site), base, layer,
                   direction, t, relative, gate, site)

    def __str__(self) -> str:
        return _format(self.base, self.layer, self.direction, self.t, self.relative, self.gate,
                       self.site)

    def with_site(self, site: str | None) -> ViewSpec:
        """The same view at another site (``None``: without prefix), name canonical."""
        spec = dataclasses.replace(self, site=site)
        return dataclasses.replace(spec, name=str(spec))

    @property
    def bare(self) -> str:
        """The name without its site prefix (``encoder#2:output@last`` -> ``output@last``),
        as written."""
        return self.name.partition(":")[2] if self.site is not None else self.name

    # -- what the view is ------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """``"token"`` for per-step views without ``@t``, else ``"sentence"``."""
        if self.base in ("hidden", "cell", "output", "gate") and self.t is None:
            return "token"
        return "sentence"

    @property
    def is_final(self) -> bool:
        """A final-state view: ``h_n/L{l}/{dir}`` or ``c_n/L{l}/{dir}``."""
        return self.base in FINAL_BASES

    @property
    def is_concatenated(self) -> bool:
        """A final-state view of every direction concatenated: ``h_n/L{l}``, ``c_n/L{l}``."""
        return self.is_final and self.direction is None

    @property
    def is_output(self) -> bool:
        """An ``output`` view: ``output``, ``output@last`` or ``output@-1``."""
        return self.base == OUTPUT

    @property
    def reads_step(self) -> bool:
        """One valid position of a per-token view: ``hidden``/``cell``/``gate`` with ``@t``,
        and ``output@last`` (not ``output@-1``, which reads the padded batch)."""
        return self.t is not None and (self.base != OUTPUT or self.relative)

    @property
    def direction_index(self) -> int | None:
        """0 for ``fwd``, 1 for ``bwd``, None for output-based views."""
        return None if self.direction is None else DIRECTIONS.index(self.direction)

    # -- related views ---------------------------------------------------------------------
    def without_step(self) -> ViewSpec:
        """The view with ``@t`` dropped: the per-token view an ``@t`` view is read from
        (``hidden/L0/fwd@3`` -> ``hidden/L0/fwd``, ``output@last`` -> ``output``); ``name``
        keeps the spelling of the original, before its ``@``. Views without a step: itself."""
        if self.t is None:
            return self
        return ViewSpec(self.name[:self.name.rindex("@")], self.base, self.layer,
                        self.direction, gate=self.gate, site=self.site)

    def at(self, t: int) -> ViewSpec:
        """The same per-step view at step ``t`` (``hidden/L0/fwd`` -> ``hidden/L0/fwd@t``)."""
        if self.base not in (*STEP_BASES, "gate"):
            raise ConfigError(f"state view {self.name!r} has no steps to read one of")
        return ViewSpec.of(self.base, self.layer, self.direction, t, self.gate, self.site)

    def at_layer(self, layer: int) -> ViewSpec:
        """The same view at another layer (output-based views have none: themselves)."""
        if self.layer is None:
            return self
        return ViewSpec(_format(self.base, layer, self.direction, self.t, self.relative,
                                self.gate, self.site), self.base, layer, self.direction, self.t,
                        self.relative, self.gate, self.site)


def parse_view(name: str) -> ViewSpec:
    """Parse a view name into a :class:`ViewSpec`; unknown forms raise ConfigError."""
    return ViewSpec.parse(name)


def site_view(site: str | None, view: str) -> str:
    """``SITE:VIEW`` (``site_view("encoder#2", "output@last")``); ``view`` itself when
    ``site`` is None (a model with one site)."""
    return view if site is None else str(ViewSpec.parse(view).with_site(site))


def view_site(name: str) -> tuple[str | None, str]:
    """``(site, bare view)`` of a view name: ``("encoder", "h_n/L0/fwd")`` for
    ``encoder:h_n/L0/fwd``, ``(None, name)`` without prefix."""
    spec = ViewSpec.parse(name)
    return spec.site, spec.bare


def try_parse(name: object) -> ViewSpec | None:
    """:meth:`ViewSpec.parse`, or None for a name outside the grammar."""
    try:
        return ViewSpec.parse(name)  # type: ignore[arg-type]
    except ConfigError:
        return None


def state_view(base: str, layer: int, direction: str, t: int | None = None,
               gate: str | None = None) -> str:
    """The name of a layer's view: ``state_view("h_n", 1, "bwd")`` -> ``h_n/L1/bwd``,
    ``state_view("hidden", 0, "fwd", t=-1)`` -> ``hidden/L0/fwd@-1``,
    ``state_view("gate", 0, "fwd", gate="f")`` -> ``gate/L0/fwd/f``."""
    return str(ViewSpec.of(base, layer, direction, t, gate))


def state_views(base: str, layers: Iterable[int], directions: int,
                gates: Iterable[str] = ()) -> list[str]:
    """``base`` views of every layer in ``layers`` and the first ``directions`` directions,
    layer-major (``h_n/L0/fwd, h_n/L0/bwd, h_n/L1/fwd, ...``); for ``base="gate"``, one per
    gate in ``gates`` within each direction."""
    dirs = DIRECTIONS[:directions]
    if base == "gate":
        gates = tuple(gates)
        return [state_view(base, layer, d, gate=g) for layer in layers for d in dirs
                for g in gates]
    return [state_view(base, layer, d) for layer in layers for d in dirs]


def final_view(base: str, layer: int) -> str:
    """The final state of one layer, every direction concatenated (fwd then bwd):
    ``final_view("h_n", 1)`` -> ``h_n/L1``."""
    return str(ViewSpec.of(base, layer))


# -- RNN kinds -------------------------------------------------------------------------------
#: ``ModelConfig.rnn`` spellings: ``rnn`` is ``nn.RNN`` with tanh, ``rnn-relu`` with ReLU
#: (:data:`probe_rnn.models.config.RNN_TYPES`).
RNN_TYPES = ("lstm", "gru", "rnn", "rnn-relu")
#: The kind of a fused recurrent module in captured states
#: (:func:`probe_rnn.models.recurrent.module_kind`).
MODULE_KINDS = ("lstm", "gru", "rnn-tanh", "rnn-relu")
#: Cells looped by the model (``nn.LSTMCell`` ...) -> the fused kind whose cell they are.
CELL_KINDS: dict[str, str] = {"lstm-cell": "lstm", "gru-cell": "gru", "rnn-cell": "rnn"}
#: ``ModelConfig.rnn`` -> the kind its module has in captured states, and back.
MODULE_KIND_OF: dict[str, str] = {"lstm": "lstm", "gru": "gru", "rnn": "rnn-tanh",
                                  "rnn-relu": "rnn-relu"}
RNN_TYPE_OF: dict[str, str] = {kind: rnn for rnn, kind in MODULE_KIND_OF.items()}
#: Gate names per module kind, in PyTorch's order of the rows of ``weight_ih``.
GATE_NAMES: dict[str, tuple[str, ...]] = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


def gate_names(kind: str) -> tuple[str, ...]:
    """The gates a module kind has views of (empty for ``nn.RNN`` and cell loops)."""
    return GATE_NAMES.get(kind, ())


def has_cell_state(kind: str) -> bool:
    """Whether modules of that kind (``lstm``, ``lstm-cell``) have a cell state ``c``."""
    return kind in ("lstm", "lstm-cell")


def looped_kind(kind: str) -> str | None:
    """``"lstm"`` for ``"lstm-cell"`` (a cell looped by the model), ...; None otherwise."""
    return CELL_KINDS.get(kind)


# -- readouts --------------------------------------------------------------------------------
#: ``ModelConfig.readout``: what the classifier head reads
#: (:data:`probe_rnn.models.config.READOUTS`).
READOUTS = ("last", "hidden", "mean", "max", "naive-last")
#: The view a model's own readout reads, by ``ModelConfig.readout`` (``hidden`` reads the top
#: layer's ``h_n``, every direction concatenated: :func:`readout_views`).
READOUT_VIEWS: dict[str, str] = {"last": OUTPUT_LAST, "mean": MEAN_OUTPUT, "max": MAX_OUTPUT,
                                 "naive-last": OUTPUT_NAIVE_LAST}


def readout_views(readout: str, layers: int, directions: int) -> tuple[str, ...]:
    """The views a readout reads in a model of that shape, concatenated in this order
    (``hidden``: ``h_n/L{top}/fwd`` and, bidirectional, ``h_n/L{top}/bwd``)."""
    if readout == "hidden":
        return tuple(state_views("h_n", [layers - 1], directions))
    if readout in READOUT_VIEWS:
        return (READOUT_VIEWS[readout],)
    raise ConfigError(f"unknown readout {readout!r}; valid: {', '.join(READOUTS)}")
