"""The built-in interventions and the contract a user's intervention plugin follows.

An intervention is a class registered with
:func:`probe_rnn.plugins.register_intervention`, built with no arguments, whose
``run(setup)`` receives the :class:`~probe_rnn.interventions.setup.InterventionSetup` (the
model's :class:`~probe_rnn.interventions.replace.StateReplacer`, the held-out and training
rows, the sentence views ``setup.views`` and the per-step views ``setup.steps``, the task and
the seed) and returns rows of the interventions table (dicts with the keys of
:data:`~probe_rnn.interventions.table.COLUMNS`; :func:`~probe_rnn.interventions.stats.row`
builds one). Every row must carry the intervention's own check: ``sanity_ok`` (bool) and
``sanity`` (one sentence). ``setup.values(split, view)`` gives clean states,
``setup.predict(split, view, values)`` the model's predictions with the state replaced.
"""

from __future__ import annotations

from typing import Any

from probe_rnn.catalogue import ViewSpec
from probe_rnn.interventions.ablation import ablation_rows
from probe_rnn.interventions.erasure import erasure_rows
from probe_rnn.interventions.patching import draw_pairs, patching_rows
from probe_rnn.interventions.setup import InterventionSetup
from probe_rnn.plugins import register_intervention

#: Pairs of held-out rows that patching draws (at most).
PAIRS = 200


@register_intervention("erasure")
class Erasure:
    """LEACE erasure of the task's concept from each sentence view and per step, beside a
    random-subspace control of the same rank; its check: a fresh probe reads the erased
    states at majority."""

    def run(self, setup: InterventionSetup) -> list[dict[str, Any]]:
        """``erasure`` and ``erasure-control`` rows of every sentence and per-step view."""
        out = [r for view in setup.views for r in erasure_rows(setup, view)]
        setup.read("train", setup.steps)  # every step's training values in one run
        for view in setup.steps:
            out += erasure_rows(setup, view, step=ViewSpec.parse(view).t)
        return out


@register_intervention("patching")
class Patching:
    """Interchange intervention: copy one state from a source row into a base row with another
    prediction; how often the prediction follows, per sentence view and per step."""

    def run(self, setup: InterventionSetup) -> list[dict[str, Any]]:
        """``patching`` rows (``follow_rate``) of every sentence and per-step view."""
        pairs = draw_pairs(setup.test.pred, PAIRS, setup.seed)
        out = [r for view in setup.views for r in patching_rows(setup, view, pairs)]
        for view in setup.steps:
            out += patching_rows(setup, view, pairs, step=ViewSpec.parse(view).t)
        return out


@register_intervention("ablation")
class Ablation:
    """Mean, resample and zero ablation of each sentence view: the accuracy drop and the
    agreement of the predictions when the state is replaced by a typical value."""

    def run(self, setup: InterventionSetup) -> list[dict[str, Any]]:
        """``ablation-mean``, ``ablation-resample`` and ``ablation-zero`` rows."""
        return [r for view in setup.views for r in ablation_rows(setup, view)]
