"""Which readout a pair model's score reads, measured: :func:`pair_readout`.

A siamese model scores a pair by comparing what its encoder gives each text. Its capture holds
both branches' states (``lstm:...`` for the first text, ``lstm#2:...`` for the second: one
shared module called twice; or two modules, one per text) and the score it returned per pair
(meta column ``score``). For every sentence view stored in both branches and every usual
comparison (cosine, ``exp(-|a - b|_1)`` as the Manhattan LSTM writes it, ``-|a - b|_2``, the dot
product) the score is recomputed from the stored states; the comparisons that reproduce the
model's own score on every pair (within the storage precision) say which readout the score
reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from probe_rnn.catalogue import try_parse
from probe_rnn.report.answer_scope import sites_of

#: Largest |difference| from the model's score, per unit of its scale, that still matches
#: (float16 states carry ~1e-3 of relative error).
MATCH_TOLERANCE = 1e-2


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    return (a * b).sum(1) / np.maximum(na * nb, 1e-8)


COMPARISONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "cosine": _cosine,
    "exp(-|a - b|_1)": lambda a, b: np.exp(-np.abs(a - b).sum(1)),
    "-|a - b|_2": lambda a, b: -np.linalg.norm(a - b, axis=1),
    "dot product": lambda a, b: (a * b).sum(1),
}


@dataclass(frozen=True)
class PairReadout:
    """The branches (site names) and the (view, comparison) pairs that reproduce the score,
    with the largest |difference| over the pairs; ``matches`` empty when none does."""

    branches: tuple[str, str]
    matches: tuple[tuple[str, str, float], ...]
    pairs: int

    def sentence(self) -> str:
        """The finding in words."""
        a, b = self.branches
        if not self.matches:
            return (f"The pair score compares the branches `{a}` (first text) and `{b}` (second "
                    f"text), but none of their stored readouts reproduces it with "
                    f"{', '.join(COMPARISONS)} on the {self.pairs} pairs: the head reads "
                    "something else (a learned layer, another state).")
        said = "; ".join(f"the {how} of `{view}` of the two branches (largest |difference| "
                         f"{err:.2g} over {self.pairs} pairs)" for view, how, err in self.matches)
        return (f"The pair score reads {said}: the branches are `{a}` (first text) and `{b}` "
                "(second text).")


def branches(views: list[str]) -> tuple[str, str] | None:
    """The two branches' site names: a module's first and second call (``lstm``,
    ``lstm#2``), else the only two sites; None otherwise."""
    sites = sites_of(views)
    second = [s for s in sites if s.endswith("#2")]
    if second:
        return second[0][:-2], second[0]
    return (sites[0], sites[1]) if len(sites) == 2 else None


def pair_readout(store: Any) -> PairReadout | None:
    """The readout a pair model's score reads (see the module docstring); None when the store
    holds no score or no two branches."""
    meta = store.meta
    if "score" not in meta.columns:
        return None
    found = branches(list(store.views))
    if found is None:
        return None
    score = meta["score"].to_numpy(dtype=np.float64)
    scale = max(1.0, float(np.abs(score).max(initial=0.0)))
    first, second = found
    matches = []
    for name in store.views:
        spec = try_parse(name)
        if spec is None or spec.site != first or store.kind(name) != "sentence":
            continue
        other = str(spec.with_site(second))
        if other not in store.views:
            continue
        a = np.asarray(store.sentence(name), dtype=np.float64)
        b = np.asarray(store.sentence(other), dtype=np.float64)
        for how, compare in COMPARISONS.items():
            err = float(np.abs(compare(a, b) - score).max(initial=0.0))
            if err <= MATCH_TOLERANCE * scale:
                matches.append((spec.bare, how, err))
    return PairReadout(found, tuple(matches), len(score))
