"""The plugin registry: built-ins, folders, entry points, duplicates, unknown names."""

from __future__ import annotations

import textwrap
import warnings
from importlib.metadata import EntryPoint

import pytest

from probe_rnn import plugins
from probe_rnn.errors import PluginError
from probe_rnn.plugins import PluginWarning, Registry


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
