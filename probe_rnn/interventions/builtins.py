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
Optionally, ``units(setup)`` says how many views ``run`` works through and ``run`` calls
``setup.tick()`` after each, so the stage's progress moves inside a long intervention (the
built-ins do; without ``units`` an intervention counts as one unit).
"""

from __future__ import annotations

from collections.abc import Callable
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

    def units(self, setup: InterventionSetup) -> int:
        """Views it works through: every sentence and per-step view."""
        return len(setup.views) + len(setup.steps)

    def run(self, setup: InterventionSetup) -> list[dict[str, Any]]:
        """``erasure`` and ``erasure-control`` rows of every sentence and per-step view."""
        out = _each(setup, setup.views, lambda view: erasure_rows(setup, view))
        setup.read("train", setup.steps)  # every step's training values in one run
        return out + _each(setup, setup.steps, lambda view: erasure_rows(
            setup, view, step=ViewSpec.parse(view).t))


@register_intervention("patching")
class Patching:
    """Interchange intervention: copy one state from a source row into a base row with another
    prediction; how often the prediction follows, per sentence view and per step."""

    def units(self, setup: InterventionSetup) -> int:
        """Views it works through: every sentence and per-step view."""
        return len(setup.views) + len(setup.steps)

    def run(self, setup: InterventionSetup) -> list[dict[str, Any]]:
        """``patching`` rows (``follow_rate``) of every sentence and per-step view."""
        pairs = draw_pairs(setup.test.pred, PAIRS, setup.seed)
        out = _each(setup, setup.views, lambda view: patching_rows(setup, view, pairs))
        return out + _each(setup, setup.steps, lambda view: patching_rows(
            setup, view, pairs, step=ViewSpec.parse(view).t))


@register_intervention("ablation")
class Ablation:
    """Mean, resample and zero ablation of each sentence view: the accuracy drop and the
    agreement of the predictions when the state is replaced by a typical value."""

    def units(self, setup: InterventionSetup) -> int:
        """Views it works through: every sentence view."""
        return len(setup.views)

    def run(self, setup: InterventionSetup) -> list[dict[str, Any]]:
        """``ablation-mean``, ``ablation-resample`` and ``ablation-zero`` rows."""
        return _each(setup, setup.views, lambda view: ablation_rows(setup, view))


def _each(setup: InterventionSetup, views: list[str],
          rows_of: Callable[[str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The rows of every view in order, ``setup.tick()`` after each."""
    out: list[dict[str, Any]] = []
    for view in views:
        out += rows_of(view)
        setup.tick()
    return out
