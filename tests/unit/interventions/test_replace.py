"""State replacement through the unrolled twin: exact when nothing changes, and later steps,
layers and the head see a change (checked against the fused module itself)."""

from __future__ import annotations

import pytest
import torch

from probe_rnn.errors import ConfigError, DataError
from probe_rnn.interventions.replace import StateReplacer
from tests.unit.interventions.tiny import tiny_batch, tiny_parts

VIEWS = ["output@last", "h_n/L1/fwd", "h_n/L1/bwd", "h_n/L1", "c_n/L0/bwd", "hidden/L0/fwd@2",
         "hidden/L1/bwd@0", "cell/L1/fwd@1"]


def _fused(parts, ids, lengths):
    """(logits, output, h_n, c_n) of the model with its fused module, seen by a hook."""
    seen = []
    handle = parts.rnn.register_forward_hook(lambda _m, _a, o: seen.append(o))
    try:
        with torch.no_grad():
            logits = parts.forward(ids, lengths)
    finally:
        handle.remove()
    output, state = seen[0]
    output = torch.nn.utils.rnn.pad_packed_sequence(output, batch_first=True)[0] \
        if isinstance(output, torch.nn.utils.rnn.PackedSequence) else output
    h_n, c_n = state if isinstance(state, tuple) else (state, None)
    return logits, output, h_n, c_n


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
@pytest.mark.parametrize("packed", [True, False])
def test_identity_replacement_reproduces_the_fused_module(rnn, packed):
    parts = tiny_parts(rnn=rnn, layers=2, bidirectional=True, packed=packed)
    ids, lengths = tiny_batch()
    logits, output, h_n, c_n = _fused(parts, ids, lengths)
    replacer = StateReplacer(parts)
    views = [v for v in VIEWS if rnn == "lstm" or not v.startswith(("c", "cell"))]
    _, values = replacer.forward(ids, lengths, read=views)
    for view in views:
        again, _ = replacer.forward(ids, lengths, replace=(view, values[view]))
        twin = replacer.twin.last
        assert (again - logits).abs().max() <= 1e-5, view
        assert (twin.output[:, : output.shape[1]] - output).abs().max() <= 1e-5, view
        assert (twin.h_n - h_n).abs().max() <= 1e-5, view
        if c_n is not None:
            assert (twin.c_n - c_n).abs().max() <= 1e-5, view
    rows = torch.arange(len(lengths))
    assert torch.allclose(values["output@last"], output[rows, lengths - 1], atol=1e-6)
    assert torch.allclose(values["h_n/L1"], torch.cat([h_n[2], h_n[3]], 1), atol=1e-6)
    assert torch.allclose(values["h_n/L1/bwd"], h_n[3], atol=1e-6)


def test_a_replaced_state_feeds_later_steps_like_the_fused_module_from_there():
    """Reference: the fused LSTM run from step 1 on, started from the replaced state."""
    parts = tiny_parts(rnn="lstm", layers=1, packed=False)
    ids, lengths = tiny_batch(lengths=(6, 6, 6))
    replacer = StateReplacer(parts)
    _, clean = replacer.forward(ids, lengths, read=["hidden/L0/fwd@0", "cell/L0/fwd@0"])
    new = torch.randn(len(ids), 8, generator=torch.Generator().manual_seed(3))
    logits, seen = replacer.forward(ids, lengths, replace=("hidden/L0/fwd@0", new),
                                    read=["hidden/L0/fwd@0", "output@last"])
    assert torch.equal(seen["hidden/L0/fwd@0"], new)
    model = parts.model
    with torch.no_grad():
        emb = model.embedding(ids[:, 1:])
        rest, _ = model.rnn(emb, (new[None], clean["cell/L0/fwd@0"][None]))
        want = model.head(rest[:, -1])
    assert (seen["output@last"] - rest[:, -1]).abs().max() <= 1e-5
    assert (logits - want).abs().max() <= 1e-5
    assert (seen["output@last"] - clean_last(replacer, ids, lengths)).abs().max() > 1e-3


def clean_last(replacer, ids, lengths):
    return replacer.forward(ids, lengths, read=["output@last"])[1]["output@last"]


def test_bad_views_and_widths_are_refused():
    parts = tiny_parts(rnn="gru", layers=1)
    ids, lengths = tiny_batch()
    replacer = StateReplacer(parts)
    for view in ("mean(output)", "c_n/L0/fwd", "h_n/L3/fwd", "h_n/L0/bwd", "hidden/L0/fwd@-1"):
        with pytest.raises(ConfigError):
            replacer.places(view)
    with pytest.raises(DataError, match="width 8"):
        replacer.forward(ids, lengths, replace=("h_n/L0/fwd", torch.zeros(len(ids), 3)))


@pytest.mark.parametrize("rnn", ["lstm", "gru", "rnn", "rnn-relu"])
@pytest.mark.parametrize("packed", [True, False])
def test_fused_directions_elsewhere_give_the_stepped_run(rnn, packed):
    """A replaced run with every untouched (layer, direction) through the fused kernel equals
    the run that steps through every one, for a changed value (not only an identity)."""
    parts = tiny_parts(rnn=rnn, layers=2, bidirectional=True, packed=packed)
    ids, lengths = tiny_batch()
    fast, stepped = StateReplacer(parts), StateReplacer(parts, fused_elsewhere=False)
    views = [v for v in VIEWS if rnn == "lstm" or not v.startswith(("c", "cell"))]
    _, values = stepped.forward(ids, lengths, read=views)
    gen = torch.Generator().manual_seed(5)
    for view in views:
        new = values[view] + torch.randn(values[view].shape, generator=gen)
        want, _ = stepped.forward(ids, lengths, replace=(view, new))
        got, _ = fast.forward(ids, lengths, replace=(view, new))
        assert (got - want).abs().max() <= 1e-5, view
        assert (want - stepped.forward(ids, lengths)[0]).abs().max() > 1e-4, view  # it moved
        assert fast.twin.last.cell is None or rnn != "lstm"  # some direction ran fused
