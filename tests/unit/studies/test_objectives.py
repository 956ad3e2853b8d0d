"""Objectives: each readout and loss belongs to its objective; unknown names are refused with
the fix."""

from __future__ import annotations

import pytest

from probe_rnn.errors import ParameterError
from probe_rnn.studies import parse_losses, parse_readouts


def _refusal(call) -> ParameterError:
    with pytest.raises(ParameterError) as caught:
        call()
    return caught.value


def test_zero_and_losses_belong_to_their_objective() -> None:
    assert parse_readouts(["hidden", "zero"], "autoencode") == ("hidden", "zero")
    error = _refusal(lambda: parse_readouts(["last", "zero"], "classify"))
    assert (error.parameter, error.got) == ("readouts", "['last', 'zero']")
    assert "zero" not in error.allowed and "'zero'" in error.hint and "classify" in error.hint
    assert parse_losses(None, "siamese") == ("mse", "contrastive")
    error = _refusal(lambda: parse_losses(["mse"], "classify"))
    assert (error.parameter, error.got) == ("losses", "['mse']")
    assert "cross-entropy" in error.allowed and "'mse'" in error.hint
    error = _refusal(lambda: parse_readouts(["last"], "seq2seq"))
    assert (error.parameter, error.got) == ("objective", "'seq2seq'")


def test_a_comma_string_an_empty_list_and_a_repeat_each_get_their_fix() -> None:
    assert _refusal(lambda: parse_readouts("last, max")).hint == "pass ['last', 'max']"
    assert "at least one" in _refusal(lambda: parse_readouts(["", ""])).hint
    assert "once" in _refusal(lambda: parse_losses(["mse", "mse"], "siamese")).hint
