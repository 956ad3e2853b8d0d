"""Which state the model's head uses, in plain words, from the interventions table.

A probe says what a state carries; the interventions say what the head does when the state
changes. :func:`judge` reads, per whole-sentence view (:func:`~probe_rnn.report.use_data.
sentence_uses`), whether erasing the label there drops the model's accuracy beyond the
random-subspace control of the same rank (the drop's interval above the control's), and
whether patching the view from another sentence makes the prediction follow that sentence
(``high`` when the follow rate's interval lies above :data:`LOW_FOLLOW`, ``low`` when below).
An intervention whose own sanity check failed is never evidence: its number is written with
the failed check beside it and no claim rests on it. :func:`use_sentence` is the opening
answer's sentence, :func:`use_finding` the finding (every view, conditional information, and
the states that carry the label yet are unused).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from probe_rnn.probing.verdict_wording import ABOVE, WITHIN_NOISE, decide
from probe_rnn.report.findings import Finding
from probe_rnn.report.opening import Segment
from probe_rnn.report.use_data import Number, ViewUse, conditionals, sentence_uses
from probe_rnn.report.use_figures import decodable_vs_used, use_over_time

#: A patch that makes the prediction follow the source on at most this share of pairs (upper
#: bound of its interval) is "low"; above it (lower bound) "high".
LOW_FOLLOW = 0.10
#: The report's anchor of the section the numbers come from.
ANCHOR = "use"
#: What the erasure and the patch of one view show.
USED, WITHIN, FAILED, UNTESTED, ABSENT = "used", "within control", "failed", "untested", "absent"
HIGH, LOW, SOME = "high", "low", "some"
LEAD = "Which state does the head use? "


def erasure_verdict(u: ViewUse) -> str:
    """:data:`USED` (the drop's interval lies above the control's, or above 0 without a
    control), :data:`WITHIN` (it does not), :data:`FAILED` (the erasure's check failed),
    :data:`UNTESTED` (no intervals) or :data:`ABSENT`."""
    e, c = u.erasure, u.control
    if e is None:
        return ABSENT
    if e.failed:
        return FAILED
    if not e.has_ci or (c is not None and not c.has_ci):
        return UNTESTED
    return USED if e.low > (c.high if c is not None and not c.failed else 0.0) else WITHIN


def patch_verdict(u: ViewUse) -> str:
    """:data:`HIGH`, :data:`LOW`, :data:`SOME` (the interval straddles :data:`LOW_FOLLOW`),
    :data:`FAILED` or :data:`ABSENT`."""
    f = u.follow
    if f is None:
        return ABSENT
    if f.failed:
        return FAILED
    if f.upper <= LOW_FOLLOW:
        return LOW
    return HIGH if f.lower > LOW_FOLLOW else SOME


def carries_label(u: ViewUse) -> bool:
    """Whether the probe's label information is clearly above 0 bits."""
    return u.bits is not None and u.bits.has_ci and u.bits.low > 0


@dataclass(frozen=True)
class UseVerdict:
    """What the interventions show: the state the head depends on by erasure (largest drop
    beyond its control) and by patching (highest high follow rate), and the states that carry
    the label yet are unused (erasure within its control, patch low or not run); the other
    states the head also depends on (either test) are ``also_used``."""

    uses: tuple[ViewUse, ...]
    by_erasure: ViewUse | None
    by_patching: ViewUse | None
    unused: tuple[ViewUse, ...]
    also_used: tuple[ViewUse, ...] = ()

    @property
    def depends_on(self) -> tuple[ViewUse, ...]:
        """The state(s) named: erasure's pick, then patching's when it differs."""
        picks = [u for u in (self.by_erasure, self.by_patching) if u is not None]
        return tuple(dict.fromkeys(picks))


def judge(uses: list[ViewUse]) -> UseVerdict:
    """Decide which state the head depends on and which label-carrying states are unused."""
    erased = [u for u in uses if erasure_verdict(u) == USED]
    patched = [u for u in uses if patch_verdict(u) == HIGH]
    unused = [u for u in uses if carries_label(u) and erasure_verdict(u) == WITHIN
              and patch_verdict(u) in (LOW, ABSENT)]
    by_erasure = max(erased, key=lambda u: u.erasure.value) if erased else None
    by_patching = max(patched, key=lambda u: u.follow.value) if patched else None
    also = [u for u in dict.fromkeys(erased + patched) if u not in (by_erasure, by_patching)]
    return UseVerdict(tuple(uses), by_erasure, by_patching, tuple(unused), tuple(also))


def two(x: float) -> str:
    """``0.42``; two significant digits below 0.01 (``0.0012``), so that a small value that
    is clearly above 0 never prints as ``0.00``."""
    return f"{x:.2f}" if x == 0 or abs(x) >= 0.01 else f"{x:.2g}"


def _drop(n: Number) -> str:
    return two(n.value) + (f" [{two(n.low)}, {two(n.high)}]" if n.has_ci else
                           " (no interval)")


def _pct(n: Number) -> str:
    text = f"{100 * n.value:.0f}%"
    return text + (f" [{100 * n.low:.0f}%, {100 * n.high:.0f}%]" if n.has_ci else
                   " (no interval)")


class _Words:
    """Collects segments; numbers link to the section's table."""

    def __init__(self) -> None:
        self.parts: list[Segment] = []

    def __call__(self, text: str, number: bool = False) -> _Words:
        if text:
            self.parts.append(Segment(text, f"#{ANCHOR}" if number else None))
        return self

    def check(self, n: Number) -> _Words:
        """The failed sanity check, right after its number."""
        if n.failed:
            said = n.sanity.rstrip(".") or "no reason recorded"
            self(f" (its sanity check failed: {said}; no claim rests on this number)")
        return self


def _evidence(w: _Words, u: ViewUse) -> None:
    """``erasing the label from `V` drops the model's accuracy by …; patching …``."""
    said = False
    if u.erasure is not None:
        w(f"erasing the label from `{u.view}` drops the model's accuracy by ")
        w(_drop(u.erasure), True).check(u.erasure)
        if u.control is not None:
            w(" (a random subspace of the same rank: ")(_drop(u.control), True)
            w.check(u.control)(")")
        said = True
    if u.follow is not None:
        w(", and patching it" if said else f"patching `{u.view}`")
        w(" from another sentence makes the prediction follow that sentence on ")
        w(_pct(u.follow), True)(f" of {u.follow.n} pairs" if u.follow.n else " of the pairs")
        w.check(u.follow)
        said = True
    if not said:
        w(f"`{u.view}` was not intervened on")


def _verdict(w: _Words, v: UseVerdict) -> None:
    picks = v.depends_on
    if not picks:
        w("no single state is shown to be the one the head depends on: ")
        for i, u in enumerate(v.uses):
            w("; " if i else "")
            _evidence(w, u)
        return
    if len(picks) == 2:
        w(f"by erasure the head depends most on `{picks[0].view}`, by patching on "
          f"`{picks[1].view}`: ")
    else:
        how = ("both erasure and patching" if v.by_erasure is v.by_patching else
               "erasure" if v.by_erasure is not None else "patching")
        w(f"this model's head depends on `{picks[0].view}` (by {how}): ")
    for i, u in enumerate(picks):
        w("; " if i else "")
        _evidence(w, u)
    if v.also_used:
        named = [f"`{u.view}`" for u in v.also_used]
        w("; by the same tests it also depends on " + (
            named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]))


def _unused(w: _Words, v: UseVerdict) -> None:
    for u in v.unused:
        w(f" `{u.view}` carries ")(u.bits.describe(), True)
        w(" bits of label information, yet the head does not use it: erasing the label there "
          "drops accuracy by ")(_drop(u.erasure), True)(", within its random-subspace control")
        if u.control is not None:
            w(" (")(_drop(u.control), True)(")")
        if u.follow is not None:
            w(", and patching it makes the prediction follow the source on only ")
            w(_pct(u.follow), True)(" of the pairs.")
        else:
            w(" (it was not patched).")


def _conditional(w: _Words, table: pd.DataFrame, limit: int = 4) -> None:
    for view, given, n in conditionals(table)[:limit]:
        w(f" `{view}` adds ")(_drop(n), True)(f" bits of label information beyond `{given}`")
        w.check(n)
        word = decide(n.value, n.low, n.high)
        w(" (" + (f"{WITHIN_NOISE} of 0" if word == WITHIN_NOISE else
                  "clearly above 0" if word == ABOVE else "below 0: the larger probe fits "
                  "worse") + ").")


def use_sentence(table: pd.DataFrame, results: pd.DataFrame, probe: str | None = None
                 ) -> tuple[Segment, ...] | None:
    """The opening answer's sentence on use (``None`` when nothing was intervened on)."""
    uses = sentence_uses(table, results, probe=probe)
    if not uses:
        return None
    v = judge(uses)
    w = _Words()(LEAD + "By interventions on its own forward pass, ")
    _verdict(w, v)
    w(".")
    _conditional(w, table, limit=2)
    _unused(w, v)
    return tuple(w.parts)


def use_finding(table: pd.DataFrame, results: pd.DataFrame, probe: str | None = None
                ) -> Finding | None:
    """The finding: the opening's sentence, then every other view's numbers."""
    uses = sentence_uses(table, results, probe=probe)
    if not uses:
        return None
    v = judge(uses)
    w = _Words()("Decodable vs used: by interventions on the model's own forward pass, ")
    _verdict(w, v)
    w(".")
    rest = [u for u in uses if u not in v.depends_on] if v.depends_on else []
    if rest:
        w(" The other states: ")
        for i, u in enumerate(rest):
            w("; " if i else "")
            _evidence(w, u)
        w(".")
    _conditional(w, table)
    _unused(w, v)
    return Finding("".join(s.text for s in w.parts), ANCHOR, "use")


def use_parts(table: pd.DataFrame | None, results: pd.DataFrame, probe: str | None,
              suffix: str = "") -> dict[str, Any]:
    """One probe's "decodable vs used" part of the report.

    Returns
    -------
    dict
        ``specs`` (figure id -> figure or None), ``ids`` (``sentence``/``steps`` -> figure
        id, ids ``fig-use{suffix}`` and ``fig-use-steps{suffix}``), ``finding`` and
        ``sentence`` (the opening's); all empty or None without an interventions table.
    """
    if table is None:
        return {"specs": {}, "ids": {}, "finding": None, "sentence": None}
    ids = {"sentence": f"fig-use{suffix}", "steps": f"fig-use-steps{suffix}"}
    specs = {ids["sentence"]: decodable_vs_used(sentence_uses(table, results, probe=probe)),
             ids["steps"]: use_over_time(results, table, probe)}
    return {"specs": specs, "ids": ids, "finding": use_finding(table, results, probe),
            "sentence": use_sentence(table, results, probe)}


def with_use(findings: list[Finding], use: Finding | None) -> list[Finding]:
    """``findings`` with the finding on what the head uses right after the recommendation by
    probes (first when there is none); unchanged without one."""
    if use is not None:
        findings.insert(int(bool(findings) and findings[0].kind == "recommendation"), use)
    return findings
