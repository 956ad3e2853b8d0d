"""User code contained: plugins, tasks and model factories that exit, and what their code is.

probe-rnn runs code it did not write: plugin probes and tasks, model factories, import paths
given on the command line. Such code may call ``sys.exit()`` (a :class:`SystemExit`, which
``except Exception`` lets through and which would end probe-rnn with the plugin's exit code and
no word) or ``os._exit()`` (which ends the process at once, skipping every handler).

- :func:`did` says in words what a failure was (``called sys.exit(3)``, ``raised ValueError: x``).
- :func:`exits_contained` turns ``os._exit`` inside user code into :class:`ProcessExitCalled`
  (a :class:`SystemExit`) while the block runs, so the caller can name it like any other
  failure; code that binds ``os._exit`` before the block, or exits from compiled code, still
  ends its process, which the runner then detects as a worker that died.
- :func:`exit_site` is the ``file:line`` that raised an exception (its last traceback frame).
- :func:`code_identity` is what decides a plugin's behaviour: its file's content hash (or its
  distribution's version), so a journal never reuses cells computed by other code.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import sys
import threading
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, packages_distributions, version
from typing import Any

from probe_rnn.hashing import file_sha256

__all__ = ["ProcessExitCalled", "did", "exits_contained", "exit_site", "code_identity",
           "import_object", "imported_task", "built_task"]


class ProcessExitCalled(SystemExit):
    """User code called ``os._exit(code)`` inside :func:`exits_contained`."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.exit_code = code


def did(exc: BaseException) -> str:
    """What user code did, in words: ``called os._exit(3)``, ``called sys.exit(0)``,
    ``raised ValueError: bad``."""
    if isinstance(exc, ProcessExitCalled):
        return f"called os._exit({exc.exit_code})"
    if isinstance(exc, SystemExit):
        code = "" if exc.code is None else repr(exc.code) if isinstance(exc.code, str) \
            else str(exc.code)
        return f"called sys.exit({code})"
    text = " ".join(str(exc).split())
    return f"raised {type(exc).__name__}: {text or 'no message'}"


@contextlib.contextmanager
def exits_contained() -> Iterator[None]:
    """While the block runs (in the main thread only, where the swap cannot race another
    thread's own use), ``os._exit(n)`` raises :class:`ProcessExitCalled` instead of ending
    the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    real = os._exit

    def refuse(code: int) -> None:
        raise ProcessExitCalled(code)

    os._exit = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        os._exit = real


def exit_site(exc: BaseException) -> str:
    """``file:line`` of the frame that raised ``exc`` (its traceback's last), or ``""``."""
    tb = exc.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"


def import_object(path: str) -> Any:
    """The object an import path ``package.module.name`` names (ImportError/AttributeError/
    ValueError when it names nothing; code run at import that exits is a RuntimeError)."""
    module, _, attr = path.rpartition(".")
    if not module:
        raise ValueError(f"{path!r} is not an import path")
    try:
        return getattr(importlib.import_module(module), attr)
    except SystemExit as exc:
        raise RuntimeError(f"importing {module} {did(exc)}") from None


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return dict(packages_distributions())


def code_identity(obj: Any) -> dict[str, str]:
    """``{where: digest}`` of the code defining ``obj`` (a class, function or instance), empty
    for probe-rnn's own (covered by its version) and for what has no source file.

    ``where`` is the file for a plugin file and ``module (distribution version)`` for an
    installed package; the digest is the sha256 of the module file's bytes, so an edited
    editable install or plugin file changes it even when no version does.
    """
    target = obj if isinstance(obj, type) or callable(obj) else type(obj)
    name = getattr(target, "__module__", "") or ""
    if not name or name == "builtins" or name.split(".")[0] == "probe_rnn":
        return {}
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if not path:
        return {}
    try:
        digest = file_sha256(path)[:16]
    except OSError:
        return {}
    if name.startswith("probe_rnn_plugin_"):
        return {path: digest}
    top = name.split(".")[0]
    dists = _distributions().get(top, [])
    try:
        where = f"{name} ({dists[0]} {version(dists[0])})" if dists else name
    except PackageNotFoundError:
        where = name
    return {where: digest}


def imported_task(path: str) -> Any:
    """The task class (or instance) an import path names, checked to be one (it has
    ``targets``) before anything is called; :func:`~probe_rnn.probing.tasks.get_task` checks
    the rest of the contract."""
    from probe_rnn.errors import ConfigError

    try:
        obj = import_object(path)
    except Exception as exc:  # noqa: BLE001 - importing a user's module runs its code
        raise ConfigError(
            f"task {path!r} is neither a registered task nor an importable Task class "
            f"({type(exc).__name__}): use a name from `probe-rnn plugins` or "
            "'package.module.TaskClass'"
        ) from None
    if not hasattr(obj, "targets") or not (isinstance(obj, type) or not callable(obj)):
        what = f"the {type(obj).__name__} {getattr(obj, '__qualname__', '')}".rstrip()
        raise ConfigError(f"task {path!r} is {what}, not a Task: give a subclass of "
                          "probe_rnn.probing.tasks.Task or a name from `probe-rnn plugins`")
    return obj


def built_task(name: Any, cls: type) -> Any:
    """``cls()``; a constructor that raises or exits is a one-line error naming the task."""
    from probe_rnn.errors import ConfigError

    try:
        return cls()
    except (Exception, SystemExit) as exc:  # a plugin's constructor may do anything
        where = getattr(cls, "__module__", "")
        source = getattr(sys.modules.get(where), "__file__", None) or where
        raise ConfigError(f"task {name!r} (from {source}) could not be built: its constructor "
                          f"{did(exc)}; fix its __init__") from None

