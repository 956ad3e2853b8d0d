"""Replaced runs continued from the clean run equal the run that steps through every state.

The reference is the stepped twin with nothing fused (``fused_elsewhere=False``, no kept
states), itself checked against the fused module in ``test_replace.py``; every changed value
must move the logits, and the continued route must be the one taken (its states keep no
per-step ``hidden``).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probe_rnn.attribution.parts import find_parts
from probe_rnn.interventions.replace import StateReplacer
from tests.unit.interventions.tiny import tiny_batch, tiny_parts

VIEWS = ["output@last", "h_n/L1/fwd", "h_n/L1/bwd", "h_n/L1", "c_n/L1", "c_n/L0/bwd",
         "hidden/L0/fwd@2", "hidden/L0/bwd@1", "hidden/L1/fwd@0", "hidden/L1/fwd@4",
         "hidden/L1/bwd@0", "hidden/L1/bwd@3", "cell/L1/fwd@1", "cell/L1/bwd@2",
         "cell/L0/fwd@0"]


def _views(rnn: str) -> list[str]:
    return [v for v in VIEWS if rnn == "lstm" or not v.startswith(("c", "cell"))]


def _check(parts, ids, lengths, views, together=()):
    """Every view (and each group in ``together``) replaced by a changed value: continued
    == stepped, on all rows and on a reordered subset of them."""
    fast = StateReplacer(parts, batch_size=3)
    stepped = StateReplacer(parts, fused_elsewhere=False)
    every = list(dict.fromkeys([*views, *(v for group in together for v in group)]))
    _, values, clean = fast.read_clean(ids, lengths, every, [0, 1])
    base = stepped.forward(ids, lengths)[0]
    gen = torch.Generator().manual_seed(5)
    new = {v: values[v] + torch.randn(values[v].shape, generator=gen) for v in every}
    pick = torch.tensor([3, 0, 4, 1])
    for group in [[v] for v in views] + [list(g) for g in together]:
        pairs = [(v, new[v]) for v in group]
        want, _ = stepped.forward(ids, lengths, replace=pairs)
        got, _ = fast.forward(ids, lengths, replace=pairs, clean=clean,
                              rows=torch.arange(len(ids)))
        assert fast.twin.last.hidden is None, group  # continued, not stepped
        assert (got - want).abs().max() <= 1e-5, group
        some, _ = fast.forward(ids[pick], lengths[pick], replace=[(v, x[pick]) for v, x in pairs],
                               clean=clean, rows=pick)
        assert (some - want[pick]).abs().max() <= 1e-5, group
        assert (want - base).abs().max() > 1e-4, group  # the value changed something


@pytest.mark.parametrize("rnn", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("packed", [True, False])
def test_continued_runs_equal_the_stepped_run(rnn, packed):
    parts = tiny_parts(rnn=rnn, layers=2, bidirectional=True, packed=packed, readout="mean")
    ids, lengths = tiny_batch()
    together = [("hidden/L1/fwd@2", "cell/L1/fwd@2"), ("h_n/L1/bwd", "c_n/L1/bwd")]
    _check(parts, ids, lengths, _views(rnn), together if rnn == "lstm" else ())


class TimeMajor(nn.Module):
    """A tutorial-shaped model: time-major LSTM called with an explicit initial state,
    every step's output averaged into the head."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.embedding = nn.Embedding(12, 6)
        self.rnn = nn.LSTM(6, 8, num_layers=2, bidirectional=True)
        self.head = nn.Linear(16, 3)
        with torch.no_grad():
            for p in self.rnn.parameters():
                p.mul_(2.5)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids.T)
        h0 = torch.full((4, ids.shape[0], 8), 0.3)
        out, _ = self.rnn(x, (h0, torch.zeros_like(h0)))
        return self.head(out.mean(0))


def test_a_time_major_model_with_its_own_initial_state():
    model = TimeMajor().eval()
    parts = find_parts(model, lambda ids, lengths: model(ids))
    ids, lengths = tiny_batch()
    _check(parts, ids, lengths, ["h_n/L1/fwd", "hidden/L0/fwd@0", "cell/L0/fwd@0",
                                 "hidden/L1/bwd@6", "cell/L1/fwd@0", "output@last"])


def test_replacements_in_two_layers_step_through_instead():
    parts = tiny_parts(rnn="lstm", layers=2, bidirectional=True, readout="mean")
    ids, lengths = tiny_batch()
    fast = StateReplacer(parts)
    _, values, clean = fast.read_clean(ids, lengths, ["h_n/L0", "h_n/L1"], [0, 1])
    pairs = [("h_n/L0", values["h_n/L0"] + 1), ("h_n/L1", values["h_n/L1"] - 1)]
    got, _ = fast.forward(ids, lengths, replace=pairs, clean=clean, rows=torch.arange(5))
    assert fast.twin.last.hidden is not None  # not continued
    want, _ = StateReplacer(parts, fused_elsewhere=False).forward(ids, lengths, replace=pairs)
    assert (got - want).abs().max() <= 1e-5


def test_a_layer_whose_states_were_not_kept_steps_through_instead():
    parts = tiny_parts(rnn="gru", layers=2, bidirectional=True, readout="mean")
    ids, lengths = tiny_batch()
    fast = StateReplacer(parts)
    _, values, clean = fast.read_clean(ids, lengths, ["hidden/L0/fwd@1"], [1])
    assert set(clean.hidden) == {0, 1} and clean.layers == {1}
    pair = ("hidden/L0/fwd@1", values["hidden/L0/fwd@1"] * 2)
    got, _ = fast.forward(ids, lengths, replace=pair, clean=clean, rows=torch.arange(5))
    assert fast.twin.last.hidden is not None
    want, _ = StateReplacer(parts, fused_elsewhere=False).forward(ids, lengths, replace=pair)
    assert (got - want).abs().max() <= 1e-5


@pytest.mark.parametrize("packed", [True, False])
def test_kept_states_are_the_same_read_whole_in_chunks_or_grown(packed, monkeypatch):
    """The kept states written chunk by chunk into one buffer equal those of one run over
    every row (to float rounding: the batch differs), and, to the bit, those written into a
    buffer too short for them, grown as it fills."""
    from probe_rnn.interventions import replace

    parts = tiny_parts(rnn="lstm", layers=2, bidirectional=True, packed=packed)
    ids, lengths = tiny_batch()
    whole = StateReplacer(parts, batch_size=len(ids)).read_clean(ids, lengths, [], [1])[2]
    chunked = StateReplacer(parts, batch_size=2).read_clean(ids, lengths, [], [1])[2]
    builder = replace.CleanStatesBuilder
    monkeypatch.setattr(replace, "CleanStatesBuilder", lambda keep, _: builder(keep, 1))
    grown = StateReplacer(parts, batch_size=2).read_clean(ids, lengths, [], [1])[2]
    assert sorted(whole.hidden) == [0, 1] and sorted(whole.cell) == [1]
    assert len(whole.hidden[1]) == int(whole.eff.sum()) == len(grown.hidden[1])
    for other, same in ((chunked, torch.allclose), (grown, torch.equal)):
        assert torch.equal(other.eff, whole.eff) and torch.equal(other.offsets, whole.offsets)
        base = whole if other is chunked else chunked
        for k in (0, 1):
            assert same(other.hidden[k], base.hidden[k])
        assert same(other.cell[1], base.cell[1])
        assert same(other.h_n, base.h_n) and same(other.c_n, base.c_n)
