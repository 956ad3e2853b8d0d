"""Parameter constraints as data, and the one check that applies them.

In the manner of scikit-learn's ``_parameter_constraints`` / ``validate_params``: each public
function or object of probe-rnn declares a table ``{parameter: constraint}`` and calls
:func:`validate_params` on its arguments before any work. A constraint is one of the kinds below
(or ``None``: the value None is allowed; or a list of them: any of them is allowed). A refused
value raises :class:`~probe_rnn.errors.ParameterError` carrying ``(parameter, allowed, got)``,
which the library shows as ``{parameter} must be {allowed}, got {got}`` and the CLI as the same
line with its option's name; no caller parses message text.

Kinds: :class:`Interval` (integers or reals between bounds, each closed or open),
:class:`Options` (one of a set), :class:`Boolean`, :class:`Names` (a list of names; a bare string
is refused with "pass [...]", split at its commas), :class:`Items` (a list of other things),
:class:`Instance` (a value of given types), :class:`PathLike`.
scikit-learn's own ``check_scalar`` is not used: this is a foundation module (it imports only
the errors, the standard library and numpy), and its messages have another shape.

Each constraint can also make values it refuses (:meth:`Constraint.invalid`) and the valid
values at its edges (:meth:`Constraint.boundary`), so one test walks every table.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from probe_rnn.errors import ParameterError

#: The largest seed every stage accepts (numpy's ``RandomState``, hence scikit-learn's
#: ``random_state``, take seeds in ``[0, 2**32)``).
MAX_SEED = 2**32 - 1
_SHOWN = 80  # characters of a refused value shown in a message


def shown(value: Any) -> str:
    """``repr(value)``, shortened to one line of at most 80 characters."""
    text = " ".join(repr(value).split())
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


class Constraint:
    """What one parameter accepts: :meth:`accepts` decides, :attr:`allowed` says it in words."""

    allowed: str = ""

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` satisfies the constraint."""
        raise NotImplementedError

    def hint(self, value: Any) -> str:
        """The fix for a refused ``value`` when :attr:`allowed` alone does not say it."""
        return ""

    def invalid(self) -> list[Any]:
        """Values the constraint refuses (for tests)."""
        return [object()]

    def boundary(self) -> list[Any]:
        """Valid values at the constraint's edges (for tests)."""
        raise NotImplementedError


class NoneValue(Constraint):
    """The value None (written ``None`` in a table)."""

    allowed = "None"

    def accepts(self, value: Any) -> bool:
        return value is None

    def invalid(self) -> list[Any]:
        return [object()]

    def boundary(self) -> list[Any]:
        return [None]


_KINDS: dict[type, tuple[tuple[type, ...], str]] = {
    int: ((int,), "an integer"),
    numbers.Integral: ((numbers.Integral,), "an integer"),
    float: ((int, float), "a number"),
    numbers.Real: ((numbers.Real,), "a number"),
}


class Interval(Constraint):
    """A number between ``left`` and ``right`` (None: unbounded), like scikit-learn's.

    Parameters
    ----------
    kind : {int, numbers.Integral, float, numbers.Real}
        ``int``: Python integers; ``Integral``: numpy's too; ``float``: Python ints and floats;
        ``Real``: any real number. Booleans, NaN and infinities are never accepted.
    left, right : number, optional
        The bounds.
    closed : {"both", "left", "right", "neither"}
        Which bounds belong to the interval.
    allowed : str, optional
        The words shown instead of the generated ones (``an integer >= 2``).
    """

    def __init__(self, kind: type, left: float | None, right: float | None,
                 closed: str = "both", allowed: str | None = None) -> None:
        if kind not in _KINDS or closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"Interval of {kind!r}, closed={closed!r}: use int, Integral, "
                             "float or Real, closed both/left/right/neither")
        self.kind, self.left, self.right, self.closed = kind, left, right, closed
        self.allowed = allowed or self._words()

    def _words(self) -> str:
        noun = _KINDS[self.kind][1]
        low = self.closed in ("both", "left")
        high = self.closed in ("both", "right")
        if self.left is not None and self.right is not None:
            if low and high:
                return f"{noun} from {self.left} to {self.right}"
            return f"{noun} in {'[' if low else '('}{self.left}, {self.right}{']' if high else ')'}"
        if self.left is not None:
            return f"{noun} {'>=' if low else '>'} {self.left}"
        if self.right is not None:
            return f"{noun} {'<=' if high else '<'} {self.right}"
        return noun

    def accepts(self, value: Any) -> bool:
        types = _KINDS[self.kind][0]
        if isinstance(value, bool | np.bool_) or not isinstance(value, types):
            return False
        if isinstance(value, numbers.Real) and not math.isfinite(value):
            return False
        low = self.left is None or (value >= self.left if self.closed in ("both", "left")
                                    else value > self.left)
        high = self.right is None or (value <= self.right if self.closed in ("both", "right")
                                      else value < self.right)
        return bool(low and high)

    def invalid(self) -> list[Any]:
        whole = self.kind in (int, numbers.Integral)
        step = 1 if whole else 0.5
        out: list[Any] = ["1", True, float("nan"), float("inf")]
        out += [0.5] if whole else []
        if self.left is not None:
            out.append(self.left if self.closed in ("right", "neither") else self.left - step)
        if self.right is not None:
            out.append(self.right if self.closed in ("left", "neither") else self.right + step)
        return out

    def boundary(self) -> list[Any]:
        whole = self.kind in (int, numbers.Integral)
        tiny = 1 if whole else 1e-9
        out = []
        if self.left is not None:
            out.append(self.left if self.closed in ("both", "left") else self.left + tiny)
        if self.right is not None:
            out.append(self.right if self.closed in ("both", "right") else self.right - tiny)
        return out or [0]


class Options(Constraint):
    """One of a set of values (compared with ``==``, of the same type)."""

    def __init__(self, values: Iterable[Any], allowed: str | None = None) -> None:
        self.values = tuple(values)
        self.allowed = allowed or "one of " + ", ".join(shown(v) for v in self.values)

    def accepts(self, value: Any) -> bool:
        return any(type(value) is type(v) and value == v for v in self.values)

    def invalid(self) -> list[Any]:
        return ["not-" + "-".join(map(str, self.values)), 3.5]

    def boundary(self) -> list[Any]:
        return list(self.values)


class Boolean(Constraint):
    """``True`` or ``False`` (not 0/1, not a string)."""

    allowed = "True or False"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def invalid(self) -> list[Any]:
        return ["no", 1, None]

    def boundary(self) -> list[Any]:
        return [True, False]


class Items(Constraint):
    """A list (or tuple, array, any non-string iterable) whose items are all ``kinds``.

    A bare string is refused with the fix ``pass ['...']``; ``min_items`` 1 refuses an empty
    list. ``noun`` says what the items are (``names (str)``); ``example`` is one valid item;
    ``odd_hint`` is the fix shown for an item of another kind.
    """

    def __init__(self, kinds: type | tuple[type, ...] | None, noun: str, example: Any,
                 min_items: int = 0, odd_hint: str = "") -> None:
        self.kinds, self.noun, self.min_items, self.example = kinds, noun, min_items, example
        self.odd_hint = odd_hint
        self.allowed = f"a {'non-empty ' if min_items else ''}list of {noun}"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable) \
                or iter(value) is value:  # a one-shot iterator would be used up here
            return False
        items = value.tolist() if isinstance(value, np.ndarray) else list(value)
        return len(items) >= self.min_items and (self.kinds is None or self._each(items))

    def _each(self, items: Iterable[Any]) -> bool:
        return all(isinstance(v, self.kinds) and not isinstance(v, bool)  # type: ignore[arg-type]
                   for v in items)

    def hint(self, value: Any) -> str:
        if isinstance(value, str):  # "a,b" is the command line's way: the list is split
            names = [v.strip() for v in value.split(",") if v.strip()]
            return f"pass {names!r}" if len(names) > 1 else f"pass [{value!r}]"
        if self.odd_hint and isinstance(value, list | tuple):
            odd = next((v for v in value if not self._each([v])), None)
            return f"the item {shown(odd)} is not: {self.odd_hint}" if odd is not None else ""
        return ""

    def invalid(self) -> list[Any]:
        out: list[Any] = [str(self.example), 3]
        if self.kinds is not None:
            out.append([self.example, 3.5])
        if self.min_items:
            out.append([])
        return out

    def boundary(self) -> list[Any]:
        return [[self.example] * max(1, self.min_items), (self.example,) * max(1, self.min_items)]


class Names(Items):
    """A list of names (str), e.g. ``["label", "length"]``."""

    def __init__(self, noun: str = "names (str)", min_items: int = 0, example: str = "label",
                 odd_hint: str = "") -> None:
        super().__init__(str, noun, example, min_items, odd_hint)


class Instance(Constraint):
    """A value of one of ``types`` (not a bool, unless ``bool`` is one of them)."""

    def __init__(self, types: type | tuple[type, ...], allowed: str, example: Any) -> None:
        self.types, self.allowed, self.example = types, allowed, example

    def accepts(self, value: Any) -> bool:
        types = self.types if isinstance(self.types, tuple) else (self.types,)
        return isinstance(value, types) and (bool in types or not isinstance(value, bool))

    def invalid(self) -> list[Any]:
        return [v for v in (3.5, ["x"], b"x") if not self.accepts(v)]

    def boundary(self) -> list[Any]:
        return [self.example]


class PathLike(Constraint):
    """A path: a ``str`` or an ``os.PathLike`` (``pathlib.Path``)."""

    allowed = "a path (str or pathlib.Path)"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str | os.PathLike)

    def invalid(self) -> list[Any]:
        return [3, ["a"]]

    def boundary(self) -> list[Any]:
        return ["out", Path("out")]


class AnyOf(Constraint):
    """Any of several constraints (a list in a table); ``allowed`` replaces the joined words."""

    def __init__(self, *constraints: Any, allowed: str | None = None) -> None:
        self.constraints = [as_constraint(c) for c in constraints]
        self.allowed = allowed or " or ".join(c.allowed for c in self.constraints)

    def accepts(self, value: Any) -> bool:
        return any(c.accepts(value) for c in self.constraints)

    def hint(self, value: Any) -> str:
        return next((h for c in self.constraints if (h := c.hint(value))), "")

    def invalid(self) -> list[Any]:
        return [v for c in self.constraints for v in c.invalid() if not self.accepts(v)]

    def boundary(self) -> list[Any]:
        return [v for c in self.constraints for v in c.boundary()]


ConstraintLike = Constraint | None | Sequence[Any]


def as_constraint(spec: ConstraintLike) -> Constraint:
    """A table's entry as a constraint: ``None`` allows None, a list allows any of its items."""
    if spec is None:
        return NoneValue()
    if isinstance(spec, Constraint):
        return spec
    if isinstance(spec, list | tuple):
        return AnyOf(*spec)
    raise TypeError(f"not a constraint: {spec!r}")


def check_param(name: str, value: Any, spec: ConstraintLike) -> None:
    """Raise :class:`ParameterError` naming ``name`` unless ``value`` satisfies ``spec``."""
    constraint = as_constraint(spec)
    if not constraint.accepts(value):
        raise ParameterError(name, constraint.allowed, shown(value), constraint.hint(value))


def validate_params(constraints: Mapping[str, ConstraintLike], params: Mapping[str, Any]) -> None:
    """Check every parameter of ``params`` that ``constraints`` names, in the table's order;
    the first refused value raises :class:`ParameterError` (``parameter``, ``allowed``, ``got``).
    """
    for name, spec in constraints.items():
        if name in params:
            check_param(name, params[name], spec)


#: The seeds every stage accepts (numpy's ``RandomState`` takes ``[0, 2**32)``).
SEED = Interval(int, 0, MAX_SEED, allowed=f"an integer from 0 to {MAX_SEED} (2**32 - 1)")
#: Parallel processes: a positive count, or -1 (and below) counted back from all cores.
JOBS = AnyOf(Interval(int, None, -1), Interval(int, 1, None),
             allowed="a non-zero integer (-1 = all cores)")
#: Seconds a probing cell may run (None or 0: no limit); the one rule
#: :class:`~probe_rnn.run.settings.RunSettings` and :func:`~probe_rnn.probing.runner.run_probes`
#: check ``cell_timeout`` against.
CELL_TIMEOUT = AnyOf(None, Interval(float, 0, None),
                     allowed="a positive number of seconds (0 = no limit)")


def check_seed(seed: Any, name: str = "seed") -> None:
    """Raise :class:`ParameterError` unless ``seed`` is an integer in ``[0, 2**32)``, the seeds
    every stage accepts (checked up front, so no run fails late for its seed)."""
    check_param(name, seed, SEED)
