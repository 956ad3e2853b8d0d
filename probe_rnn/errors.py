"""Exception hierarchy of probe-rnn.

Every error a user can cause is a :class:`ProbeRnnError` whose message is one line that names
the problem and the fix. Each subclass also subclasses the matching builtin, so code that
catches ``ValueError`` or ``FileNotFoundError`` keeps working. The CLI prints
``error: <message>`` and exits with code 2 (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Mention:
    """A library parameter named in a message, with the value the message suggests.

    ``str()`` is the library's spelling: ``Mention("vocab", "FILE")`` is ``vocab=FILE``,
    ``Mention("trust_checkpoint", "True")`` is ``trust_checkpoint=True`` and a bare
    ``Mention("layout")`` is ``layout=``. A front end says its own words for it
    (:meth:`ProbeRnnError.render`): the CLI writes ``--vocab FILE``, ``--trust-checkpoint``,
    ``--layout``.
    """

    parameter: str
    value: str | None = None

    def __str__(self) -> str:
        return f"{self.parameter}={'' if self.value is None else self.value}"


#: A message part: plain text, or a parameter it mentions.
Part = str | Mention

#: A front end's words for a mention (``Mention("vocab", "FILE")`` -> ``"--vocab FILE"``), or
#: None where it has none (the library's ``vocab=FILE`` is kept).
Words = Callable[[Mention], str | None]


def render(parts: Iterable[object], words: Words | None = None) -> str:
    """The text of ``parts``: each :class:`Mention` in ``words`` (default: the library's
    ``name=value``), anything else as ``str()`` gives it."""
    return "".join((words(part) if words is not None and isinstance(part, Mention) else None)
                   or str(part) for part in parts)


def listed(names: Iterable[str]) -> list[Part]:
    """Bare mentions of ``names``, comma-separated (``tokenizer=, pad_id=``)."""
    parts: list[Part] = []
    for i, name in enumerate(names):
        parts += [", ", Mention(name)] if i else [Mention(name)]
    return parts


def parts_to_json(parts: Iterable[Part]) -> list[Any]:
    """``parts`` as JSON values: text as strings, a mention as ``[parameter, value]``."""
    return [part if isinstance(part, str) else [part.parameter, part.value] for part in parts]


def parts_from_json(values: Iterable[Any]) -> tuple[Part, ...]:
    """The parts :func:`parts_to_json` wrote."""
    return tuple(v if isinstance(v, str) else Mention(str(v[0]), None if v[1] is None
                                                      else str(v[1])) for v in values)


class ProbeRnnError(Exception):
    """Base class: an error the user can fix; the message says how.

    The message is built from parts: text, and :class:`Mention` for each parameter it names
    (``ConfigError("pass ", Mention("vocab", "FILE"), " (the vocabulary)")``). ``str()``
    speaks of the library's parameters (``pass vocab=FILE``); :meth:`render` lets a front end
    say its own (the CLI: ``pass --vocab FILE``) with no parsing of the text. A value outside
    what a parameter accepts is a :class:`ParameterError`, whose fields the front end renders.

    Attributes
    ----------
    parts : tuple of str and Mention
        The message's parts, in order (anything else is shown as ``str()`` gives it).
    """

    exit_code = 2

    def __init__(self, *parts: object) -> None:
        self.parts = tuple(parts)
        super().__init__(render(self.parts))

    @property
    def parameters(self) -> tuple[str, ...]:
        """The parameters the message mentions, in order, each once."""
        return tuple(dict.fromkeys(p.parameter for p in self.parts if isinstance(p, Mention)))

    def render(self, words: Words | None = None) -> str:
        """The message with each mention in ``words`` (default: as ``str()``)."""
        return render(self.parts, words)

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its parts (a worker's error crosses the process boundary pickled)
        return type(self), self.parts, self.__dict__


class InputFileError(ProbeRnnError, FileNotFoundError):
    """A file or folder the user named does not exist or cannot be read."""


class DataError(ProbeRnnError, ValueError):
    """A table or dataset cannot be used as given (columns, labels, encoding, emptiness)."""


class CheckpointError(ProbeRnnError, ValueError):
    """A checkpoint is unreadable, truncated, of another format or inconsistent."""


class ModelCallError(ProbeRnnError, RuntimeError):
    """The user's model could not be called with what probe-rnn gave it (names its forward)."""


class UntrustedCheckpointError(CheckpointError):
    """A checkpoint holds a pickled object whose loading would run code."""


class ConfigError(ProbeRnnError, ValueError):
    """A parameter has a value outside its allowed set or range."""


def parameter_message(parameter: str, allowed: str, got: str, hint: str = "") -> str:
    """The one line every refused parameter value is shown as:
    ``{parameter} must be {allowed}, got {got}`` (``: {hint}`` after it when there is one).
    The CLI passes its option's name (``--cell-timeout``) as ``parameter``."""
    return f"{parameter} must be {allowed}, got {got}" + (f": {hint}" if hint else "")


class ParameterError(ConfigError):
    """A parameter's value is outside what its constraint allows
    (:mod:`probe_rnn.validation`).

    Attributes
    ----------
    parameter : str
        The parameter's name in the library (``cell_timeout``).
    allowed : str
        What it accepts, in words (``a positive number of seconds (0 = no limit)``).
    got : str
        What it received, as ``repr`` text (shortened when long).
    hint : str
        The fix when the allowed values alone do not say it (``pass ['label']``), else "".
    """

    def __init__(self, parameter: str, allowed: str, got: str, hint: str = "") -> None:
        super().__init__(parameter_message(parameter, allowed, got, hint))
        self.parameter, self.allowed, self.got, self.hint = parameter, allowed, got, hint

    @property
    def parameters(self) -> tuple[str, ...]:
        """The one parameter refused."""
        return (self.parameter,)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.parameter, self.allowed, self.got, self.hint)

    def render(self, words: Words | None = None) -> str:
        """The message with the parameter in ``words`` (its bare mention: the CLI's
        ``--cell-timeout``), else its library name."""
        name = words(Mention(self.parameter)) if words is not None else None
        return parameter_message(name or self.parameter, self.allowed, self.got, self.hint)


class CaptureError(ProbeRnnError, RuntimeError):
    """States cannot be captured from the given model or modules."""


class CaptureMismatchError(CaptureError):
    """Recomputed states disagree with the fused kernel's own results."""


class StorageRangeError(CaptureError):
    """Captured states lie beyond the range of the storage dtype (float16)."""


class StoreError(ProbeRnnError, RuntimeError):
    """A state store on disk is missing, incomplete or inconsistent."""


class PluginError(ProbeRnnError, LookupError):
    """A plugin name is unknown or a plugin cannot be used."""


class ProbeOutputError(PluginError, ValueError):
    """A probe returned something that is not a valid prediction (NaN or non-probabilities)."""


class AttributionError(ProbeRnnError, RuntimeError):
    """An attribution cannot be computed as asked."""


class NoTargetError(AttributionError):
    """The model returns nothing attribution can explain (an encoder's states, a pair score of
    two texts): the attribution is skipped, with this as its note."""


class ReportError(ProbeRnnError, RuntimeError):
    """A report cannot be built from the given run folder."""


class WorkLostError(ProbeRnnError, RuntimeError):
    """The processes running the work went away (a worker died, the scheduler was lost);
    finished work is kept where the message says."""
