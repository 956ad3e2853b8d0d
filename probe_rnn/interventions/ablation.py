"""Ablations beside patching: the state replaced by its training mean, by another training
row's value (resample) or by zeros; each reported as accuracy drop and agreement
(:func:`~probe_rnn.interventions.stats.effect_rows`). Zero is not a neutral value for a
recurrent state (it is the initial state, not a typical one); the mean and the resample are
what the model sees on real inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from probe_rnn.interventions.setup import InterventionSetup
from probe_rnn.interventions.stats import effect_rows

#: The ablations, in table order.
ABLATIONS = ("mean", "resample", "zero")


def ablated_values(setup: InterventionSetup, view: str, how: str) -> Tensor:
    """The values written into ``view`` on the held-out rows for ablation ``how``."""
    test, train = setup.values("test", view), setup.values("train", view)
    if how == "mean":
        return train.mean(0, keepdim=True).expand_as(test).clone()
    if how == "zero":
        return torch.zeros_like(test)
    rng = np.random.default_rng(setup.seed)
    picks = torch.as_tensor(rng.integers(0, len(train), size=len(test)), dtype=torch.long)
    return train[picks.to(train.device)]


def ablation_rows(setup: InterventionSetup, view: str, step: int | None = None,
                  kinds: tuple[str, ...] = ABLATIONS) -> list[dict[str, Any]]:
    """``ablation-mean``, ``ablation-resample`` and ``ablation-zero`` rows of ``view``."""
    out = []
    check = setup.identity_check(view)
    test = setup.test
    for how in kinds:
        after = setup.predict("test", view, ablated_values(setup, view, how))
        out += effect_rows(f"ablation-{how}", view, test.gold, test.pred, after, setup.seed,
                           step=step, **check)
    return out
