"""Probe specifications: how a probe named on the command line or in Python becomes an estimator.

A spec is a registered name (``logistic``, a plugin's name), an import path
(``sklearn.svm.LinearSVC``), a class, a factory or an estimator instance (cloned).
:func:`make_probe` builds a fresh, unfitted estimator from any of them; :func:`untuned` and
:func:`retuned` turn a probe's own hyperparameter search off, or fix it to what a fitted twin
chose (``tuned_params_``).
"""

from __future__ import annotations

import importlib
from typing import Any

from sklearn.base import clone

from probe_rnn.errors import PluginError

__all__ = ["make_probe", "untuned", "retuned"]


def _import_path(name: str) -> Any:
    module, _, attr = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise PluginError(
            f"probe {name!r} is neither a registered probe nor an importable class "
            f"({type(exc).__name__}): use a name from `probe-rnn plugins` or 'package.module.Class'"
        ) from exc


def make_probe(spec: Any, seed: int | None = None) -> Any:
    """Build a fresh, unfitted estimator from a registered name, an import path, a class, a
    factory or an estimator instance (cloned); set ``random_state`` to ``seed`` when it has one.
    """
    from probe_rnn.plugins import registry

    if isinstance(spec, str):
        if spec in registry.names("probe") or "." not in spec:
            spec = registry.get("probe", spec)
        else:
            spec = _import_path(spec)
    est = clone(spec) if hasattr(spec, "get_params") and not isinstance(spec, type) else spec()
    if not (hasattr(est, "fit") and hasattr(est, "predict")):
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
