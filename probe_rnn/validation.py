"""Checks of the values every stage accepts, one place for each rule (the seed's range, ...).

Stages below the run (models, attribution, probing) and the run's settings call the same
check, so a value is refused with the same one-line error wherever it enters.
"""

from __future__ import annotations

from typing import Any

from probe_rnn.errors import ConfigError

__all__ = ["MAX_SEED", "check_seed"]

#: The largest seed every stage accepts (numpy's ``RandomState``, hence scikit-learn's
#: ``random_state``, take seeds in ``[0, 2**32)``).
MAX_SEED = 2**32 - 1


def check_seed(seed: Any, name: str = "seed") -> None:
    """Raise :class:`ConfigError` unless ``seed`` is an integer in ``[0, 2**32)``, the seeds
    every stage accepts (checked up front, so no run fails late for its seed)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{name} must be an integer from 0 to {MAX_SEED} (2**32 - 1); "
                          f"got {seed!r}")
