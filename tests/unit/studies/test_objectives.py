"""Objectives: each readout and loss belongs to its objective; unknown names are refused with
the fix."""

from __future__ import annotations

import pytest

from probe_rnn.errors import ConfigError
from probe_rnn.studies import parse_losses, parse_readouts


def test_zero_and_losses_belong_to_their_objective() -> None:
    assert parse_readouts(["hidden", "zero"], "autoencode") == ("hidden", "zero")
    with pytest.raises(ConfigError, match="unknown readout 'zero' for objective classify"):
        parse_readouts(["last", "zero"], "classify")
    assert parse_losses(None, "siamese") == ("mse", "contrastive")
    with pytest.raises(ConfigError, match="unknown loss 'mse' for objective classify"):
        parse_losses(["mse"], "classify")
    with pytest.raises(ConfigError, match="unknown objective 'seq2seq'"):
        parse_readouts(["last"], "seq2seq")
