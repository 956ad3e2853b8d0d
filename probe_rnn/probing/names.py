"""Probing's own check of task and probe names, run before any work: an unknown name is a
one-line error listing the valid ones (or naming the plugin that failed to load), so a typo
never costs a capture."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from probe_rnn.probing.runner import resolve_probes
from probe_rnn.probing.tasks import get_task


def check_names(tasks: Iterable[str] | None, probes: Iterable[Any]) -> None:
    """Raise :class:`~probe_rnn.errors.ConfigError` (or ``PluginError``) for the first task or
    probe that cannot be built; None tasks means the default tasks."""
    for task in tasks or ():
        get_task(task)
    resolve_probes(probes)
