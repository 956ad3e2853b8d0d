"""Fixtures of the study tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def first_letter() -> pd.DataFrame:
    """Random strings over 6 letters; the label is decided by the first letter only."""
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(list("abcdef"), rng.integers(3, 6))) for _ in range(1000)]
    return pd.DataFrame({"text": texts, "label": ["x" if t[0] in "abc" else "y" for t in texts]})
