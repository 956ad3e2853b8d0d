"""Probing's check of task and probe names before any work (``probe_rnn.probing.names``): known
names pass, an unknown one is a one-line error listing the valid ones."""

from __future__ import annotations

import pytest

from probe_rnn.errors import ProbeRnnError
from probe_rnn.plugins import registry
from probe_rnn.probing.names import check_names


def test_known_names_and_import_paths_pass() -> None:
    check_names(["label", "length"], ["logistic", "ridge", "sklearn.svm.LinearSVC"])
    check_names(None, ["logistic"])  # None tasks: the defaults


@pytest.mark.parametrize(("tasks", "probes", "kind", "name"), [
    (["label", "lenght"], ["logistic"], "task", "lenght"),
    (["label"], ["logistic", "centriod"], "probe", "centriod"),
])
def test_an_unknown_name_lists_the_valid_ones(tasks, probes, kind, name) -> None:
    with pytest.raises(ProbeRnnError) as err:
        check_names(tasks, probes)
    message = str(err.value)
    assert "\n" not in message and repr(name) in message
    assert all(valid in message for valid in registry.names(kind)[:3])
