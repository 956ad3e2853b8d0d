"""Which readout a pair score reads: recomputed from both branches' stored states."""

from __future__ import annotations

import numpy as np
import pandas as pd

from probe_rnn.report.pair_readout import branches, pair_readout


class FakeStore:
    def __init__(self, views: dict[str, np.ndarray], score: np.ndarray | None) -> None:
        self._views = views
        self.views = list(views)
        self.meta = pd.DataFrame({"score": score} if score is not None else {"row": [0]})

    def kind(self, name: str) -> str:
        return "sentence"

    def sentence(self, name: str) -> np.ndarray:
        return self._views[name]


def _states(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"{site}:{view}": rng.normal(size=(40, 6))
            for site in ("lstm", "lstm#2") for view in ("output@last", "h_n/L0")}


def test_the_cosine_of_the_readout_it_was_computed_from_is_found_alone() -> None:
    views = _states(0)
    a, b = views["lstm:h_n/L0"], views["lstm#2:h_n/L0"]
    score = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    found = pair_readout(FakeStore(views, score))
    assert found is not None and found.branches == ("lstm", "lstm#2")
    assert [(v, how) for v, how, _ in found.matches] == [("h_n/L0", "cosine")]
    assert "the cosine of `h_n/L0`" in found.sentence() and "`lstm#2` (second text)" in (
        found.sentence())


def test_a_manhattan_score_is_recognised_and_a_learned_head_is_said_to_be_none() -> None:
    views = _states(1)
    a, b = views["lstm:output@last"], views["lstm#2:output@last"]
    manhattan = pair_readout(FakeStore(views, np.exp(-np.abs(a - b).sum(1))))
    assert [(v, how) for v, how, _ in manhattan.matches] == [("output@last", "exp(-|a - b|_1)")]
    learned = pair_readout(FakeStore(views, np.random.default_rng(2).normal(size=40)))
    assert learned.matches == () and "reads something else" in learned.sentence()


def test_no_score_or_no_two_branches_gives_none() -> None:
    assert pair_readout(FakeStore(_states(0), None)) is None
    assert branches(["output@last", "h_n/L0"]) is None
    assert branches(["enc_a:h_n/L0", "enc_b:h_n/L0"]) == ("enc_a", "enc_b")
