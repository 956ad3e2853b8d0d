"""Exact recurrent states from ``record`` against an independent, hand-written step loop.

The reference runs every row on its own, step by step, with ``nn.LSTMCell``/``nn.GRUCell``/
``nn.RNNCell`` (explicit gate math for ``proj_size``) holding copies of the module's weights, over
a matrix of module type x layers x bidirectional x batch_first x input form x initial state.
Both capture routes are exercised: the first call in a block is the checked one, the second the
fast loop (LSTM) or kernel route.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from probe_rnn.capture import record

IN, HID, PROJ = 3, 4, 2
KINDS = ["rnn-tanh", "rnn-relu", "gru", "lstm", "lstm-proj"]
FORMS = ["packed-sorted", "packed-unsorted", "padded"]


def make_module(kind: str, layers: int, bidirectional: bool, batch_first: bool) -> nn.Module:
    kw = {"num_layers": layers, "bidirectional": bidirectional, "batch_first": batch_first}
    if kind.startswith("rnn"):
        return nn.RNN(IN, HID, nonlinearity=kind[4:], **kw).eval()
    if kind == "gru":
        return nn.GRU(IN, HID, **kw).eval()
    return nn.LSTM(IN, HID, proj_size=PROJ if kind == "lstm-proj" else 0, **kw).eval()


def _weights(module: nn.Module, layer: int, d: int) -> dict[str, torch.Tensor]:
    sfx = f"l{layer}{'_reverse' if d else ''}"
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"]
    return {n: getattr(module, f"{n}_{sfx}") for n in names if hasattr(module, f"{n}_{sfx}")}


def _reference_cell(kind: str, w: dict):
    """A step function for one row (batch of 1): a cell holding copies of the weights."""
    if kind == "lstm-proj":  # explicit gate math: no cell class projects

        def step(x, h, c):
            gates = x @ w["weight_ih"].T + w["bias_ih"] + h @ w["weight_hh"].T + w["bias_hh"]
            i, f, g, o = gates.chunk(4, 1)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            return (o.sigmoid() * c.tanh()) @ w["weight_hr"].T, c

        return step
    size, dtype = w["weight_ih"].shape[1], w["weight_ih"].dtype
    if kind == "lstm":
        cell = nn.LSTMCell(size, HID, dtype=dtype)
    elif kind == "gru":
        cell = nn.GRUCell(size, HID, dtype=dtype)
    else:
        cell = nn.RNNCell(size, HID, nonlinearity=kind[4:], dtype=dtype)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(w[name])
    if kind == "lstm":
        return lambda x, h, c: cell(x, (h, c))
    return lambda x, h, c: (cell(x, h), None)


def reference(kind, module, x_rows, lengths, h0, c0):
    """Per row: hidden (len, layers, dirs, out) and cell (len, layers, dirs, HID) or None."""
    dirs = 2 if module.bidirectional else 1
    cells = {(layer, d): _reference_cell(kind, _weights(module, layer, d))
             for layer in range(module.num_layers) for d in range(dirs)}
    out_hidden, out_cell = [], []
    for row, length in enumerate(lengths):
        layer_in = x_rows[row][:length]
        hs, cs = [], []
        for layer in range(module.num_layers):
            h_dirs, c_dirs = [], []
            for d in range(dirs):
                k = layer * dirs + d
                h = h0[k, row : row + 1]
                c = c0[k, row : row + 1] if c0 is not None else None
                h_seq, c_seq = [None] * length, [None] * length
                for t in (reversed(range(length)) if d else range(length)):
                    h, c = cells[layer, d](layer_in[t : t + 1], h, c)
                    h_seq[t], c_seq[t] = h[0], c
                h_dirs.append(torch.stack(h_seq))
                if c is not None:
                    c_dirs.append(torch.stack([v[0] for v in c_seq]))
            hs.append(torch.stack(h_dirs, 1))
            cs.append(torch.stack(c_dirs, 1) if c_dirs else None)
            layer_in = torch.cat(h_dirs, 1)
        out_hidden.append(torch.stack(hs, 1))
        out_cell.append(torch.stack(cs, 1) if cs[0] is not None else None)
    return out_hidden, out_cell


def _inputs(form: str, batch_first: bool, lengths: list[int], x: torch.Tensor):
    """x: (batch, time, IN) -> the module input of that form, and the per-row valid lengths."""
    xm = x if batch_first else x.transpose(0, 1)
    if form == "padded":
        return xm, [x.shape[1]] * x.shape[0]
    t = torch.tensor(lengths)
    if form == "packed-sorted":
        return pack_padded_sequence(xm, t, batch_first=batch_first), lengths
    return pack_padded_sequence(xm, t, batch_first=batch_first, enforce_sorted=False), lengths


def check_against_reference(kind, layers, bidirectional, batch_first, form, given_hx, lengths,
                            seed=0, lazy_cells=False):
    torch.manual_seed(seed)
    module = make_module(kind, layers, bidirectional, batch_first)
    batch, time = len(lengths), max(lengths)
    x = torch.randn(batch, time, IN)
    inp, valid = _inputs(form, batch_first, lengths, x)
    dirs = 2 if bidirectional else 1
    out = PROJ if kind == "lstm-proj" else HID
    lstm = kind.startswith("lstm")
    h0 = torch.randn(layers * dirs, batch, out) if given_hx else torch.zeros(layers * dirs,
                                                                               batch, out)
    c0 = (torch.randn(layers * dirs, batch, HID) if given_hx else
          torch.zeros(layers * dirs, batch, HID)) if lstm else None
    hx = ((h0, c0) if lstm else h0) if given_hx else None
    with torch.no_grad():
        expected_out = module(inp, hx)
        with record(module, verify="first", lazy_cells=lazy_cells) as rec:
            got = [module(inp, hx), module(inp, hx)]
        ref_h, ref_c = reference(kind, module, x, valid, h0, c0)
    if lazy_cells:  # the padded output and h_n are read first, as a capture of sentence views
        for states in rec.calls(""):
            top = states.output.view(batch, time, dirs, out)
            for row, length in enumerate(valid):
                torch.testing.assert_close(top[row, :length], ref_h[row][:, -1], atol=1e-5,
                                           rtol=1e-5)
    for returned, states in zip(got, rec.calls(""), strict=True):
        assert states.lengths.tolist() == valid
        hidden = states.hidden
        assert hidden.shape == (batch, time, layers, dirs, out)
        for row, length in enumerate(valid):
            torch.testing.assert_close(hidden[row, :length], ref_h[row], atol=1e-5, rtol=1e-5)
            assert not hidden[row, length:].any()
            if lstm:
                torch.testing.assert_close(states.cell[row, :length], ref_c[row], atol=1e-5,
                                           rtol=1e-5)
                assert not states.cell[row, length:].any()
        assert (states.cell is None) == (not lstm)
        # what the model downstream sees is what the module returns
        for a, b in zip(torch.utils._pytree.tree_leaves(returned),
                        torch.utils._pytree.tree_leaves(expected_out), strict=True):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
        exp_hn = expected_out[1][0] if lstm else expected_out[1]
        torch.testing.assert_close(states.h_n, exp_hn, atol=1e-6, rtol=1e-6)
    assert [s.verified for s in rec.calls("")] == [True, False]


MATRIX = list(itertools.product(KINDS, [1, 3], [False, True], [False, True], FORMS,
                                [False, True]))


@pytest.mark.parametrize(("kind", "layers", "bidirectional", "batch_first", "form", "hx"), MATRIX)
def test_states_match_reference(kind, layers, bidirectional, batch_first, form, hx):
    lengths = [5, 3, 2] if form == "packed-sorted" else [2, 5, 1]
    check_against_reference(kind, layers, bidirectional, batch_first, form, hx, lengths)


@pytest.mark.parametrize(("kind", "bidirectional", "batch_first", "form"),
                         list(itertools.product(KINDS, [False, True], [False, True], FORMS)))
def test_lazy_cells_give_the_same_states(kind, bidirectional, batch_first, form):
    """``lazy_cells``: every h from the fused kernel, the LSTM cells computed when read; the
    same states as the hand-written loop, the padded output read before anything else."""
    lengths = [5, 3, 2] if form == "packed-sorted" else [2, 5, 1]
    check_against_reference(kind, 2, bidirectional, batch_first, form, True, lengths,
                            lazy_cells=True)


def test_lazy_cells_are_computed_only_when_read(monkeypatch):
    from probe_rnn.capture import kernel_route

    computed = []
    check_states = kernel_route.check_states
    monkeypatch.setattr(kernel_route, "check_states",
                        lambda *a, **k: computed.append(1) or check_states(*a, **k))
    torch.manual_seed(5)
    module = make_module("lstm", 2, True, True)
    x = torch.randn(3, 6, IN)
    with torch.no_grad(), record(module, lazy_cells=True) as rec:
        for _ in range(2):
            module(x)
    states = rec.calls("")[1]
    _ = states.output, states.h_n, states.c_n
    assert states.has_cell and not computed  # neither call recomputed a cell so far
    assert states.cell is not None and len(computed) == 1
    with torch.no_grad(), record(module) as eager:
        module(x), module(x)
    torch.testing.assert_close(states.cell, eager.calls("")[1].cell, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(states.hidden, eager.calls("")[1].hidden, atol=1e-6, rtol=1e-6)


@settings(max_examples=15, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=5),
    bidirectional=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_random_lengths_match_reference(kind, lengths, bidirectional, seed):
    check_against_reference(kind, 2, bidirectional, True, "packed-unsorted", False, lengths,
                            seed=seed)


@pytest.mark.parametrize("kind", KINDS)
def test_row_states_do_not_depend_on_batch_mates_or_padding(kind):
    torch.manual_seed(1)
    module = make_module(kind, 2, True, True)
    x = torch.randn(4, 7, IN)
    lengths = torch.tensor([3, 7, 5, 2])
    with torch.no_grad(), record(module) as rec:
        for _ in range(2):  # checked route, then the loop route
            module(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
            alone_x = torch.cat([x[2:3, :5], torch.randn(1, 4, IN)], 1)  # other padding
            module(pack_padded_sequence(alone_x, torch.tensor([5]), batch_first=True))
            batch, alone = rec.calls("")[-2:]
            torch.testing.assert_close(batch.hidden[2, :5], alone.hidden[0, :5], atol=1e-6,
                                       rtol=1e-6)
            if batch.cell is not None:
                torch.testing.assert_close(batch.cell[2, :5], alone.cell[0, :5], atol=1e-6,
                                           rtol=1e-6)


@pytest.mark.parametrize("verify", ["first", "every"])
def test_packed_lstm_output_is_bit_identical(verify):
    torch.manual_seed(2)
    module = nn.LSTM(5, 8, num_layers=2, bidirectional=True, batch_first=True).eval()
    x = torch.randn(5, 9, 5)
    packed = pack_padded_sequence(x, torch.tensor([4, 9, 2, 7, 7]), batch_first=True,
                                  enforce_sorted=False)
    with torch.no_grad():
        plain = module(packed)
        with record(module, verify=verify) as rec:
            calls = [module(packed) for _ in range(3)]
    for out, (h_n, c_n) in calls:
        assert torch.equal(out.data, plain[0].data)
        assert torch.equal(h_n, plain[1][0])
        assert torch.equal(c_n, plain[1][1])
    assert [c.verified for c in rec.calls("")] == ([True] * 3 if verify == "every" else
                                                   [True, False, False])


def test_unbatched_input():
    torch.manual_seed(3)
    module = nn.GRU(IN, HID, num_layers=2).eval()
    x = torch.randn(4, IN)
    with torch.no_grad():
        plain_out, plain_h = module(x)
        with record(module) as rec:
            out, h = module(x)
    assert torch.equal(out, plain_out) and torch.equal(h, plain_h)
    torch.testing.assert_close(rec[""].hidden[0, :, -1, 0], plain_out)


def test_autograd_flows_as_without_record():
    torch.manual_seed(4)
    module = nn.LSTM(IN, HID, num_layers=2, bidirectional=True).train()
    x = torch.randn(5, 2, IN)
    module(x)[0].sum().backward()
    grad = module.weight_hh_l0.grad.clone()
    module.zero_grad()
    with record(module) as rec:
        module(x)[0].sum().backward()
    torch.testing.assert_close(module.weight_hh_l0.grad, grad)
    assert not rec[""].hidden.requires_grad


@pytest.mark.parametrize("kind", ["lstm", "lstm-proj", "gru"])
def test_float64_modules(kind):
    torch.manual_seed(7)
    module = make_module(kind, 2, True, True).double()
    x = torch.randn(3, 5, IN, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.tensor([5, 2, 4]), batch_first=True,
                                  enforce_sorted=False)
    with torch.no_grad():
        expected = module(packed)
        with record(module, verify="every") as rec:
            got = [module(packed) for _ in range(2)]
        ref_h, _ = reference(kind, module, x, [5, 2, 4], *_zeros(module, kind))
    for out in got:
        torch.testing.assert_close(out[0].data, expected[0].data, atol=1e-12, rtol=1e-12)
    for row, length in enumerate([5, 2, 4]):
        torch.testing.assert_close(rec[""].hidden[row, :length], ref_h[row], atol=1e-12,
                                   rtol=1e-12)


def _zeros(module, kind):
    dirs = 2 if module.bidirectional else 1
    out = PROJ if kind == "lstm-proj" else HID
    h0 = torch.zeros(module.num_layers * dirs, 3, out, dtype=torch.float64)
    c0 = torch.zeros(module.num_layers * dirs, 3, HID, dtype=torch.float64)
    return h0, (c0 if kind.startswith("lstm") else None)
