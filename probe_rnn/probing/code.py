"""The plugin code behind a run: what the run's fingerprint holds so that an edited plugin
file (or an upgraded plugin package) makes a new run instead of reusing the old results."""

from __future__ import annotations

from typing import Any

from probe_rnn.probing.runner import resolve_probes
from probe_rnn.probing.specs import make_probe
from probe_rnn.probing.tasks import get_task
from probe_rnn.usercode import code_identity


def run_code(probes: Any, tasks: Any) -> dict[str, str]:
    """``{where: digest}`` of the plugin code behind a run's probes and tasks (names, import
    paths or objects), for the run's fingerprint: an edited plugin makes a new run."""
    code: dict[str, str] = {}
    for _, obj, _ in resolve_probes(probes):
        code.update(code_identity(obj))
        code.update(code_identity(make_probe(obj, 0)))
    for task in tasks or ():
        code.update(code_identity(get_task(task)))
    return dict(sorted(code.items()))
