"""The unrolled twin equals the fused module and a hand-written cell loop; it refuses to lie."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from probe_rnn.attribution import UnrolledRNN, find_parts, twin_in_place, verify_twin
from probe_rnn.errors import AttributionError
from tests.unit.attribution.attr_tiny import tiny_model


@pytest.mark.parametrize("rnn,bi,packed", list(itertools.product(
    ["lstm", "gru", "rnn", "rnn-relu"], [False, True], [True, False])))
def test_twin_equals_fused_module(rnn, bi, packed, batch):
    model = tiny_model(rnn, layers=2, bidirectional=bi, packed=packed)
    ids, lengths = batch
    twin = UnrolledRNN(model.rnn)
    assert verify_twin(twin, model, ids, lengths) < 1e-5
    with torch.no_grad(), twin_in_place(twin):
        logits = model(ids, lengths)
    assert torch.allclose(logits, model(ids, lengths), atol=1e-5)


def test_twin_handles_projection_time_major_and_initial_state():
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 6, num_layers=2, proj_size=3, bidirectional=True)  # time-major
    x, h0, c0 = torch.randn(5, 2, 4), torch.randn(4, 2, 3), torch.randn(4, 2, 6)
    out, (h, c) = lstm(x, (h0, c0))
    out2, (h2, c2) = UnrolledRNN(lstm).module_call((x, (h0, c0)), {})
    for a, b in ((out, out2), (h, h2), (c, c2)):
        assert torch.allclose(a, b, atol=1e-6)


def test_states_match_hand_written_cell_loop(batch):
    """Layer-0 forward states against nn.LSTMCell run step by step on each row's tokens."""
    model = tiny_model("lstm", layers=2, bidirectional=True)
    ids, lengths = batch
    twin = UnrolledRNN(model.rnn)
    with torch.no_grad(), twin_in_place(twin):
        model(ids, lengths)
    cell = nn.LSTMCell(6, 8)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in model.rnn.state_dict().items()
                          if k.endswith("_l0")})
    with torch.no_grad():
        for b, n in enumerate(lengths.tolist()):
            h = c = torch.zeros(1, 8)
            for t in range(n):
                h, c = cell(model.embedding(ids[b, t:t + 1]), (h, c))
                assert torch.allclose(twin.last.hidden[b, t, 0, 0], h[0], atol=1e-6)
                assert torch.allclose(twin.last.cell[b, t, 0, 0], c[0], atol=1e-6)


def test_verify_twin_raises_when_twin_differs(batch, monkeypatch):
    model = tiny_model("gru")
    ids, lengths = batch
    twin = UnrolledRNN(model.rnn)
    original = twin._cell
    monkeypatch.setattr(twin, "_cell", lambda *a: (original(*a)[0] + 1e-2, None))
    with pytest.raises(AttributionError, match="differs from the fused GRU"):
        verify_twin(twin, model, ids, lengths)


def test_module_forward_is_restored(batch):
    model = tiny_model("lstm")
    parts = find_parts(model)
    with twin_in_place(UnrolledRNN(parts.rnn)):
        assert "forward" in vars(parts.rnn)
    assert "forward" not in vars(parts.rnn)
