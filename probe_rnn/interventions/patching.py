"""Interchange interventions (activation patching): does the prediction follow a copied state?

Pairs of held-out rows whose predictions differ (:func:`draw_pairs`, seeded: each base row in
a random order gets a random source row with another prediction) run as the base row with one
state copied from the source row's run. ``follow_rate`` is the share of pairs whose patched
prediction is the source's, with a bootstrap interval over pairs. Per-step views
(``hidden/L0/fwd@t``, t absolute, counted from the start) use the pairs whose rows are both
longer than t, so the curve over t is read over rows long enough, not over pairs of equal
length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from probe_rnn.catalogue import ViewSpec
from probe_rnn.interventions.setup import InterventionSetup
from probe_rnn.interventions.stats import bootstrap_mean, row


def draw_pairs(pred: np.ndarray, n_pairs: int, seed: int) -> np.ndarray:
    """(pairs, 2) row indices ``[base, source]`` with ``pred[base] != pred[source]``; at most
    ``n_pairs``, each row a base at most once (empty when every prediction is the same)."""
    rng = np.random.default_rng(seed)
    pairs = []
    for base in rng.permutation(len(pred)):
        others = np.flatnonzero(pred != pred[base])
        if len(others):
            pairs.append((base, int(rng.choice(others))))
        if len(pairs) >= n_pairs:
            break
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def usable_pairs(setup: InterventionSetup, view: str, pairs: np.ndarray) -> np.ndarray:
    """The pairs whose rows both hold the state of ``view`` (both longer than its step t)."""
    spec = ViewSpec.parse(view)
    if spec.t is None or spec.relative:
        return pairs
    lengths = setup.test.lengths.cpu().numpy()
    return pairs[(lengths[pairs[:, 0]] > spec.t) & (lengths[pairs[:, 1]] > spec.t)]


def patching_rows(setup: InterventionSetup, view: str, pairs: np.ndarray,
                  step: int | None = None, together: Sequence[str] = ()
                  ) -> list[dict[str, Any]]:
    """The ``patching`` row (``follow_rate``) of ``view`` on ``pairs`` (module docstring);
    the views in ``together`` are copied from the same source row too (an LSTM's cell state
    beside its hidden state: the whole recurrent state at a step)."""
    pairs = usable_pairs(setup, view, pairs)
    if len(pairs) == 0:
        return []
    base, source = pairs[:, 0], pairs[:, 1]
    views = [view, *together]
    copied = [setup.values("test", v)[source] for v in views]
    after = setup.predict("test", views, copied, index=base)
    follows = (after == setup.test.pred[source]).astype(float)
    mean, low, high = bootstrap_mean(follows, setup.seed)
    return [row("patching", view, "follow_rate", mean, (low, high), len(pairs), step=step,
                **setup.identity_check(view))]
