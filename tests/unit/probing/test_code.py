"""The plugin code behind a run (``probe_rnn.probing.code.run_code``): a plugin file's digest is
the sha256 of its bytes, so editing the file changes the run's fingerprint; probe-rnn's own
probes and tasks add nothing (its version covers them); an installed estimator is named with
its distribution and version."""

from __future__ import annotations

import hashlib
import inspect
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier
from sklearn.svm import LinearSVC

from probe_rnn.plugins import registry
from probe_rnn.probing.code import run_code

PLUGIN = '''
from sklearn.dummy import DummyClassifier
from probe_rnn.plugins import register_probe

@register_probe("code-test-prior")
def prior():
    return DummyClassifier(strategy="prior")  # {mark}
'''


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@pytest.fixture()
def plugin(tmp_path: Path):
    file = tmp_path / "code_test_probe.py"
    file.write_text(textwrap.dedent(PLUGIN.format(mark="first")))
    registry.load_folder(tmp_path)
    yield file
    registry.remove("probe", "code-test-prior")


def test_a_plugin_files_digest_follows_its_bytes(plugin: Path) -> None:
    before = run_code(["logistic", "code-test-prior"], ["label"])
    built = f"sklearn.dummy (scikit-learn {version('scikit-learn')})"  # what the factory built
    assert before == {str(plugin): _digest(plugin),
                      built: _digest(Path(inspect.getfile(DummyClassifier)))}
    plugin.write_text(textwrap.dedent(PLUGIN.format(mark="edited")))
    after = run_code(["code-test-prior"], ["label"])
    assert after[str(plugin)] == _digest(plugin) != before[str(plugin)]
    assert run_code(["logistic", "ridge"], ["label", "length"]) == {}  # probe-rnn's own


def test_an_installed_estimator_is_named_with_its_distribution() -> None:
    code = run_code(["sklearn.svm.LinearSVC"], None)
    module = LinearSVC.__module__
    [(where, digest)] = code.items()
    assert where == f"{module} (scikit-learn {version('scikit-learn')})"
    assert digest == _digest(Path(inspect.getfile(LinearSVC)))
