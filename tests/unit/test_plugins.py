"""The plugin registry: built-ins, folders, entry points, duplicates, unknown names."""

from __future__ import annotations

import textwrap
import warnings
from importlib.metadata import EntryPoint

import pytest

from probe_rnn import plugins
from probe_rnn.errors import PluginError
from probe_rnn.plugins import PluginWarning, Registry
from probe_rnn.probing.probes import LogisticProbe
from probe_rnn.probing.tasks import LengthTask


@pytest.fixture()
def fresh(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A registry of its own, installed as the global one so decorators land in it."""
    reg = Registry()
    reg._builtins_added = True  # built-ins are exercised in a separate test
    monkeypatch.setattr(plugins, "registry", reg)
    return reg


def test_decorator_registers_and_get_returns_object(fresh: Registry) -> None:
    @plugins.register_probe("mine")
    class Mine:
        """My probe."""

    assert fresh.get("probe", "mine") is Mine
    assert fresh.names("probe") == ["mine"]
    assert fresh.entries()[0].origin == "built-in"


def test_unknown_name_lists_valid_ones(fresh: Registry) -> None:
    fresh.add("task", "alpha", object())
    fresh.add("task", "beta", object())
    with pytest.raises(PluginError, match="unknown task 'gamma': choose one of alpha, beta"):
        fresh.get("task", "gamma")


def test_unknown_kind_is_refused(fresh: Registry) -> None:
    with pytest.raises(PluginError, match="unknown plugin kind 'widget'"):
        fresh.add("widget", "x", object())


def test_duplicate_name_warns_and_keeps_first(fresh: Registry) -> None:
    first, second = object(), object()
    fresh.add("probe", "dup", first, origin="a.py")
    with pytest.warns(PluginWarning, match="already taken by a.py"):
        fresh.add("probe", "dup", second, origin="b.py")
    assert fresh.get("probe", "dup") is first


def test_folder_plugins_load_with_their_file_as_origin(fresh: Registry, tmp_path) -> None:
    (tmp_path / "good.py").write_text(
        textwrap.dedent(
            '''
            from probe_rnn.plugins import register_task

            @register_task("from-folder")
            class FromFolder:
                """A task from a folder."""
            '''
        )
    )
    (tmp_path / "broken.py").write_text("import does_not_exist_anywhere\n")
    with pytest.warns(PluginWarning, match=r"broken\.py failed to load"):
        loaded = fresh.load_folder(tmp_path)
    assert loaded == ["good.py"]
    entry = next(e for e in fresh.entries() if e.name == "from-folder")
    assert entry.origin.endswith("good.py")
    # loading the same folder again imports nothing twice (no duplicate warnings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fresh.load_folder(tmp_path) == []


def test_missing_folder_is_a_one_line_error(fresh: Registry, tmp_path) -> None:
    with pytest.raises(PluginError, match="does not exist"):
        fresh.load_folder(tmp_path / "nope")


def test_entry_points_are_merged_and_broken_ones_warn(
    fresh: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = EntryPoint(name="ep-probe", value="collections:OrderedDict", group="probe_rnn.probes")
    bad = EntryPoint(name="ep-bad", value="no_such_module_xyz:thing", group="probe_rnn.probes")

    def fake_entry_points(group: str) -> list[EntryPoint]:
        return [good, bad] if group == "probe_rnn.probes" else []

    monkeypatch.setattr(plugins, "entry_points", fake_entry_points)
    with pytest.warns(PluginWarning, match="no_such_module_xyz"):
        names = fresh.names("probe")
    assert names == ["ep-probe"]
    import collections

    assert fresh.get("probe", "ep-probe") is collections.OrderedDict
    assert fresh.entries()[0].origin == "entry point collections:OrderedDict"


def test_an_unknown_name_says_which_plugin_failed_to_load(fresh: Registry, tmp_path) -> None:
    (tmp_path / "brokenp.py").write_text(textwrap.dedent("""
        from probe_rnn.plugins import register_probe

        @register_probe("brokenp")
        class Broken:
            def fit(self, X, y)  # the colon is missing
    """))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        fresh.load_folder(tmp_path)
    with pytest.raises(PluginError) as caught:
        fresh.get("probe", "brokenp")
    message = str(caught.value)
    assert message.startswith("unknown probe 'brokenp'")
    assert "brokenp.py failed to load and is skipped (SyntaxError" in message
    assert message.endswith("fix it if 'brokenp' is defined there")


# -- built-ins listed as data, imported on first use -----------------------------------------
_REGISTERED = textwrap.dedent("""
    import json
    from probe_rnn.plugins import BUILTINS, registry
    import probe_rnn.probing.probes, probe_rnn.probing.tasks, probe_rnn.models.adapters
    import probe_rnn.interventions.builtins
    print(json.dumps([[e.kind, e.name, e.origin, e.loaded,
                       e.obj.__module__ if e.loaded else None,
                       e.obj.__name__ if e.loaded else None,
                       e.obj.__doc__ if e.loaded else None] for e in registry.entries()]))
""")


def test_the_built_in_table_is_what_the_built_in_modules_register() -> None:
    """In a fresh interpreter, importing the three built-in modules registers exactly the
    names of ``BUILTINS``, each the class it names, with the docstring it quotes."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _REGISTERED], capture_output=True, text=True,
                          timeout=300, check=True)
    registered = json.loads(done.stdout.splitlines()[-1])
    table = {(b.kind, b.name): b for b in plugins.BUILTINS}
    assert len(table) == len(plugins.BUILTINS)
    assert {(kind, name) for kind, name, *_ in registered} == set(table)
    for kind, name, origin, loaded, module, attr, doc in registered:
        builtin = table[kind, name]
        assert (origin, loaded, module, attr) == ("built-in", True, builtin.module, builtin.attr)
        first = doc.strip().split("\n\n")[0]
        assert builtin.doc == " ".join(line.strip() for line in first.splitlines())


@pytest.fixture()
def with_builtins(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A registry of its own with the built-ins, installed as the global one."""
    reg = Registry()
    monkeypatch.setattr(plugins, "registry", reg)
    return reg


def test_built_ins_are_listed_before_use_and_loaded_by_get(with_builtins: Registry) -> None:
    assert {"logistic", "mlp", "ridge"} <= set(with_builtins.names("probe"))
    entry = next(e for e in with_builtins.entries() if e.name == "logistic")
    assert not entry.loaded
    assert entry.doc == next(b.doc for b in plugins.BUILTINS if b.name == "logistic")
    assert with_builtins.get("probe", "logistic") is LogisticProbe
    assert entry.loaded and entry.obj is LogisticProbe and entry.doc == LogisticProbe.__doc__


def test_a_built_in_registered_by_its_module_stays_built_in(with_builtins: Registry) -> None:
    """A user's plugin file importing a built-in module (so the module's decorators run while
    the file is the current origin) neither warns nor takes the built-in's origin."""
    with_builtins._origin = "/somewhere/mine.py"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plugins.register_task("length")(LengthTask)
    entry = next(e for e in with_builtins.entries() if e.name == "length")
    assert (entry.loaded, entry.obj, entry.origin) == (True, LengthTask, "built-in")


def test_a_user_plugin_cannot_take_a_built_in_name(with_builtins: Registry) -> None:
    class Length:
        """Not the built-in."""

    with pytest.warns(PluginWarning, match="'length' from mine.py ignored: the name is "
                                           "already taken by built-in"):
        with_builtins.add("task", "length", Length, origin="mine.py")
    assert with_builtins.get("task", "length").__module__ == "probe_rnn.probing.tasks"
