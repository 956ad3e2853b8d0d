"""Package front doors that import on first use (PEP 562).

A package lists its public names and the module that defines each; :func:`lazy_exports` gives
it the module-level ``__getattr__`` and ``__dir__`` that import a name's module when the name is
first read. Importing a package, or one of its submodules, then imports nothing it exports:
``probe-rnn --help`` imports no torch, and a plugin's ``from probe_rnn.probing.tasks import
Task`` does not pull in scikit-learn.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str], namespace: dict[str, Any]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : mapping
        Each public name -> the module that defines it: absolute (``"probe_rnn.report"``) or
        relative to ``package`` (``"views"``).
    namespace : dict
        The package's ``globals()``: a name, once imported, is kept there, so the next read
        does not come back here; ``__dir__`` lists it with ``__all__``.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if not module.startswith("probe_rnn"):
            module = f"{package}.{module}"
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
