"""The vocabulary: view-name grammar round trips, name builders, RNN kinds and readouts."""

from __future__ import annotations

import pytest

from probe_rnn import catalogue as vocab
from probe_rnn.catalogue import (
    READOUT_VIEWS,
    VIEW_CATALOGUE,
    ViewSpec,
    parse_view,
    readout_views,
    state_view,
    state_views,
    try_parse,
)
from probe_rnn.errors import ConfigError

ALL_FORMS = [
    "output@last", "output@-1", "mean(output)", "max(output)", "output",
    "h_n/L0/fwd", "h_n/L3/bwd", "c_n/L1/fwd", "c_n/L0/bwd", "h_n/L1", "c_n/L0",
    "hidden/L0/fwd", "hidden/L2/bwd", "cell/L1/fwd",
    "hidden/L0/fwd@0", "hidden/L1/bwd@7", "hidden/L0/fwd@-1", "cell/L2/bwd@-3", "cell/L0/fwd@4",
    *(f"gate/L0/fwd/{g}" for g in "ifgo"), *(f"gate/L1/bwd/{g}" for g in "rzn"),
    "gate/L0/fwd/f@3", "gate/L1/bwd/n@-2", "gate/L0/bwd/i@0",
]


@pytest.mark.parametrize("name", ALL_FORMS)
def test_round_trip(name):
    spec = ViewSpec.parse(name)
    assert str(spec) == name and spec.name == name
    assert ViewSpec.parse(str(spec)) == spec
    assert parse_view(name) == spec and try_parse(name) == spec


def test_fields_and_kinds():
    last, naive = parse_view("output@last"), parse_view("output@-1")
    assert (last.base, last.t, last.relative, last.kind) == ("output", -1, True, "sentence")
    assert (naive.base, naive.t, naive.relative, naive.kind) == ("output", -1, False, "sentence")
    assert last != naive and last.reads_step and not naive.reads_step
    h = parse_view("hidden/L2/bwd@-3")
    assert (h.base, h.layer, h.direction, h.t, h.relative, h.kind, h.gate) == (
        "hidden", 2, "bwd", -3, True, "sentence", None)
    assert h.direction_index == 1 and h.reads_step and not h.is_final
    assert parse_view("hidden/L0/fwd@4").relative is False
    g = parse_view("gate/L1/fwd/z@5")
    assert (g.base, g.layer, g.direction, g.gate, g.t, g.relative) == ("gate", 1, "fwd", "z", 5,
                                                                        False)
    for token in ("output", "hidden/L0/fwd", "cell/L1/bwd", "gate/L0/fwd/i"):
        assert parse_view(token).kind == "token"
    for sentence in ("mean(output)", "max(output)", "h_n/L0/fwd", "c_n/L1/bwd"):
        assert parse_view(sentence).kind == "sentence"
    assert parse_view("h_n/L0/fwd").is_final and parse_view("c_n/L1/bwd").is_final
    assert not parse_view("output@last").is_final and parse_view("output@last").is_output
    assert parse_view("mean(output)").layer is None
    assert parse_view("mean(output)").direction_index is None


def test_related_views():
    assert str(parse_view("hidden/L0/fwd@3").without_step()) == "hidden/L0/fwd"
    assert str(parse_view("gate/L1/bwd/f@-2").without_step()) == "gate/L1/bwd/f"
    assert str(parse_view("output@last").without_step()) == "output"
    spec = parse_view("h_n/L1/fwd")
    assert spec.without_step() is spec
    # the name as written survives without_step; str() is canonical
    odd = parse_view("hidden/L01/fwd@03")
    assert str(odd) == "hidden/L1/fwd@3" and odd.without_step().name == "hidden/L01/fwd"
    assert str(odd.without_step()) == "hidden/L1/fwd"
    assert str(parse_view("hidden/L0/fwd").at(-2)) == "hidden/L0/fwd@-2"
    assert parse_view("hidden/L0/fwd").at(-2).relative
    assert str(parse_view("gate/L0/fwd/o").at(1)) == "gate/L0/fwd/o@1"
    with pytest.raises(ConfigError):
        parse_view("h_n/L0/fwd").at(1)
    assert str(parse_view("h_n/L0/bwd").at_layer(3)) == "h_n/L3/bwd"
    assert parse_view("h_n/L0/bwd").at_layer(3).name == "h_n/L3/bwd"
    assert str(parse_view("cell/L1/fwd@-1").at_layer(0)) == "cell/L0/fwd@-1"
    assert parse_view("mean(output)").at_layer(2) == parse_view("mean(output)")


def test_builders():
    assert state_view("h_n", 1, "bwd") == "h_n/L1/bwd"
    assert state_view("hidden", 0, "fwd", t=-1) == "hidden/L0/fwd@-1"
    assert state_view("cell", 2, "fwd", t=5) == "cell/L2/fwd@5"
    assert state_view("gate", 0, "fwd", gate="f") == "gate/L0/fwd/f"
    assert state_view("gate", 1, "bwd", t=-2, gate="n") == "gate/L1/bwd/n@-2"
    assert ViewSpec.of("hidden", 0, "fwd", t=-1) == parse_view("hidden/L0/fwd@-1")
    assert ViewSpec.of("gate", 1, "bwd", t=3, gate="r") == parse_view("gate/L1/bwd/r@3")
    assert state_views("h_n", range(2), 2) == ["h_n/L0/fwd", "h_n/L0/bwd", "h_n/L1/fwd",
                                               "h_n/L1/bwd"]
    assert state_views("c_n", [1], 1) == ["c_n/L1/fwd"]
    assert vocab.final_view("h_n", 1) == "h_n/L1" and vocab.final_view("c_n", 0) == "c_n/L0"
    assert parse_view("h_n/L1").is_concatenated and not parse_view("h_n/L1/fwd").is_concatenated
    assert state_views("gate", [0], 2, "rz") == ["gate/L0/fwd/r", "gate/L0/fwd/z",
                                                 "gate/L0/bwd/r", "gate/L0/bwd/z"]
    for name in (*state_views("hidden", range(3), 2), *state_views("gate", [0], 1, "ifgo")):
        assert str(parse_view(name)) == name
    assert vocab.directions(1) == ("fwd",) and vocab.directions(2) == ("fwd", "bwd")
    assert vocab.SUMMARY_VIEWS == ("output@last", "output@-1", "mean(output)", "max(output)")


def test_views_module_reexports_the_grammar():
    from probe_rnn.capture import views

    assert views.ViewSpec is ViewSpec and views.parse_view is parse_view  # used, not redefined
    from probe_rnn.capture import gates

    assert not hasattr(gates, "GATE_NAMES") and not hasattr(views, "VIEW_CATALOGUE")


def test_kinds():
    from probe_rnn.models.config import RNN_TYPES

    assert vocab.RNN_TYPES == RNN_TYPES
    assert set(vocab.MODULE_KIND_OF) == set(RNN_TYPES)
    assert set(vocab.MODULE_KIND_OF.values()) == set(vocab.MODULE_KINDS)
    assert vocab.MODULE_KIND_OF["rnn"] == "rnn-tanh" and vocab.RNN_TYPE_OF["rnn-tanh"] == "rnn"
    assert vocab.RNN_TYPE_OF["rnn-relu"] == "rnn-relu"
    assert vocab.looped_kind("lstm-cell") == "lstm" and vocab.looped_kind("gru-cell") == "gru"
    assert vocab.looped_kind("rnn-cell") == "rnn" and vocab.looped_kind("lstm") is None
    assert vocab.gate_names("lstm") == ("i", "f", "g", "o")
    assert vocab.gate_names("gru") == ("r", "z", "n")
    assert vocab.gate_names("rnn-tanh") == () and vocab.gate_names("lstm-cell") == ()
    assert vocab.has_cell_state("lstm") and vocab.has_cell_state("lstm-cell")
    assert not any(vocab.has_cell_state(k) for k in ("gru", "rnn", "rnn-tanh", "gru-cell"))


def test_kinds_match_the_modules():
    from torch import nn

    from probe_rnn.models.recurrent import module_kind

    built = {"lstm": nn.LSTM(2, 3), "gru": nn.GRU(2, 3), "rnn": nn.RNN(2, 3),
             "rnn-relu": nn.RNN(2, 3, nonlinearity="relu")}
    for rnn, module in built.items():
        assert module_kind(module) == vocab.MODULE_KIND_OF[rnn]


def test_readouts():
    from probe_rnn.models.config import READOUTS
    from probe_rnn.report.findings import READOUT_VIEWS as FINDINGS_READOUT_VIEWS

    assert vocab.READOUTS == READOUTS and FINDINGS_READOUT_VIEWS is READOUT_VIEWS
    assert READOUT_VIEWS == {"last": "output@last", "mean": "mean(output)",
                             "max": "max(output)", "naive-last": "output@-1"}
    assert set(READOUT_VIEWS) | {"hidden"} == set(READOUTS)
    assert readout_views("last", 2, 2) == ("output@last",)
    assert readout_views("naive-last", 1, 1) == ("output@-1",)
    assert readout_views("hidden", 2, 2) == ("h_n/L1/fwd", "h_n/L1/bwd")
    assert readout_views("hidden", 3, 1) == ("h_n/L2/fwd",)
    with pytest.raises(ConfigError, match="unknown readout"):
        readout_views("first", 1, 1)


@pytest.mark.parametrize("name", ["hidden", "h_n/L0@1", "h_n/L0/up", "output@2", "h_n/L0/fwd@1",
                                  "mean(hidden)", "", "cell/Lx/fwd", "gate/L0/fwd/x",
                                  "gate/L0/fwd", "output@last@1", "hidden/L0/fwd@"])
def test_bad_names(name):
    message = (f"unknown state view {name!r}; valid forms: {', '.join(VIEW_CATALOGUE)} "
               "(e.g. hidden/L0/fwd@-1)")
    with pytest.raises(ConfigError) as info:
        ViewSpec.parse(name)
    assert str(info.value) == message and "\n" not in str(info.value)
    assert try_parse(name) is None


def test_non_string_names():
    with pytest.raises(ConfigError, match="unknown state view '3'"):
        parse_view(3)  # type: ignore[arg-type]
    assert try_parse(None) is None


# -- sites: SITE:VIEW ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["encoder:h_n/L0/fwd", "encoder#2:output@last",
                                  "decoder:hidden/L0/fwd@3", "layers.0:gate/L1/bwd/f@-2",
                                  "enc_1:mean(output)", "rnn2:c_n/L0", "encoder#12:output"])
def test_site_names_round_trip_and_keep_the_view(name):
    spec = ViewSpec.parse(name)
    site, bare = name.split(":", 1)
    assert str(spec) == name and spec.name == name and spec.site == site
    assert spec.bare == bare and vocab.view_site(name) == (site, bare)
    plain = ViewSpec.parse(bare)
    assert spec.with_site(None) == plain and plain.site is None
    assert (spec.base, spec.layer, spec.direction, spec.t, spec.relative, spec.gate,
            spec.kind) == (plain.base, plain.layer, plain.direction, plain.t, plain.relative,
                           plain.gate, plain.kind)
    assert vocab.site_view(site, bare) == name and vocab.site_view(None, bare) == bare


def test_site_views_keep_their_site_when_related():
    spec = ViewSpec.parse("decoder:hidden/L0/fwd@3")
    assert str(spec.without_step()) == "decoder:hidden/L0/fwd"
    assert spec.without_step().name == "decoder:hidden/L0/fwd"
    assert str(spec.without_step().at(-1)) == "decoder:hidden/L0/fwd@-1"
    assert str(spec.at_layer(2)) == "decoder:hidden/L2/fwd@3"
    assert str(ViewSpec.of("h_n", 0, "bwd", site="encoder#2")) == "encoder#2:h_n/L0/bwd"
    assert str(ViewSpec.parse("encoder#2:output@last").without_step()) == "encoder#2:output"


@pytest.mark.parametrize("name", ["encoder#1:h_n/L0/fwd", ":h_n/L0/fwd", "a b:output@last",
                                  "enc:nothing", "enc:h_n/L0/fwd:x", "1enc:output@last",
                                  "enc#:output"])
def test_bad_site_names(name):
    with pytest.raises(ConfigError):
        ViewSpec.parse(name)
    assert vocab.try_parse(name) is None


def test_names_without_site_parse_as_before():
    for name in vocab.VIEW_CATALOGUE:
        spec = vocab.try_parse(name.replace("{l}", "0").replace("{fwd,bwd}", "fwd")
                               .replace("{dir}", "fwd").replace("{i,f,g,o}", "f")
                               .replace("{r,z,n}", "r").replace("{name}", "g")
                               .replace("@t", "@2"))
        assert spec is not None and spec.site is None and spec.bare == spec.name
