"""Probe specifications: how a probe named on the command line or in Python becomes an estimator.

A spec is a registered name (``logistic``, a plugin's name), an import path
(``sklearn.svm.LinearSVC``), a class, a factory or an estimator instance (cloned).
:func:`make_probe` builds a fresh, unfitted estimator from any of them; :func:`untuned` and
:func:`retuned` turn a probe's own hyperparameter search off, or fix it to what a fitted twin
chose (``tuned_params_``).
"""

from __future__ import annotations

from typing import Any

from sklearn.base import clone

from probe_rnn.errors import PluginError
from probe_rnn.usercode import did, failure_type, import_object


def _import_path(name: str) -> Any:
    try:
        return import_object(name)
    except Exception as exc:  # noqa: BLE001 - importing a user's module runs its code
        raise PluginError(
            f"probe {name!r} is neither a registered probe nor an importable class "
            f"({failure_type(exc)}): use a name from `probe-rnn plugins` or 'package.module.Class'"
        ) from exc


def _is_estimator(obj: Any) -> bool:
    return hasattr(obj, "fit") and hasattr(obj, "predict")


def _checked_import(name: str) -> Any:
    """An import path's object, checked to be an estimator class or instance before it is
    called (``sys.exit`` is importable and callable, and calling it ends the process)."""
    obj = _import_path(name)
    if not _is_estimator(obj):
        what = f"the {type(obj).__name__} {getattr(obj, '__qualname__', '')}".rstrip()
        raise PluginError(
            f"probe {name!r} is {what}, not an estimator (no fit/predict): give a "
            "scikit-learn estimator class such as 'sklearn.svm.LinearSVC' or a name from "
            "`probe-rnn plugins`"
        )
    return obj


def _origin(name: Any) -> str:
    """`` (from FILE)`` for a registered plugin probe, else ``""``."""
    from probe_rnn.plugins import registry

    if not isinstance(name, str):
        return ""
    entry = next((e for e in registry.entries() if e.kind == "probe" and e.name == name), None)
    return f" (from {entry.origin})" if entry is not None and entry.origin != "built-in" else ""


def _built(spec: Any, shown: Any) -> Any:
    """A fresh estimator from ``spec``; user code that raises or exits is a one-line error."""
    try:
        if hasattr(spec, "get_params") and not isinstance(spec, type):
            return clone(spec)
        return spec()
    except (Exception, SystemExit) as exc:  # a plugin's constructor may do anything
        raise PluginError(f"probe {shown!r}{_origin(shown)} could not be built: its "
                          f"constructor {did(exc)}; fix its __init__ (a probe's __init__ only "
                          "stores its parameters)") from None


def make_probe(spec: Any, seed: int | None = None) -> Any:
    """Build a fresh, unfitted estimator from a registered name, an import path, a class, a
    factory or an estimator instance (cloned); set ``random_state`` to ``seed`` when it has one.
    An import path must name an estimator (checked before anything is called); a constructor
    that raises or calls ``sys.exit`` is a :class:`~probe_rnn.errors.PluginError` naming it.
    """
    from probe_rnn.plugins import registry

    shown = spec if isinstance(spec, str) else getattr(spec, "__name__", type(spec).__name__)
    if isinstance(spec, str):
        if spec in registry.names("probe") or "." not in spec:
            spec = registry.get("probe", spec)
        else:
            spec = _checked_import(spec)
    est = _built(spec, shown)
    if not _is_estimator(est):
        raise PluginError(
            f"probe {spec!r} built {type(est).__name__}, which lacks fit/predict: a probe must be "
            "a scikit-learn estimator"
        )
    if seed is not None and hasattr(est, "get_params") and "random_state" in est.get_params():
        est.set_params(random_state=seed)
    return est


def untuned(est: Any) -> Any:
    """``est`` with its internal hyperparameter search off (its ``untuned()``), else ``est``."""
    fn = getattr(est, "untuned", None)
    return fn() if callable(fn) else est


def retuned(est: Any, fitted: Any) -> Any:
    """``est`` with the hyperparameters a fitted twin chose (its ``tuned_params_``), if any."""
    params = getattr(fitted, "tuned_params_", None)
    return est.set_params(**params) if isinstance(params, dict) and params else est
