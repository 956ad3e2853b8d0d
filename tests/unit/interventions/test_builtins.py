"""The intervention plugin kind: built-ins registered, a user's file picked up and run, and a
row without its own check refused."""

from __future__ import annotations

import textwrap

import pytest

from probe_rnn import plugins
from probe_rnn.errors import PluginError
from probe_rnn.interventions import intervene
from probe_rnn.plugins import Registry

USER_PLUGIN = textwrap.dedent('''
    from probe_rnn.interventions.stats import row
    from probe_rnn.plugins import register_intervention

    @register_intervention("flip-sign")
    class FlipSign:
        """Negate each sentence view; the share of predictions that stay."""

        def run(self, setup):
            out = []
            for view in setup.views:
                after = setup.predict("test", view, -setup.values("test", view))
                same = float((after == setup.test.pred).mean())
                out.append(row("flip-sign", view, "agreement", same, n=len(after),
                               sanity_ok=True, sanity="negation is its own inverse"))
            return out
''')


@pytest.fixture()
def registry_with_builtins(monkeypatch):
    reg = Registry()
    monkeypatch.setattr(plugins, "registry", reg)
    return reg


def test_the_built_in_interventions_are_registered(registry_with_builtins):
    assert {"ablation", "erasure", "patching"} <= set(registry_with_builtins.names("intervention"))
    from probe_rnn.interventions.builtins import Erasure

    assert registry_with_builtins.get("intervention", "erasure") is Erasure


def test_a_users_intervention_file_is_picked_up_and_run(registry_with_builtins, tmp_path,
                                                         tiny_bundle):
    (tmp_path / "flip.py").write_text(USER_PLUGIN, encoding="utf-8")
    registry_with_builtins.load_folder(tmp_path)
    assert "flip-sign" in registry_with_builtins.names("intervention")
    bundle, df = tiny_bundle
    table = intervene(bundle, df, rows=range(24), train_rows=range(24, 64), steps=False,
                      conditional=False).table
    mine = table[table["intervention"] == "flip-sign"]
    assert set(mine["view"]) == {"output@last", "h_n/L0/fwd", "h_n/L0/bwd", "h_n/L0"}
    assert mine["sanity_ok"].all() and (mine["value"].between(0, 1)).all()
    assert {"erasure", "patching", "ablation-mean"} <= set(table["intervention"])


def test_rows_without_their_check_are_refused(registry_with_builtins, tiny_bundle):
    @plugins.register_intervention("careless")
    class Careless:
        """Forgets its check."""

        def run(self, setup):
            return [{"intervention": "careless", "view": "output@last", "measure": "agreement",
                     "value": 1.0}]

    bundle, df = tiny_bundle
    with pytest.raises(PluginError, match="'careless' returned a row without its check"):
        intervene(bundle, df, rows=range(24), train_rows=range(24, 64),
                  interventions=["careless"], steps=False, conditional=False)


def test_progress_moves_view_by_view_and_a_plugin_counts_once(registry_with_builtins,
                                                              tiny_bundle):
    @plugins.register_intervention("chatty")
    class Chatty:
        """No ``units``, yet it ticks more often than it may: its one unit bounds it."""

        def run(self, setup):
            for _ in range(50):
                setup.tick()
            return []

    bundle, df = tiny_bundle
    calls: list[tuple[int, int, str]] = []
    found = intervene(bundle, df, rows=range(24), train_rows=range(24, 64), seed=0,
                      interventions=["erasure", "chatty", "patching", "ablation"],
                      progress=lambda done, total, what: calls.append((done, total, what)))
    views, steps = len(found.setup.views), len(found.setup.steps)
    assert views == 4 and steps > 1
    # the setup, each view of erasure, one for the plugin, patching's and ablation's views,
    # the conditional bits
    total = 1 + (views + steps) + 1 + (views + steps) + views + 1
    assert {t for _, t, _ in calls} == {total}
    done = [d for d, _, _ in calls]
    assert done == sorted(done) and done[-1] == total
    by_name = {}
    for d, _, what in calls:
        by_name.setdefault(what, []).append(d)
    assert by_name["setup"] == [1]
    assert by_name["erasure"] == list(range(2, 2 + views + steps))  # one tick per view
    assert by_name["chatty"] == [2 + views + steps]  # its 50 ticks stay in its one unit
    assert len(by_name["patching"]) == views + steps and len(by_name["ablation"]) == views
    assert by_name["conditional"] == [total]
    found.setup.tick()  # the setup handed back reports to no one
    assert calls[-1][0] == total and len(calls) == len(done)
