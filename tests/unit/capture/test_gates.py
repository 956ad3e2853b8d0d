"""Gate views of LSTM/GRU: the captured gates reproduce the verified states (known answer), match
a hand-written reference, round-trip through a store, cost nothing unless read, fail clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from probe_rnn.capture import record, sentence_view, sentence_view_masked, token_view
from probe_rnn.capture.run_capture import capture_states
from probe_rnn.capture.views import (
    available_views,
    gate_views,
    parse_view,
    resolve_views,
    views_for,
)
from probe_rnn.data.tokenizers import Tokenizer
from probe_rnn.errors import CaptureError, CaptureMismatchError, ConfigError
from probe_rnn.models.adapters import ProbeRnnAdapter
from probe_rnn.models.bundle import ModelBundle
from probe_rnn.models.classifier import RNNClassifier
from probe_rnn.models.config import ModelConfig

LENGTHS = [4, 6, 1, 3]  # unsorted
DIRS = ("fwd", "bwd")


def _record(cls: type, bidirectional: bool, packed: bool, grad: bool = False, **kw):
    """A 2-layer module, its input and the recorded (every call verified) states."""
    torch.manual_seed(0)
    module = cls(3, 5, num_layers=2, bidirectional=bidirectional, batch_first=True, **kw).eval()
    x = torch.randn(4, 6, 3)
    arg = (pack_padded_sequence(x, torch.tensor(LENGTHS), batch_first=True, enforce_sorted=False)
           if packed else x)
    with torch.set_grad_enabled(grad), record(module, verify="every") as rec:
        module(arg)
    return module, x, rec[""]


def _previous(states: torch.Tensor, direction: int) -> torch.Tensor:
    """``(batch, time, size)`` padded states -> the state each step starts from (zeros: h0/c0).
    Padded states are zero past each row's length, so the backward shift needs no mask."""
    prev = torch.zeros_like(states)
    if direction == 0:
        prev[:, 1:] = states[:, :-1]
    else:
        prev[:, :-1] = states[:, 1:]
    return prev


def _valid(st) -> torch.Tensor:
    return torch.arange(st.time)[None, :] < st.lengths[:, None]


CASES = [(cls, bi, packed) for cls in (nn.LSTM, nn.GRU) for bi in (False, True)
         for packed in (True, False)]


@pytest.mark.parametrize(("cls", "bidirectional", "packed"), CASES,
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_gates_alone_reproduce_the_verified_states(cls, bidirectional, packed):
    """Known answer: c_t = f*c_{t-1} + i*g, h_t = o*tanh(c_t) (LSTM), h_t = (1-z)*n + z*h_{t-1}
    (GRU), from the captured gates and states only (h0 = c0 = 0)."""
    _, _, st = _record(cls, bidirectional, packed)
    assert st.verified
    valid = _valid(st)
    for layer in range(2):
        for d in range(st.num_directions):
            g = {name: sentence_view(st, f"gate/L{layer}/{DIRS[d]}/{name}@0")
                 for name in st.gate_names}  # smoke: the @t form exists
            assert all(v.shape == (4, 5) for v in g.values())
            gate = {name: st.gate_padded(layer, d, name) for name in st.gate_names}
            h = st.hidden[:, :, layer, d]
            h_prev = _previous(h, d)
            if cls is nn.LSTM:
                c = st.cell[:, :, layer, d]
                c_hat = gate["f"] * _previous(c, d) + gate["i"] * gate["g"]
                h_hat = gate["o"] * torch.tanh(c_hat)
                torch.testing.assert_close(c_hat[valid], c[valid], atol=1e-5, rtol=0)
            else:
                h_hat = (1 - gate["z"]) * gate["n"] + gate["z"] * h_prev
            torch.testing.assert_close(h_hat[valid], h[valid], atol=1e-5, rtol=0)


def _reference_gates(module: nn.Module, kind: str, layer: int, d: int, x: torch.Tensor,
                     h_prev: torch.Tensor) -> dict[str, torch.Tensor]:
    """nn.LSTMCell/nn.GRUCell math from the module's named weights."""
    sfx = f"l{layer}" + ("_reverse" if d else "")
    w_ih, w_hh = getattr(module, f"weight_ih_{sfx}"), getattr(module, f"weight_hh_{sfx}")
    b_ih, b_hh = getattr(module, f"bias_ih_{sfx}"), getattr(module, f"bias_hh_{sfx}")
    gi, gh = x @ w_ih.T + b_ih, h_prev @ w_hh.T + b_hh
    if kind == "lstm":
        i, f, g, o = (gi + gh).chunk(4, -1)
        return {"i": i.sigmoid(), "f": f.sigmoid(), "g": g.tanh(), "o": o.sigmoid()}
    (ir, iz, in_), (hr, hz, hn) = gi.chunk(3, -1), gh.chunk(3, -1)
    r = (ir + hr).sigmoid()
    return {"r": r, "z": (iz + hz).sigmoid(), "n": (in_ + r * hn).tanh()}


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU], ids=["lstm", "gru"])
@pytest.mark.parametrize("grad", [False, True], ids=["loop", "kernel"])
def test_gates_match_a_hand_written_reference(cls, grad):
    module, x, st = _record(cls, True, True, grad=grad)
    kind = "lstm" if cls is nn.LSTM else "gru"
    valid = _valid(st)
    with torch.no_grad():
        # layer 0, step 0, forward: h_{-1} = 0, directly from the module's input
        ref = _reference_gates(module, kind, 0, 0, x[:, 0], torch.zeros(4, 5))
        for name, value in ref.items():
            torch.testing.assert_close(token_view(st, f"gate/L0/fwd/{name}")[
                torch.tensor([0, *np.cumsum(LENGTHS)[:-1]])], value, atol=1e-6, rtol=0)
            torch.testing.assert_close(sentence_view(st, f"gate/L0/fwd/{name}@0"), value,
                                       atol=1e-6, rtol=0)
        # every step of every layer/direction: input [fwd, bwd] of layer l-1, h_{t-1} captured
        for layer in range(2):
            inp = x if layer == 0 else st.hidden[:, :, layer - 1].flatten(2)
            for d in range(2):
                h_prev = _previous(st.hidden[:, :, layer, d], d)
                ref = _reference_gates(module, kind, layer, d, inp, h_prev)
                for name, value in ref.items():
                    got = st.gate_padded(layer, d, name)
                    torch.testing.assert_close(got[valid], value[valid], atol=1e-6, rtol=0)
                    assert not got[~valid].any()
        # a backward @-1 is each row's last step, where the backward direction starts (h = 0)
        last = x[torch.arange(4), torch.tensor(LENGTHS) - 1]
        ref = _reference_gates(module, kind, 0, 1, last, torch.zeros(4, 5))
        name = "f" if kind == "lstm" else "z"
        torch.testing.assert_close(sentence_view(st, f"gate/L0/bwd/{name}@-1"), ref[name],
                                   atol=1e-6, rtol=0)


def test_lstm_with_proj_size_feeds_back_the_projected_h():
    module, x, st = _record(nn.LSTM, True, True, proj_size=2)
    valid = _valid(st)
    for layer in range(2):
        for d in range(2):
            gate = {name: st.gate_padded(layer, d, name) for name in "ifgo"}
            c = st.cell[:, :, layer, d]
            c_hat = gate["f"] * _previous(c, d) + gate["i"] * gate["g"]
            w_hr = getattr(module, f"weight_hr_l{layer}" + ("_reverse" if d else ""))
            h_hat = (gate["o"] * torch.tanh(c_hat)) @ w_hr.detach().T
            torch.testing.assert_close(c_hat[valid], c[valid], atol=1e-5, rtol=0)
            torch.testing.assert_close(h_hat[valid], st.hidden[:, :, layer, d][valid],
                                       atol=1e-5, rtol=0)


def test_gates_cost_nothing_unless_read():
    _, _, st = _record(nn.LSTM, True, True)
    for name in available_views(st):
        fn = token_view if parse_view(name).kind == "token" else sentence_view
        fn(st, name)
    assert st._gates == {}  # no default view touched the gates
    token_view(st, "gate/L1/bwd/o")
    assert list(st._gates) == [(1, 1)]  # one layer/direction, computed once, cached
    first = st._gates[(1, 1)]
    sentence_view(st, "gate/L1/bwd/g@2")
    assert st._gates[(1, 1)] is first


def test_default_views_have_no_gates():
    for has_cell in (True, False):
        assert not [v for v in views_for(2, 2, has_cell) if v.startswith("gate/")]
    _, _, st = _record(nn.GRU, True, True)
    assert not [v for v in available_views(st) if "gate" in v]
    assert not [v for v in resolve_views(available_views(st), None) if "gate" in v]
    assert len(gate_views(st)) == 2 * 2 * 3


def test_resolve_views_accepts_gates_only_when_asked():
    _, _, st = _record(nn.LSTM, True, True)
    got = resolve_views(available_views(st), ["gate/L0/fwd/f@-1", "gate/L1/bwd/i", "output@last"],
                        optional=gate_views(st))
    assert got == {"gate/L0/fwd/f": "token", "gate/L1/bwd/i": "token", "output@last": "sentence"}
    # without the states (the CLI's early check): gates inferred from the module's shape
    assert resolve_views(views_for(2, 2, True), ["gate/L1/bwd/o@3"]) == {"gate/L1/bwd/o": "token"}
    assert resolve_views(views_for(1, 1, False), ["gate/L0/fwd/z"]) == {"gate/L0/fwd/z": "token"}
    for names, shape in ((["gate/L0/fwd/f"], (2, 2, False)), (["gate/L2/fwd/i"], (2, 2, True)),
                         (["gate/L0/bwd/i"], (2, 1, True))):
        with pytest.raises(ConfigError, match="not available") as err:
            resolve_views(views_for(*shape), names)
        assert "\n" not in str(err.value)


def test_parse_gate_views():
    spec = parse_view("gate/L1/bwd/f@-2")
    assert (spec.base, spec.layer, spec.direction, spec.gate, spec.t, spec.relative,
            spec.kind) == ("gate", 1, "bwd", "f", -2, True, "sentence")
    assert parse_view("gate/L0/fwd/n").kind == "token"
    assert parse_view("gate/L0/fwd/n@3").relative is False
    for bad in ("gate/L0/fwd", "gate/L0/fwd/x", "gate/L0/up/f", "gate/fwd/f@1"):
        with pytest.raises(ConfigError, match="valid forms"):
            parse_view(bad)


def _one_line(err: pytest.ExceptionInfo) -> str:
    assert "\n" not in str(err.value)
    return str(err.value)


def test_gates_the_module_does_not_have():
    _, _, gru = _record(nn.GRU, True, True)
    with pytest.raises(ConfigError, match="gates are r, z, n") as err:
        token_view(gru, "gate/L0/fwd/f")
    assert "gate/L1/bwd/n" in _one_line(err)  # lists what is available
    with pytest.raises(ConfigError, match="layer 2 does not exist") as err:
        sentence_view(gru, "gate/L2/fwd/r@-1")
    _one_line(err)
    _, _, uni = _record(nn.LSTM, False, True)
    with pytest.raises(ConfigError, match="not bidirectional") as err:
        token_view(uni, "gate/L0/bwd/i")
    _one_line(err)
    _, _, rnn = _record(nn.RNN, True, True)
    assert gate_views(rnn) == [] and rnn.gate_names == ()
    with pytest.raises(ConfigError, match="has no gates") as err:
        token_view(rnn, "gate/L0/fwd/r")
    _one_line(err)
    cell = nn.LSTMCell(3, 4)
    with torch.no_grad(), record(cell) as rec:
        h = c = torch.zeros(2, 4)
        for _ in range(3):
            h, c = cell(torch.randn(2, 3), (h, c))
    with pytest.raises(ConfigError, match="cell looped by the model") as err:
        token_view(rec[""], "gate/L0/fwd/i")
    _one_line(err)


def test_changed_weights_or_states_are_refused():
    module, _, st = _record(nn.GRU, False, True)
    st.hidden_layers[0][:, 0].add_(0.1)  # the states no longer follow from the weights
    with pytest.raises(CaptureMismatchError, match="gates"):
        token_view(st, "gate/L0/fwd/z")
    module, _, st = _record(nn.LSTM, False, True)
    with torch.no_grad():
        module.weight_hh_l0.mul_(2)  # e.g. an optimizer step before the gates were read
    with pytest.raises(CaptureError, match="changed in place"):
        token_view(st, "gate/L0/fwd/f")


# -- through a store ----------------------------------------------------------------------
def _bundle(rnn: str, packed: bool) -> ModelBundle:
    tok = Tokenizer("char").fit(list("abcdefg"))
    cfg = ModelConfig(vocab_size=len(tok), n_labels=2, rnn=rnn, embedding_dim=4, hidden=4,
                      layers=2, bidirectional=True, packed=packed)
    torch.manual_seed(0)
    return ModelBundle(model=RNNClassifier(cfg), tokenizer=tok, labels=["x", "y"], config=cfg,
                       meta={}, adapter=ProbeRnnAdapter(tok), source="test", checksum="t")


def _table(n: int = 9) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(list("abcdefg"), size=rng.integers(1, 8))) for _ in range(n)]
    return pd.DataFrame({"text": texts, "label": ["x" if "a" in t else "y" for t in texts]})


@pytest.mark.parametrize(("rnn", "packed"), [("lstm", True), ("gru", False)])
def test_gate_views_through_a_store(tmp_path: Path, rnn: str, packed: bool):
    bundle, df = _bundle(rnn, packed), _table()
    g = "f" if rnn == "lstm" else "z"
    views = [f"gate/L0/fwd/{g}", f"gate/L1/bwd/{g}@-1", f"gate/L0/bwd/{g}@1", "output@last"]
    store = capture_states(bundle, df, tmp_path / "s", views=views, dtype="float32", batch_size=4)
    assert store.views == [f"gate/L0/fwd/{g}", f"gate/L1/bwd/{g}", f"gate/L0/bwd/{g}",
                           "output@last"]  # @t views store their per-token base
    texts = list(df["text"])
    tokens, masked, ends = [], [], []
    with torch.no_grad(), record(bundle.model, ["rnn"]) as rec:
        for start in range(0, len(texts), 4):
            batch = bundle.adapter.encode(texts[start : start + 4])
            bundle.adapter.forward(bundle.model, batch)
            st = rec["rnn"]
            lengths = batch["lengths"].tolist()
            fwd = st.gate_padded(0, 0, g)
            tokens += [fwd[b, :n] for b, n in enumerate(lengths)]
            # padded models run over the padding: the gates at each row's real tokens
            bwd = st.gate_padded(1, 1, g)
            ends += [bwd[b, n - 1] for b, n in enumerate(lengths)]
            if packed:
                masked.append(sentence_view_masked(st, f"gate/L0/bwd/{g}@1"))
    flat, offsets = store.tokens(f"gate/L0/fwd/{g}")
    np.testing.assert_array_equal(offsets[1:] - offsets[:-1], [len(t) for t in tokens])
    np.testing.assert_allclose(flat, torch.cat(tokens).numpy(), atol=1e-7, rtol=0)
    assert store.kind(f"gate/L1/bwd/{g}@-1") == "sentence"
    np.testing.assert_allclose(store.sentence(f"gate/L1/bwd/{g}@-1"), torch.stack(ends).numpy(),
                               atol=1e-7, rtol=0)
    if packed:
        values, mask = store.sentence_masked(f"gate/L0/bwd/{g}@1")
        ref_mask = torch.cat([m for _, m in masked]).numpy()
        np.testing.assert_array_equal(mask, ref_mask)
        np.testing.assert_allclose(values[mask], torch.cat([v for v, _ in masked]).numpy()[
            ref_mask], atol=1e-7, rtol=0)


def test_capture_refuses_a_gate_the_module_lacks(tmp_path: Path):
    with pytest.raises(ConfigError, match="not available") as err:
        capture_states(_bundle("gru", True), _table(4), tmp_path / "s", views=["gate/L0/fwd/f"])
    _one_line(err)
    assert not (tmp_path / "s" / "manifest.json").exists()
