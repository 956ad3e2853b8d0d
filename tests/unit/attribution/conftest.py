"""Fixtures for attribution tests."""

from __future__ import annotations

import pytest
import torch

from tests.unit.attribution.attr_tiny import tiny_batch


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """ids (5, 7) right-padded with 0 and lengths (7, 3, 5, 1, 6)."""
    return tiny_batch()
