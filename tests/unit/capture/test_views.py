"""State views against manual indexing of the module's own results and the padded states."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from probe_rnn.capture import (
    available_views,
    record,
    sentence_view,
    sentence_view_masked,
    token_view,
)
from probe_rnn.catalogue import VIEW_CATALOGUE, parse_view
from probe_rnn.errors import ConfigError

LENGTHS = [4, 6, 1, 3]


@pytest.fixture(scope="module", params=["lstm", "gru"])
def captured(request):
    torch.manual_seed(0)
    cls = nn.LSTM if request.param == "lstm" else nn.GRU
    module = cls(3, 5, num_layers=2, bidirectional=True, batch_first=True).eval()
    x = torch.randn(4, 6, 3)
    packed = pack_padded_sequence(x, torch.tensor(LENGTHS), batch_first=True,
                                  enforce_sorted=False)
    with torch.no_grad():
        out, h = module(packed)
        with record(module) as rec:
            module(packed)
    padded, _ = pad_packed_sequence(out, batch_first=True)
    h_n = h[0] if isinstance(h, tuple) else h
    c_n = h[1] if isinstance(h, tuple) else None
    return rec[""], padded, h_n, c_n


def test_output_views(captured):
    st, padded, h_n, _ = captured
    last = torch.stack([padded[i, n - 1] for i, n in enumerate(LENGTHS)])
    torch.testing.assert_close(sentence_view(st, "output@last"), last)
    torch.testing.assert_close(sentence_view(st, "output@-1"), padded[:, -1])
    # padding is what naive code reads: zeros for rows shorter than the batch
    assert not sentence_view(st, "output@-1")[0].any()
    mean = torch.stack([padded[i, :n].mean(0) for i, n in enumerate(LENGTHS)])
    top = torch.stack([padded[i, :n].max(0).values for i, n in enumerate(LENGTHS)])
    torch.testing.assert_close(sentence_view(st, "mean(output)"), mean)
    torch.testing.assert_close(sentence_view(st, "max(output)"), top)
    # the forward half of output@last is the top layer's forward h_n
    torch.testing.assert_close(last[:, :5], h_n[2])


def test_final_state_views(captured):
    st, _, h_n, c_n = captured
    for layer in range(2):
        for d, name in enumerate(["fwd", "bwd"]):
            assert torch.equal(sentence_view(st, f"h_n/L{layer}/{name}"), h_n[layer * 2 + d])
            if c_n is not None:
                assert torch.equal(sentence_view(st, f"c_n/L{layer}/{name}"), c_n[layer * 2 + d])
        # h_n/L{l}: both directions of the layer, fwd then bwd, as cat(h_n[-2], h_n[-1])
        cat = torch.cat([h_n[layer * 2], h_n[layer * 2 + 1]], dim=1)
        assert torch.equal(sentence_view(st, f"h_n/L{layer}"), cat)
        if c_n is not None:
            assert torch.equal(sentence_view(st, f"c_n/L{layer}"),
                               torch.cat([c_n[layer * 2], c_n[layer * 2 + 1]], dim=1))


def test_concatenated_h_n_of_a_unidirectional_module_is_its_forward_h_n():
    torch.manual_seed(1)
    module = nn.GRU(3, 4, num_layers=2, batch_first=True).eval()
    x = torch.randn(3, 5, 3)
    with torch.no_grad(), record(module) as rec:
        _, h_n = module(x)
    st = rec[""]
    assert "h_n/L1" in available_views(st) and "h_n/L0" in available_views(st)
    for layer in range(2):
        assert torch.equal(sentence_view(st, f"h_n/L{layer}"), h_n[layer])
        assert torch.equal(sentence_view(st, f"h_n/L{layer}"),
                           sentence_view(st, f"h_n/L{layer}/fwd"))


def test_step_views_absolute_and_from_end(captured):
    st, _, _, _ = captured
    hidden = st.hidden
    values = sentence_view(st, "hidden/L0/bwd@3")
    for i, n in enumerate(LENGTHS):
        if n > 3:
            assert torch.equal(values[i], hidden[i, 3, 0, 1])
        else:
            assert all(math.isnan(v) for v in values[i].tolist())
    values, mask = sentence_view_masked(st, "hidden/L0/bwd@3")
    assert mask.tolist() == [n > 3 for n in LENGTHS]
    assert not values[~mask].any()
    back = sentence_view(st, "hidden/L1/fwd@-2")
    for i, n in enumerate(LENGTHS):
        if n >= 2:
            assert torch.equal(back[i], hidden[i, n - 2, 1, 0])
        else:
            assert all(math.isnan(v) for v in back[i].tolist())
    # @-1 of the forward top layer is h_n's forward half
    torch.testing.assert_close(sentence_view(st, "hidden/L1/fwd@-1"), st.h_n[2])
    if st.cell is not None:
        c = sentence_view(st, "cell/L1/bwd@0")
        torch.testing.assert_close(c, st.c_n[3])  # the backward direction ends at step 0


def test_token_views_are_flat_row_major(captured):
    st, padded, _, _ = captured
    flat = token_view(st, "output")
    manual = torch.cat([padded[i, :n] for i, n in enumerate(LENGTHS)])
    torch.testing.assert_close(flat, manual)
    assert flat.shape == (sum(LENGTHS), 10)
    h = token_view(st, "hidden/L0/bwd")
    assert torch.equal(h, torch.cat([st.hidden[i, :n, 0, 1] for i, n in enumerate(LENGTHS)]))
    if st.cell is not None:
        c = token_view(st, "cell/L1/fwd")
        assert torch.equal(c, torch.cat([st.cell[i, :n, 1, 0] for i, n in enumerate(LENGTHS)]))


def test_available_views(captured):
    st, *_ = captured
    names = available_views(st)
    assert names[:4] == ["output@last", "output@-1", "mean(output)", "max(output)"]
    assert "h_n/L1/bwd" in names and "hidden/L1/bwd" in names and "output" in names
    assert names.index("h_n/L1") == names.index("h_n/L1/bwd") + 1  # after its halves
    assert ("c_n/L0/fwd" in names) == (st.cell is not None)
    for name in names:
        spec = parse_view(name)
        fn = token_view if spec.kind == "token" else sentence_view
        assert fn(st, name).shape[0] == (sum(LENGTHS) if spec.kind == "token" else 4)


def test_parse_view():
    spec = parse_view("hidden/L2/bwd@-3")
    assert (spec.base, spec.layer, spec.direction, spec.t, spec.relative, spec.kind) == (
        "hidden", 2, "bwd", -3, True, "sentence")
    assert parse_view("cell/L0/fwd").kind == "token"
    assert parse_view("hidden/L0/fwd@4").relative is False
    assert parse_view("output@last").relative and not parse_view("output@-1").relative
    assert parse_view("h_n/L1/fwd").kind == "sentence"
    assert "output@last" in VIEW_CATALOGUE


@pytest.mark.parametrize("name", ["hidden", "h_n/Lx", "h_n/L0/up", "hidden/L0", "output@2",
                                  "h_n/L0/fwd@1", "mean(hidden)", "", "cell/Lx/fwd"])
def test_unknown_view_names(name):
    with pytest.raises(ConfigError, match="valid forms"):
        parse_view(name)


def test_views_not_available_for_these_states(captured):
    st, *_ = captured
    with pytest.raises(ConfigError, match="layer 2 does not exist"):
        sentence_view(st, "h_n/L2/fwd")
    with pytest.raises(ConfigError, match="token view"):
        sentence_view(st, "hidden/L0/fwd")
    with pytest.raises(ConfigError, match="sentence view"):
        token_view(st, "output@last")
    if st.cell is None:
        with pytest.raises(ConfigError, match="no cell state"):
            token_view(st, "cell/L0/fwd")


@pytest.mark.parametrize("time_major", [False, True])
def test_pooling_over_steps_equals_masking_the_rest(time_major):
    """``max_over_steps`` and ``mean_over_steps`` (what a store's pooled views are) against
    masking every step past a row's length, on outputs with garbage there (a module that ran
    over padding), batch-major or a time-major module's transposed view."""
    from probe_rnn.capture.views import max_over_steps, mean_over_steps

    torch.manual_seed(3)
    output = torch.randn(5, 7, 6) * 3
    if time_major:
        output = output.transpose(0, 1).contiguous().transpose(0, 1)
    lengths = torch.tensor([7, 1, 4, 7, 2])
    valid = torch.arange(7)[None, :] < lengths[:, None]
    expected_max = output.masked_fill(~valid[..., None], float("-inf")).max(1).values
    expected_mean = (output * valid[..., None]).sum(1) / lengths[:, None]
    assert torch.equal(max_over_steps(output, lengths), expected_max)
    torch.testing.assert_close(mean_over_steps(output, lengths), expected_mean, atol=1e-6,
                               rtol=1e-6)
    zeroed = output * valid[..., None]  # states' own padded output: zeros past the length
    assert torch.equal(mean_over_steps(zeroed, lengths, zero_padded=True), expected_mean)
    assert torch.isneginf(max_over_steps(output, torch.tensor([0, 1, 1, 1, 1]))[0]).all()
