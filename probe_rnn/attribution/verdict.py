"""The completeness verdict of an attribution run: do the attributions add up?

Integrated Gradients is *complete*: a row's attributions sum to the change of the logit they
explain. Token attributions must sum to ``F(x) - F(baseline)``
(:mod:`probe_rnn.attribution.tokens`); a state's per-step attributions to its ablation effect
``F(x) - F(x with that state := baseline)`` (:mod:`probe_rnn.attribution.steps`). Each check's
relative error is stored per sentence (per state); :func:`completeness_verdict` turns them into
one verdict against :data:`COMPLETENESS_THRESHOLD` (5 %), with what a failure means and what to
do, for the terminal, ``manifest.json`` and the report.

A failed check means the attributions do not account for the logit: the path integral was too
coarse (more integration steps help) or the model is far from linear along the path (saturated
units; more steps help less). The heatmaps then rank tokens (steps) roughly but their amounts
are not the logit's parts. Methods without a completeness property (saliency, occlusion) have
no token check.

Separately, per-step attributions run through the *unrolled copy* of the recurrent module (a
step-by-step re-implementation from its own weights, so each step's state can be perturbed);
:func:`unrolled_sentence` states how closely it matched the module's own output (a mismatch
beyond float tolerance stops the run before this point).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from probe_rnn.errors import Mention, Part, Words, render

#: Largest relative completeness error that passes (the report's findings use the same).
COMPLETENESS_THRESHOLD = 0.05


def _count(errors: pd.Series | None) -> tuple[int, int, float]:
    """(rows above the threshold, rows checked, worst error; NaN when none)."""
    if errors is None:
        return 0, 0, math.nan
    err = pd.to_numeric(errors, errors="coerce").dropna()
    if err.empty:
        return 0, 0, math.nan
    return int((err > COMPLETENESS_THRESHOLD).sum()), len(err), float(err.max())


def completeness_verdict(examples: pd.DataFrame, steps: pd.DataFrame,
                         n_steps: int | None = None, state_steps: int | None = None
                         ) -> dict[str, Any]:
    """The verdict on an attribution run's completeness checks (module docstring).

    Parameters
    ----------
    examples : per-sentence rows with ``completeness_error`` (token attributions).
    steps : per-state rows with ``completeness_error`` (per-step attributions).
    n_steps, state_steps : the integration steps of token and of per-step attributions
        (named in the advice as ``n_steps=`` and ``state_steps=``).

    Returns
    -------
    dict
        ``passed`` (bool, None when nothing was checked), ``threshold``, ``tokens_failed``,
        ``tokens_checked``, ``tokens_worst``, ``steps_failed``, ``steps_checked``,
        ``steps_worst`` and ``sentence`` (one plain line).
    """
    tok_bad, tok_n, tok_worst = _count(examples.get("completeness_error"))
    st_bad, st_n, st_worst = _count(steps.get("completeness_error"))
    out: dict[str, Any] = {
        "threshold": COMPLETENESS_THRESHOLD, "tokens_failed": tok_bad, "tokens_checked": tok_n,
        "tokens_worst": None if math.isnan(tok_worst) else tok_worst, "steps_failed": st_bad,
        "steps_checked": st_n, "steps_worst": None if math.isnan(st_worst) else st_worst}
    out["passed"] = None if tok_n + st_n == 0 else tok_bad + st_bad == 0
    out["sentence"] = verdict_sentence(out, n_steps, state_steps)
    return out


def verdict_sentence(verdict: dict[str, Any], n_steps: int | None = None,
                     state_steps: int | None = None, words: Words | None = None) -> str:
    """The one plain line of a :func:`completeness_verdict` (its ``sentence``), with the
    integration steps it advises raising in ``words`` (default ``n_steps=``; the CLI says
    ``--steps``, :meth:`probe_rnn.errors.ProbeRnnError.render`)."""
    tok_bad, tok_n, tok_worst = (verdict[f"tokens_{k}"] for k in ("failed", "checked", "worst"))
    st_bad, st_n, st_worst = (verdict[f"steps_{k}"] for k in ("failed", "checked", "worst"))
    limit = f"{verdict['threshold']:.0%}"
    if verdict["passed"] is None:
        return ("completeness: not checked (this method has no completeness property and no "
                "per-step attributions were made)")
    worst = ", ".join(f"{what} {value:.1%} ({n} checked)" for what, value, n in (
        ("tokens", tok_worst, tok_n), ("steps", st_worst, st_n)) if n)
    if verdict["passed"]:
        return (f"completeness: PASS, every attribution adds up to the logit change it "
                f"explains within {limit} (worst error: {worst})")
    failing = [f"{what} of {bad} of {n} {unit} (worst error {value:.1%})"
               for what, unit, bad, n, value in (
                   ("token attributions", "sentences", tok_bad, tok_n, tok_worst),
                   ("per-step attributions", "states", st_bad, st_n, st_worst)) if bad]
    raise_: list[Part] = []
    for name, now, bad in (("n_steps", n_steps, tok_bad), ("state_steps", state_steps, st_bad)):
        if bad:
            raise_ += [" and "] * bool(raise_) + [Mention(name)] + [f" (now {now})"] * bool(now)
    return render((
        f"completeness: FAIL, the {' and the '.join(failing)} do not add up to the logit "
        f"change they explain within {limit}: their amounts are not the logit's parts, so read "
        "those heatmaps as rough rankings; raise ", *raise_, " and run again; if it stays, the "
        "model is far from linear along the path (saturated units)"), words)


def unrolled_sentence(difference: float | None, module: str = "the recurrent module") -> str:
    """How closely the unrolled copy (used for per-step attributions) matched the module."""
    if difference is None or (isinstance(difference, float) and math.isnan(difference)):
        return "per-step attributions: no unrolled copy was run"
    return (f"per-step attributions ran through an unrolled (step-by-step) copy of {module}, "
            f"which matched the module's own output to max |difference| {difference:.1e}")
