"""Helpers for intervention tests: the model parts of a tiny seeded classifier."""

from __future__ import annotations

from probe_rnn.attribution.parts import ModelParts, find_parts
from tests.unit.attribution.attr_tiny import tiny_batch, tiny_model

__all__ = ["tiny_batch", "tiny_model", "tiny_parts"]


def tiny_parts(**options) -> ModelParts:
    """The parts of :func:`tiny_model` (its own forward ``model(ids, lengths)``)."""
    return find_parts(tiny_model(**options))
