"""One registry for probes, tasks, model adapters and interventions.

Lookup order follows xarray's plugin loader: built-ins first, then entry points (groups
``probe_rnn.probes``, ``probe_rnn.tasks``, ``probe_rnn.adapters``,
``probe_rnn.interventions``), then Python files in plugin
folders (``--plugins DIR`` and ``./probes`` when it exists). A plugin that fails to import
becomes a warning naming it; a duplicate name warns and keeps the first; an unknown name raises
:class:`~probe_rnn.errors.PluginError` listing the valid ones.

The built-ins are listed by name (:data:`BUILTINS`) and imported when one is first used, so
listing plugins or checking a name imports neither scikit-learn nor torch.

Register with a decorator::

    from probe_rnn.plugins import register_probe

    @register_probe("centroid")
    class NearestCentroidProbe(BaseEstimator, ClassifierMixin): ...
"""

from __future__ import annotations

import importlib
import json
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from probe_rnn.errors import PluginError
from probe_rnn.usercode import (
    ProcessExitCalled,
    UserImportError,
    did,
    exits_contained,
    import_file,
)

KINDS = ("probe", "task", "adapter", "intervention")
_GROUPS = {kind: f"probe_rnn.{kind}s" for kind in KINDS}


@dataclass(frozen=True)
class Builtin:
    """A built-in plugin as data: where it is defined and its docstring's first paragraph."""

    kind: str
    name: str
    module: str
    attr: str
    doc: str

    def load(self) -> Any:
        """Import the module that defines it (which registers it) and return the object."""
        return getattr(importlib.import_module(self.module), self.attr)


def _read_builtins() -> tuple[Builtin, ...]:
    """The built-in probes, tasks and adapters as data (``builtin_plugins.json``, shipped with
    the package): tests/unit/test_plugins.py checks each row against the object its module
    registers (name, kind, class and docstring)."""
    text = (Path(__file__).parent / "builtin_plugins.json").read_text(encoding="utf-8")
    return tuple(Builtin(**row) for row in json.loads(text))


#: Every built-in probe, task and adapter, in listing order.
BUILTINS: tuple[Builtin, ...] = _read_builtins()


class PluginWarning(UserWarning):
    """A plugin could not be loaded or clashes with another; the run goes on without it."""


_UNLOADED = object()


class Entry:
    """One registered plugin: its kind, name, the object and where it came from.

    A built-in's entry exists before its module is imported: ``obj`` imports it on first use
    and ``doc`` is its docstring (the first paragraph until then).
    """

    __slots__ = ("kind", "name", "origin", "_obj", "_builtin")

    def __init__(self, kind: str, name: str, obj: Any, origin: str,
                 builtin: Builtin | None = None) -> None:
        self.kind, self.name, self.origin = kind, name, origin
        self._obj, self._builtin = obj, builtin

    @classmethod
    def of_builtin(cls, builtin: Builtin) -> Entry:
        """The entry of a built-in whose module is not imported yet."""
        return cls(builtin.kind, builtin.name, _UNLOADED, "built-in", builtin)

    @property
    def loaded(self) -> bool:
        """False for a built-in whose module is not imported yet."""
        return self._obj is not _UNLOADED

    @property
    def obj(self) -> Any:
        """The registered object (a built-in's module is imported on first access)."""
        if not self.loaded:
            assert self._builtin is not None
            self._obj = self._builtin.load()
        return self._obj

    @property
    def doc(self) -> str | None:
        """The object's docstring, without importing a built-in that is not loaded yet."""
        if not self.loaded and self._builtin is not None:
            return self._builtin.doc
        return getattr(self.obj, "__doc__", None)

    def stands_for(self, obj: Any) -> bool:
        """Whether ``obj`` is this entry's object: the same one, or, for a built-in not yet
        loaded, the class its module defines under its name (its module registering it)."""
        if not self.loaded and self._builtin is not None:
            return (getattr(obj, "__module__", None) == self._builtin.module
                    and getattr(obj, "__name__", None) == self._builtin.attr)
        return self._obj is obj

    def __repr__(self) -> str:
        return f"Entry(kind={self.kind!r}, name={self.name!r}, origin={self.origin!r})"


class Registry:
    """Holds every probe, task, adapter and intervention by kind and name."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self._origin = "built-in"
        self._builtins_added = False
        self._entry_points_loaded = False
        self._folders: set[Path] = set()
        #: "plugin X failed to load and is skipped (...)" of every plugin that failed to load
        self.failed: list[str] = []

    # -- registration -------------------------------------------------------------------
    def add(self, kind: str, name: str, obj: Any, origin: str | None = None) -> Any:
        """Register ``obj`` as ``kind`` under ``name``; warn and keep the first on duplicates."""
        _check_kind(kind)
        if not isinstance(name, str) or not name.strip():
            raise PluginError(f"a {kind} plugin needs a non-empty name, got {name!r}")
        origin = origin or self._origin
        self.add_builtins()  # built-ins hold their names whatever registers first
        known = self._entries[kind].get(name)
        if known is not None and not known.stands_for(obj):
            warnings.warn(
                f"{kind} {name!r} from {origin} ignored: the name is already taken by "
                f"{known.origin}; rename one of them",
                PluginWarning,
                stacklevel=3,
            )
            return obj
        if known is not None and not known.loaded:  # a built-in's module registering it
            origin = known.origin
        self._entries[kind][name] = Entry(kind, name, obj, origin)
        return obj

    def decorator(self, kind: str, name: str) -> Callable[[Any], Any]:
        """Return a decorator that registers its target as ``kind`` ``name``."""
        _check_kind(kind)

        def register(obj: Any) -> Any:
            return self.add(kind, name, obj)

        return register

    # -- discovery ----------------------------------------------------------------------
    def add_builtins(self) -> None:
        """Register the built-in probes, tasks and adapters by name (:data:`BUILTINS`); each
        module is imported when one of its plugins is first used."""
        if self._builtins_added:
            return
        self._builtins_added = True
        for builtin in BUILTINS:
            self._entries[builtin.kind].setdefault(builtin.name, Entry.of_builtin(builtin))

    def load_entry_points(self) -> None:
        """Load plugins that installed packages declare under the ``probe_rnn.*`` groups."""
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for kind, group in _GROUPS.items():
            for ep in entry_points(group=group):
                origin = f"entry point {ep.value}"
                try:
                    with exits_contained():
                        obj = ep.load()
                except (Exception, SystemExit) as exc:  # a broken plugin must not stop the run
                    self.failed.append(_warn_failed(origin, exc))
                    continue
                self.add(kind, ep.name, obj, origin)

    def load_folder(self, path: str | Path) -> list[str]:
        """Import every ``*.py`` file in ``path``; return the names of the files imported.

        A file that fails to import becomes a :class:`PluginWarning` naming it.
        """
        folder = Path(path)
        if not folder.is_dir():
            raise PluginError(
                f"plugin folder {str(folder)!r} does not exist: pass an existing folder"
            )
        folder = folder.resolve()
        if folder in self._folders:
            return []
        self._folders.add(folder)
        self.add_builtins()
        loaded = []
        for file in sorted(folder.glob("*.py")):
            if file.name.startswith("_"):
                continue
            if self._import_file(file):
                loaded.append(file.name)
        return loaded

    def load_all(self, folders: Iterable[str | Path] = ()) -> None:
        """Load built-ins, entry points, the given folders and ``./probes`` if present."""
        self.add_builtins()
        self.load_entry_points()
        for folder in folders:
            self.load_folder(folder)
        local = Path("probes")
        if local.is_dir():
            self.load_folder(local)

    # -- lookup -------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> Any:
        """Return the object registered as ``kind`` ``name`` or raise listing valid names."""
        _check_kind(kind)
        self.add_builtins()
        self.load_entry_points()
        entry = self._entries[kind].get(name)
        if entry is None:
            valid = ", ".join(sorted(self._entries[kind])) or "(none)"
            failed = (f"; {'; '.join(self.failed)}: fix it if {name!r} is defined there"
                      if self.failed else "")
            raise PluginError(f"unknown {kind} {name!r}: choose one of {valid}{failed}")
        return entry.obj

    def names(self, kind: str) -> list[str]:
        """Sorted names registered as ``kind``."""
        _check_kind(kind)
        self.add_builtins()
        self.load_entry_points()
        return sorted(self._entries[kind])

    def entries(self) -> list[Entry]:
        """Every registered plugin, grouped by kind then sorted by name."""
        self.add_builtins()
        self.load_entry_points()
        return [e for kind in KINDS for _, e in sorted(self._entries[kind].items())]

    def remove(self, kind: str, name: str) -> None:
        """Forget one plugin (for tests and interactive use)."""
        _check_kind(kind)
        self._entries[kind].pop(name, None)

    # -- internals ----------------------------------------------------------------------
    def _import_file(self, file: Path) -> bool:
        previous, self._origin = self._origin, str(file)
        try:
            import_file(file, "probe_rnn_plugin")
            return True
        except (UserImportError, ImportError, OSError) as exc:
            cause = exc.cause if isinstance(exc, UserImportError) else exc
            self.failed.append(_warn_failed(str(file), cause))
            return False
        finally:
            self._origin = previous


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise PluginError(f"unknown plugin kind {kind!r}: choose one of {', '.join(KINDS)}")


def _warn_failed(origin: str, exc: BaseException) -> str:
    """Warn that a plugin failed to load; the warning's text, for the registry's record."""
    message = str(exc).splitlines()[0] if str(exc) else ""
    what = did(exc) if isinstance(exc, ProcessExitCalled) else \
        f"{type(exc).__name__}: {message}"
    text = f"plugin {origin} failed to load and is skipped ({what})"
    warnings.warn(text, PluginWarning, stacklevel=3)
    return text


registry = Registry()


def register_probe(name: str) -> Callable[[Any], Any]:
    """Register a probe: a scikit-learn estimator class or a function returning one."""
    return registry.decorator("probe", name)


def register_task(name: str) -> Callable[[Any], Any]:
    """Register a task: a :class:`probe_rnn.probing.tasks.Task` subclass."""
    return registry.decorator("task", name)


def register_adapter(name: str) -> Callable[[Any], Any]:
    """Register a model adapter: how texts become a model's inputs and how to call it."""
    return registry.decorator("adapter", name)


def register_intervention(name: str) -> Callable[[Any], Any]:
    """Register an intervention: a class built with no arguments whose ``run(setup)`` returns
    rows of the interventions table, each with its own ``sanity_ok`` and ``sanity``
    (:mod:`probe_rnn.interventions.builtins` holds the contract and the built-ins)."""
    return registry.decorator("intervention", name)
