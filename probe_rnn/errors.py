"""Exception hierarchy of probe-rnn.

Every error a user can cause is a :class:`ProbeRnnError` whose message is one line that names
the problem and the fix. Each subclass also subclasses the matching builtin, so code that
catches ``ValueError`` or ``FileNotFoundError`` keeps working. The CLI prints
``error: <message>`` and exits with code 2 (``--debug`` shows the traceback instead).
"""

from __future__ import annotations


class ProbeRnnError(Exception):
    """Base class: an error the user can fix; the message says how.

    Messages speak of the library's parameters, written as ``name=value`` or ``name=``
    (``pass vocab=FILE``, ``pass trust_checkpoint=True``, ``leave layout= out``);
    ``parameter`` names those a message mentions, so the command line can say its own options
    instead (``--vocab FILE``, ``--trust-checkpoint``, ``--layout``). A value outside what
    a parameter accepts is a :class:`ParameterError`, whose fields the command line renders.
    """

    exit_code = 2

    def __init__(self, *args: object, parameter: str | tuple[str, ...] = ()) -> None:
        super().__init__(*args)
        self.parameters = (parameter,) if isinstance(parameter, str) else tuple(parameter)


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
        super().__init__(parameter_message(parameter, allowed, got, hint), parameter=parameter)
        self.parameter, self.allowed, self.got, self.hint = parameter, allowed, got, hint

    def __reduce__(self) -> tuple[type, tuple[str, str, str, str]]:
        return type(self), (self.parameter, self.allowed, self.got, self.hint)

    def render(self, name: str | None = None) -> str:
        """The message with the parameter written as ``name`` (default: its library name)."""
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


class ReportError(ProbeRnnError, RuntimeError):
    """A report cannot be built from the given run folder."""


class WorkLostError(ProbeRnnError, RuntimeError):
    """The processes running the work went away (a worker died, the scheduler was lost);
    finished work is kept where the message says."""
