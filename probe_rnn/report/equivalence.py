"""Output-versus-hidden equivalence of one run, read from its diagnosis.

PyTorch's ``output`` at each row's own last step and the top layer's forward ``h_n`` are the
same vector; the backward half of ``output@last`` has seen only the last token while
``h_n/bwd`` has seen the whole sentence; ``output[:, -1]`` of a padded batch is padding for
short rows. The capture measured all of it on the states it stored, with one tolerance, and
wrote it with its sentences (:mod:`probe_rnn.capture.diagnosis`, the run folder's
``diagnosis.csv``); :func:`equivalence_of` reads those numbers and sentences back for the
report's first findings, the comparison table and the opening answer. Nothing is measured
again here. A model with several recurrent sites (an encoder and a decoder, the two calls of a
siamese encoder) has one diagnosis per site, under the site's name: :func:`equivalences_of`
reads each (its views named ``SITE:VIEW``), the report shows one block per site.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from probe_rnn.capture.diagnosis import CHECKS, SAME_TOLERANCE
from probe_rnn.catalogue import (
    OUTPUT_LAST,
    OUTPUT_NAIVE_LAST,
    final_view,
    site_view,
    state_view,
    try_parse,
)


@dataclass(frozen=True)
class Comparison:
    """Two views compared row by row.

    Attributes
    ----------
    a, b : str
        View names (``b`` may be a half of a view, e.g. ``output@last (forward half)``).
    max_abs_diff : float
        Largest absolute difference over all rows and features.
    differing_rows : int
        Rows whose largest absolute difference exceeds ``tolerance``.
    rows : int
        Rows compared.
    tolerance : float
        At or below this two states count as the same vector.
    """

    a: str
    b: str
    max_abs_diff: float
    differing_rows: int
    rows: int
    tolerance: float = SAME_TOLERANCE

    @property
    def identical(self) -> bool:
        """Whether every row agrees within the tolerance."""
        return self.max_abs_diff <= self.tolerance


@dataclass(frozen=True)
class Equivalence:
    """The measured output-versus-hidden relations of one model on one dataset.

    Attributes
    ----------
    top_layer : int
        Index of the top recurrent layer.
    bidirectional : bool
        Whether ``h_n/L{top}/bwd`` exists.
    last_vs_hn_fwd : Comparison
        Forward half of ``output@last`` against ``h_n/L{top}/fwd``.
    last_vs_hn_bwd : Comparison or None
        Backward half of ``output@last`` against ``h_n/L{top}/bwd`` (expected to differ).
    naive_vs_last : Comparison or None
        ``output@-1`` against ``output@last``.
    sentences : tuple of str
        The diagnosis's sentences stating these comparisons, strongest pair first.
    site : str or None
        The site measured when the model has several (its views are ``SITE:VIEW``); None
        for a model with one.
    """

    top_layer: int
    bidirectional: bool
    last_vs_hn_fwd: Comparison
    last_vs_hn_bwd: Comparison | None
    naive_vs_last: Comparison | None
    sentences: tuple[str, ...] = ()
    site: str | None = None

    @property
    def hn_fwd(self) -> str:
        """Name of the top layer's forward final hidden state view."""
        return site_view(self.site, state_view("h_n", self.top_layer, "fwd"))

    @property
    def hn_bwd(self) -> str:
        """Name of the top layer's backward final hidden state view."""
        return site_view(self.site, state_view("h_n", self.top_layer, "bwd"))

    @property
    def hn_cat(self) -> str:
        """Name of the top layer's final hidden state, every direction concatenated (what a
        head reading ``cat(h_n fwd, h_n bwd)`` reads; unidirectional: ``hn_fwd``'s vector)."""
        return site_view(self.site, final_view("h_n", self.top_layer))

    @property
    def output_last(self) -> str:
        """Name of the ``output@last`` view of the site measured."""
        return site_view(self.site, OUTPUT_LAST)


def top_layer(views: list[str]) -> int | None:
    """Index of the highest layer with an ``h_n/L{l}/...`` view, ``None`` without any."""
    layers = [s.layer for v in views if (s := try_parse(v)) is not None and s.base == "h_n"]
    return max(layers) if layers else None


def equivalence_of(diagnosis: pd.DataFrame | None) -> Equivalence | None:
    """The equivalence a run's diagnosis measured (its first module or site: with several
    sites, the first the model ran).

    Returns ``None`` when there is no diagnosis (a cell loop) or it lacks the comparison
    (written by an older probe-rnn: run the probe again).
    """
    found = equivalences_of(diagnosis)
    return found[0] if found else None


def equivalences_of(diagnosis: pd.DataFrame | None) -> list[Equivalence]:
    """The equivalence of every site the diagnosis measured, in its order (one, with
    ``site`` None, for a model with one site); a module lacking the comparison is left out."""
    if diagnosis is None or diagnosis.empty:
        return []
    modules = list(dict.fromkeys(diagnosis["module"]))
    found = [_equivalence(diagnosis[diagnosis["module"] == module],
                          str(module) if len(modules) > 1 else None) for module in modules]
    return [eq for eq in found if eq is not None]


def _equivalence(part: pd.DataFrame, site: str | None) -> Equivalence | None:
    value = dict(zip(part["check"], part["value"], strict=True))
    text = dict(zip(part["check"], part["explanation"], strict=True))
    if not {CHECKS["layers"], CHECKS["fwd_max"], CHECKS["fwd_rows"]} <= set(value):
        return None
    rows, top = int(value[CHECKS["rows"]]), int(value[CHECKS["layers"]]) - 1
    bidirectional = CHECKS["bwd_max"] in value
    last = site_view(site, OUTPUT_LAST)
    fwd_of = f"{last} (forward half)" if bidirectional else last
    fwd = Comparison(site_view(site, state_view("h_n", top, "fwd")), fwd_of,
                     float(value[CHECKS["fwd_max"]]), int(value[CHECKS["fwd_rows"]]), rows)
    bwd = naive = None
    if bidirectional:
        bwd = Comparison(site_view(site, state_view("h_n", top, "bwd")),
                         f"{last} (backward half)", float(value[CHECKS["bwd_max"]]),
                         int(value[CHECKS["bwd_rows"]]), rows)
    if {CHECKS["naive_rows"], CHECKS["naive_max"]} <= set(value):
        naive = Comparison(site_view(site, OUTPUT_NAIVE_LAST), last,
                           float(value[CHECKS["naive_max"]]), int(value[CHECKS["naive_rows"]]),
                           rows)
    said = [text[c] for c in (CHECKS["fwd_max"], CHECKS["bwd_max"], CHECKS["naive_share"])
            if c in text]
    return Equivalence(top, bidirectional, fwd, bwd, naive, tuple(dict.fromkeys(said)), site)


def same_vectors(eq: Equivalence | None, view: str) -> set[str]:
    """Views that are the very same vector as ``view``: in a unidirectional model
    ``h_n/L{top}`` is ``h_n/L{top}/fwd`` by construction, and ``output@last`` is measured to
    be that vector too (when the diagnosis found them identical)."""
    if eq is None or eq.bidirectional:
        return set()
    group = {eq.hn_fwd, eq.hn_cat}
    if eq.last_vs_hn_fwd.identical:
        group.add(eq.output_last)
    return group - {view} if view in group else set()
