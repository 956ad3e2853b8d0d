"""The per-step finding: how early in the sentence a state carries the label.

One per-step view is scanned (the top layer's forward hidden state when probed; hidden before
cell, forward before backward): at each position its label accuracy is compared with the
majority-class rate of the same rows by the paired difference
(:func:`probe_rnn.report.verdicts.majority_difference`), Holm-corrected over every position
scanned, so on a state that carries nothing the sentence "first clearly exceeds the baseline
at t=…" is written in at most 5 % of runs however many positions were scanned.

What a position means depends on the state's direction and layer: a forward state at step
``t`` of a unidirectional stack (or of the first layer) has read tokens ``0..t`` only, so the
label is "available after reading t+1 tokens"; a backward state reads from the end, so its
scan runs over positions from the end (``t=-1`` has read only the last token); in a
bidirectional stack every layer above the first has, through the layer below's other
direction, already seen the whole sentence, so there the finding says "decodable at
position t" instead. The rows at position ``t`` are those with at least ``t+1`` tokens, so
the set (and its majority rate) changes along the scan; the sentence says how.
"""

from __future__ import annotations

import pandas as pd

from probe_rnn.catalogue import try_parse
from probe_rnn.probing.verdict_wording import ABOVE
from probe_rnn.report.measures import base_view, label_task, percent, primary_probe
from probe_rnn.report.verdicts import Claim, holm_verdicts, majority_difference


def _preference(base: str) -> tuple[bool, bool, int, str]:
    """Sort key: hidden before cell, forward before backward, top layer first."""
    spec = try_parse(base)
    if spec is None:
        return True, False, 0, base
    layer = -spec.layer if spec.layer is not None else 0
    return spec.base != "hidden", spec.direction == "bwd", layer, base


def sees_whole_sentence(base: str, bidirectional: bool) -> bool:
    """Whether a per-step state has seen later tokens than its position: every layer above
    the first of a bidirectional stack (its input holds the layer below's other direction)."""
    spec = try_parse(base)
    return bool(bidirectional and spec is not None and spec.layer not in (None, 0))


def scan_order(base: str) -> tuple[str, bool]:
    """How a state reads the sentence: ``("start", False)`` for a forward state, whose
    positions count from the first token, ``("end", True)`` for a backward one."""
    spec = try_parse(base)
    backward = spec is not None and spec.direction == "bwd"
    return ("end", True) if backward else ("start", False)


def _positions(rows: pd.DataFrame, from_end: bool) -> list[int]:
    ts = sorted({int(t) for t in rows["t"].dropna()})
    picked = [t for t in ts if (t < 0) == from_end]
    return sorted(picked, key=abs)


def _rows_said(rows: pd.DataFrame, positions: list[int], base: str, from_end: bool) -> str:
    """How the probed rows change along the scan (n and majority rate, first vs last)."""
    acc = rows[rows["metric"] == "accuracy"].groupby("t")["n_test"].mean()
    maj = rows[rows["metric"] == "majority_accuracy"].groupby("t")["value"].mean()
    first, last = positions[0], positions[-1]
    if first not in acc.index or last not in acc.index:
        return ""
    rule = ("rows with at least |t| tokens" if from_end else "rows with at least t+1 tokens")
    text = (f" The rows change with the position (at each t only the {rule}: "
            f"{int(acc[first])} held-out rows at t={first}, {int(acc[last])} at t={last}")
    if first in maj.index and last in maj.index:
        text += (f"; the majority rate moves from {percent(maj[first])} to "
                 f"{percent(maj[last])}")
    return text + ")."


def timestep_findings(results: pd.DataFrame, values: pd.DataFrame | None,
                      bidirectional: bool) -> list[tuple[str, tuple[Claim, ...]]]:
    """The per-step sentence and its claims (one per position scanned), or none.

    Parameters
    ----------
    results, values : pd.DataFrame
        The tidy results and the long table (``values`` may be None: intervals then).
    bidirectional : bool
        Whether the model reads in both directions (changes what a position means).
    """
    task = label_task(results)
    probe = primary_probe(results)
    rows = results[(results["model"] == "trained") & results["t"].notna()
                   & (results["task"] == task)]
    if task is None or rows.empty:
        return []
    if (rows["probe"] == probe).any():
        rows = rows[rows["probe"] == probe]
    rows = rows.assign(base=rows["view"].map(base_view))
    base = sorted(rows["base"].unique(), key=_preference)[0]
    rows = rows[rows["base"] == base]
    _, from_end = scan_order(base)
    positions = _positions(rows, from_end)
    if not positions or not (rows["metric"] == "majority_accuracy").any():
        return []
    view = str(rows["view"].iloc[0])
    diffs = [majority_difference(results, values, view, task, probe, t) for t in positions]
    verdicts = holm_verdicts(diffs)
    family = f"scan:{view}:{task}"
    claims = tuple(Claim(view, "majority", "accuracy", v, family, task, str(probe), t=t)
                   for t, d, v in zip(positions, diffs, verdicts, strict=True) if d is not None)
    acc = rows[rows["metric"] == "accuracy"].groupby("t")["value"].mean()
    peak_t = int(acc.loc[positions].idxmax())
    peak = f"it peaks at {percent(acc[peak_t])} at t={peak_t}"
    whole = sees_whole_sentence(base, bidirectional)
    order = "counted from the end, t=-1 the last token" if from_end else "t=0 the first token"
    name = f"`{base}` at position t ({order})"
    test = (f"paired difference from the majority rate of the same rows, Holm-corrected over "
            f"the {len(positions)} positions scanned")
    above = [t for t, v in zip(positions, verdicts, strict=True) if v == ABOVE]
    if not above:
        text = (f"Reading {name}, label accuracy is never clearly above the majority-class "
                f"baseline at any position ({test}; {peak}).")
    else:
        t0 = above[0]
        seen = abs(t0) if from_end else t0 + 1
        if whole:
            when = (f"is decodable at position t={t0} (this state of a bidirectional stack "
                    "has already seen the whole sentence through the layer below, so this "
                    "says where, not how early)")
        else:
            which = "last" if from_end else "first"
            when = (f"is available at t={t0}, after reading only the {which} {seen} "
                    f"token{'s' * (seen != 1)}")
        text = f"Reading {name}, the label first clearly exceeds the majority-class baseline " \
               f"at t={t0} ({test}): it {when}; {peak}."
    text += _rows_said(rows, positions, base, from_end)
    return [(text, claims)]
