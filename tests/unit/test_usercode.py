"""User code contained (:mod:`probe_rnn.usercode`): ``os._exit`` inside the guarded block
becomes an exception naming the code, ``sys.exit`` is described in words, the file that
raised is found, a plugin file's code identity follows its bytes; a factory that exits is a
one-line CheckpointError/ConfigError (the cluster's handshake is in test_cluster.py)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys

import pytest

from probe_rnn.errors import CheckpointError, ConfigError
from probe_rnn.models.factory import call_factory
from probe_rnn.usercode import ProcessExitCalled, code_identity, did, exit_site, exits_contained


def test_os_exit_inside_the_block_is_an_exception_and_restored_after() -> None:
    real = os._exit
    with pytest.raises(ProcessExitCalled) as caught:
        with exits_contained():
            os._exit(7)
    assert did(caught.value) == "called os._exit(7)"
    assert os._exit is real


@pytest.mark.parametrize(("exc", "words"), [
    (SystemExit(), "called sys.exit()"), (SystemExit(3), "called sys.exit(3)"),
    (SystemExit("bye"), "called sys.exit('bye')"),
    (ValueError(" a\n b "), "raised ValueError: a b"),
])
def test_what_user_code_did_in_words(exc: BaseException, words: str) -> None:
    assert did(exc) == words


def test_the_exit_site_is_the_file_and_line_that_exited(tmp_path) -> None:
    path = tmp_path / "quits.py"
    path.write_text("import sys\n\ndef go():\n    sys.exit(2)\n")
    spec = importlib.util.spec_from_file_location("quits_for_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as caught:
        module.go()
    assert exit_site(caught.value) == f"{path}:4"


def test_a_plugin_files_identity_follows_its_bytes(tmp_path) -> None:
    path = tmp_path / "p.py"
    path.write_text("class Probe:\n    pass\n")
    name = "probe_rnn_plugin_p_test"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        first = code_identity(module.Probe)
        assert first == {str(path): hashlib.sha256(path.read_bytes()).hexdigest()[:16]}
        path.write_text("class Probe:\n    pass  # edited\n")
        assert code_identity(module.Probe()) != first  # an instance: its class's file
    finally:
        sys.modules.pop(name, None)
    assert code_identity(int) == {} and code_identity(did) == {}  # builtins, probe-rnn's own


@pytest.mark.parametrize(("body", "error", "words"), [
    ("import sys\nsys.exit(3)\ndef build():\n    pass\n", ConfigError, "called sys.exit(3)"),
    ("import sys\ndef build():\n    sys.exit()\n", CheckpointError, "called sys.exit()"),
    ("import os\ndef build():\n    os._exit(4)\n", CheckpointError, "called os._exit(4)"),
])
def test_a_factory_that_exits_is_an_error_naming_it(tmp_path, body: str, error: type,
                                                    words: str) -> None:
    path = tmp_path / "factory_exits.py"
    path.write_text(body)
    with pytest.raises(error, match="factory") as caught:
        call_factory(f"{path}:build")
    assert words in str(caught.value) and "factory_exits.py" in str(caught.value)


def test_a_plugin_file_that_calls_os_exit_at_import_is_a_warning_naming_it(tmp_path) -> None:
    from probe_rnn.plugins import PluginWarning, Registry

    (tmp_path / "leaves.py").write_text("import os\nos._exit(3)\n")
    with pytest.warns(PluginWarning, match=r"leaves.py failed to load and is skipped "
                                           r"\(called os._exit\(3\)\)"):
        assert Registry().load_folder(tmp_path) == []


# -- import-by-string: one function for the three spellings --------------------------------
def test_the_three_spellings_name_the_same_object(tmp_path) -> None:
    from json import JSONDecoder  # the reference: Python's own import

    from probe_rnn.usercode import import_object
    assert import_object("json:JSONDecoder") is JSONDecoder
    assert import_object("json.JSONDecoder") is JSONDecoder
    file = tmp_path / "made_here.py"
    file.write_text("VALUE = [1, 2]\n", encoding="utf-8")
    assert import_object(f"{file}:VALUE") == [1, 2]
    digest = hashlib.sha1(str(file.resolve()).encode()).hexdigest()[:10]
    assert f"probe_rnn_user_made_here_{digest}" in sys.modules


@pytest.mark.parametrize(("spec", "error"), [
    ("json", ValueError), ("json:", ValueError), ("json:not an id", ValueError),
    ("json.no_such_name_q", AttributeError), ("no_such_pkg_q.x", ImportError),
    ("missing/nowhere.py:f", FileNotFoundError),
])
def test_an_import_path_that_names_nothing_is_typed(spec, error) -> None:
    from probe_rnn.usercode import import_object

    with pytest.raises(error):
        import_object(spec)


def test_a_failing_import_carries_its_cause_and_is_forgotten(tmp_path) -> None:
    from probe_rnn.usercode import UserImportError, failure_type, import_file, import_object

    bad = tmp_path / "bad_mod_q.py"
    bad.write_text("raise KeyError('boom')\n", encoding="utf-8")
    with pytest.raises(UserImportError) as caught:
        import_file(bad, "probe_rnn_test")
    assert isinstance(caught.value.cause, KeyError)
    assert failure_type(caught.value) == "KeyError"
    assert not [n for n in sys.modules if n.startswith("probe_rnn_test_bad_mod_q")]
    exits = tmp_path / "exits_q.py"
    exits.write_text("import sys\nsys.exit(4)\n", encoding="utf-8")
    with pytest.raises(UserImportError) as caught:
        import_object(f"{exits}:x")
    assert failure_type(caught.value) == "called sys.exit(4)"
    with pytest.raises(UserImportError) as caught:
        import_object("no_such_pkg_q.x")
    assert failure_type(caught.value) == "ModuleNotFoundError"
