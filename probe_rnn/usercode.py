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
- :func:`import_object` is the one import-by-string: ``"package.module:name"``,
  ``"package.module.name"`` or ``"path/file.py:name"`` (:func:`import_file` runs a file as a
  module, as the plugin folders do; :func:`import_module` a module), exits contained, failures
  typed so that each caller words its own message.
- :func:`code_identity` is what decides a plugin's behaviour: its file's content hash (or its
  distribution's version), so a journal never reuses cells computed by other code.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, packages_distributions, version
from pathlib import Path
from types import ModuleType
from typing import Any

from probe_rnn.hashing import file_sha256, short_id


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


class UserImportError(ImportError):
    """Importing a user's module or file failed: ``cause`` is what its code (or the import
    system) raised, ``what`` the module or file named."""

    def __init__(self, what: str, cause: BaseException) -> None:
        super().__init__(f"importing {what} {did(cause)}")
        self.what, self.cause = what, cause


def names_file(module: str) -> bool:
    """``path/file.py`` (a file to import) rather than ``package.module``."""
    return module.endswith(".py") or "/" in module or "\\" in module


def split_import_path(spec: str) -> tuple[str, str, bool]:
    """``(module or file, attribute, is a file)`` of ``"package.module:attr"``,
    ``"package.module.attr"`` or ``"path/file.py:attr"`` (ValueError when it is none)."""
    if not isinstance(spec, str):
        raise ValueError(f"{spec!r} is not an import path")
    module, sep, attr = spec.rpartition(":") if ":" in spec else spec.rpartition(".")
    is_file = sep == ":" and names_file(module)
    if not module or not attr.isidentifier():
        raise ValueError(f"{spec!r} is not an import path: give package.module:name, "
                         "package.module.name or path/file.py:name")
    return module, attr, is_file


def _on_path(folder: Path, first: bool = True) -> None:
    """Put ``folder`` on ``sys.path`` (once; first, or last so installed packages still win)."""
    entry = str(folder)
    if entry not in sys.path:
        sys.path.insert(0 if first else len(sys.path), entry)


def import_file(path: Path, prefix: str, *, key: str | None = None,
                on_path: bool = False) -> ModuleType:
    """Run a Python file as the module ``{prefix}_{stem}_{short id of key}`` (``key``: the
    path as given unless told), exits contained; ``on_path`` puts its folder first on
    ``sys.path`` so it imports the modules beside it.

    FileNotFoundError when there is no such file, ImportError when it is no Python module,
    :class:`UserImportError` when its code raises or exits (the module is then forgotten).
    """
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} does not exist")
    name = f"{prefix}_{path.stem}_{short_id(str(path) if key is None else key)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{str(path)!r} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    if on_path:
        _on_path(path.resolve().parent)
    sys.modules[name] = module
    try:
        with exits_contained():
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # the user's file may do anything
        sys.modules.pop(name, None)
        raise UserImportError(str(path), exc) from exc
    return module


def import_module(name: str, *, on_path: bool = False) -> ModuleType:
    """``importlib.import_module(name)`` with exits contained (:class:`UserImportError` when
    it fails); ``on_path`` looks in the current folder too, last, as ``python -m`` would."""
    if on_path:
        _on_path(Path.cwd(), first=False)
    try:
        with exits_contained():
            return importlib.import_module(name)
    except (Exception, SystemExit) as exc:  # importing a user's module runs its code
        raise UserImportError(name, exc) from exc


def failure_type(exc: BaseException) -> str:
    """The name of what went wrong in an import: the type of what a failed import raised
    (``ModuleNotFoundError``), what it did when it exited (``called sys.exit(2)``)."""
    cause = exc.cause if isinstance(exc, UserImportError) else exc
    return did(cause) if isinstance(cause, SystemExit) else type(cause).__name__


def import_object(spec: str, *, prefix: str = "probe_rnn_user", on_path: bool = False) -> Any:
    """The object ``"package.module:attr"``, ``"package.module.attr"`` or
    ``"path/file.py:attr"`` names (a file is run by :func:`import_file` under ``prefix`` and
    keyed by its absolute path).

    Raises ValueError (no import path), FileNotFoundError / ImportError (no such file, no
    Python file), :class:`UserImportError` (the import failed or exited: see its ``cause``)
    and AttributeError (the module has no such name); each caller words its own message.
    """
    module_name, attr, is_file = split_import_path(spec)
    if is_file:
        path = Path(module_name)
        module = import_file(path, prefix, key=str(path.resolve()), on_path=on_path)
    else:
        module = import_module(module_name, on_path=on_path)
    if not hasattr(module, attr):
        raise AttributeError(f"module {module_name!r} has no attribute {attr!r}")
    return getattr(module, attr)


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
            f"({failure_type(exc)}): use a name from `probe-rnn plugins` or "
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

