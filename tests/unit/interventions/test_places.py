"""Where a view's state sits in the twin: time index and loop step per row and direction."""

from __future__ import annotations

import pytest
import torch

from probe_rnn.errors import ConfigError
from probe_rnn.interventions.places import Place, places

LENGTHS = torch.tensor([5, 2, 7])


@pytest.mark.parametrize(("place", "packed", "times", "steps"), [
    (Place(0, 0, 0, "final"), True, [4, 1, 6], [4, 1, 6]),
    (Place(0, 0, 0, "final"), False, [6, 6, 6], [6, 6, 6]),  # padded: the fwd run reads pads
    (Place(0, 1, 0, "final"), True, [0, 0, 0], [4, 1, 6]),
    (Place(0, 1, 0, "final"), False, [0, 0, 0], [6, 6, 6]),
    (Place(0, 0, 0, "last"), False, [4, 1, 6], [4, 1, 6]),
    (Place(0, 1, 0, "last"), True, [4, 1, 6], [0, 0, 0]),
    (Place(0, 1, 0, "last"), False, [4, 1, 6], [2, 5, 0]),
    (Place(0, 1, 1, "t", 1), True, [1, 1, 1], [3, 0, 5]),
])
def test_time_and_step_per_row(place, packed, times, steps):
    assert place.times(LENGTHS, 7, packed).tolist() == times
    assert place.steps(LENGTHS, 7, packed).tolist() == steps


def test_views_resolve_to_their_parts_in_order():
    assert places("output@last", 2, 2, True) == [Place(1, 0, 0, "last"), Place(1, 1, 0, "last")]
    assert places("h_n/L0", 2, 2, False) == [Place(0, 0, 0, "final"), Place(0, 1, 0, "final")]
    assert places("c_n/L1/bwd", 2, 2, True) == [Place(1, 1, 1, "final")]
    assert places("hidden/L0/fwd@3", 1, 1, False) == [Place(0, 0, 0, "t", 3)]
    assert places("h_n/L0", 1, 1, False) == [Place(0, 0, 0, "final")]


@pytest.mark.parametrize("view", ["max(output)", "output@-1", "hidden/L0/fwd", "gate/L0/fwd/f@1",
                                  "cell/L0/fwd@1", "h_n/L2/fwd", "hidden/L0/bwd@0"])
def test_views_no_intervention_can_replace_are_refused(view):
    with pytest.raises(ConfigError, match=view.replace("(", r"\(").replace(")", r"\)")):
        places(view, 2, 1, False)
