"""How per-step states read a sentence (``probe_rnn.report.step_findings``): forward states count
positions from the first token, backward ones from the last, and in a bidirectional stack every
layer above the first has already seen the whole sentence."""

from __future__ import annotations

import pytest

from probe_rnn.report.step_findings import scan_order, sees_whole_sentence


@pytest.mark.parametrize(("base", "order"), [
    ("hidden/L0/fwd", ("start", False)), ("cell/L1/fwd", ("start", False)),
    ("hidden/L0/bwd", ("end", True)), ("cell/L2/bwd", ("end", True)),
    ("output", ("start", False)),
])
def test_scan_order_follows_the_direction(base: str, order: tuple[str, bool]) -> None:
    assert scan_order(base) == order


@pytest.mark.parametrize(("base", "bidirectional", "whole"), [
    ("hidden/L0/fwd", True, False),   # layer 0 reads tokens 0..t only
    ("hidden/L1/fwd", True, True),    # its input holds layer 0's backward half: all tokens
    ("cell/L2/bwd", True, True),
    ("hidden/L1/fwd", False, False),  # unidirectional: never
])
def test_sees_whole_sentence_above_the_first_bidirectional_layer(base, bidirectional, whole):
    assert sees_whole_sentence(base, bidirectional) is whole
