"""Control tasks (Hewitt & Liang 2019): targets that only memorisation can predict.

Each key — the token type for token-level tasks; for sentence-level tasks a token type that
recurs across sentences, the first or the last token (the task's ``control_unit``) — gets one
fixed random target drawn from the task's own empirical label distribution. Because a key
recurs, it appears on both sides of a fold, and a probe can score above the majority rate on
the control only by reading the key from the state and memorising its random target: the
control accuracy measures the probe's capacity (keyed on the sentence text, as before, every
key was unique to one fold and the "control" was a mere permutation at the majority rate). A
probe trained and scored exactly like the real task gives the control accuracy; selectivity =
task accuracy − control accuracy.

A control whose labels are nearly constant (its key nearly constant: 91 % of English
sentences start with "the") measures nothing about capacity: control accuracy is then about its
majority share on every view and selectivity is negative everywhere. When the share of the
most common control label reaches :data:`DEGENERATE_CONTROL` the cell reports it
(``control_majority``) and withholds selectivity (NaN, with the reason).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from probe_rnn.errors import ConfigError

#: Share of the most common control label at or above which selectivity is withheld.
DEGENERATE_CONTROL = 0.9


def control_targets(y: np.ndarray, keys: np.ndarray, seed: int = 0) -> np.ndarray:
    """Give every distinct key one random target, matching the distribution of ``y`` over rows.

    Keys are visited in a seeded random order and each gets the class furthest below its share
    of ``y`` (rows assigned so far / rows wanted). The control's labels are thus as random per
    key as a draw from the distribution (Hewitt & Liang), but their row-weighted distribution
    follows ``y``'s closely even with few keys: with 8 first tokens, independent draws gave one
    control 75 % of one class against a 52 % task, so a probe on Gaussian features scored
    0.66 on the control and "selectivity" -0.15; a difference of class balance, not of what
    the state holds.

    Parameters
    ----------
    y : ndarray, shape (rows,)
        The real task's targets (rows left out already removed).
    keys : ndarray, shape (rows,)
        The control key of each row (a token type).
    seed : int
        Seeds the order; the same (keys, y, seed) always give the same control.

    Returns
    -------
    ndarray, shape (rows,)
        Control targets, same dtype family as ``y``; equal keys get equal targets.
    """
    y = np.asarray(y)
    uniq, inverse = np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)
    values, y_codes = np.unique(y, return_inverse=True)
    wanted = np.bincount(y_codes, minlength=len(values)).astype(np.float64)
    sizes = np.bincount(inverse, minlength=len(uniq))
    given = np.zeros(len(values))
    drawn = np.empty(len(uniq), dtype=np.int64)
    rng = np.random.default_rng(seed)
    for key in rng.permutation(len(uniq)):
        # furthest below its share; ties broken by the seeded order of a random jitter
        cls = int(np.argmax(1.0 - given / wanted + 1e-9 * rng.random(len(values))))
        drawn[key] = cls
        given[cls] += sizes[key]
    return values[drawn][inverse]


CONTROL_UNITS = ("first-token", "last-token")


def control_keys(task: Any, tokens: np.ndarray, offsets: np.ndarray) -> np.ndarray | None:
    """Each sentence's control key: its first or last token (``task.control_unit``), or None
    when the task declares no control. Empty sentences get the key ``""``."""
    unit = getattr(task, "control_unit", "first-token")
    if unit is None:
        return None
    if unit not in CONTROL_UNITS:
        raise ConfigError(f"task {task.name!r} has control_unit {unit!r}: use 'first-token', "
                          "'last-token' or None (no control)")
    lengths = np.diff(offsets)
    at = offsets[:-1] if unit == "first-token" else offsets[1:] - 1
    keys = np.full(len(lengths), "", dtype=object)
    has = lengths > 0
    keys[has] = np.asarray(tokens, dtype=object)[at[has]]
    return keys
