"""Output-versus-hidden equivalence, measured on the stored states of one run.

PyTorch's ``output`` at each row's own last step and the top layer's forward ``h_n`` are the
same vector; the backward half of ``output@last`` has seen only the last token while
``h_n/bwd`` has seen the whole sentence; ``output[:, -1]`` of a padded batch is padding for
short rows. These are the numbers behind the report's first findings, read from the
:class:`~probe_rnn.capture.store.StateStore` (never recomputed from the model), and the
sentences that state them (:func:`equivalence_sentences`, :func:`same_vectors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from probe_rnn.report.measures import percent, short_number
from probe_rnn.vocabulary import OUTPUT_LAST, OUTPUT_NAIVE_LAST, state_view, try_parse

__all__ = [
    "Comparison", "Equivalence", "measure_equivalence", "storage_tolerance",
    "equivalence_sentences", "same_vectors",
]


@dataclass(frozen=True)
class Comparison:
    """Two views compared row by row.

    Attributes
    ----------
    a, b : str
        View names (``b`` may be a half of a view, e.g. ``output@last[fwd half]``).
    max_abs_diff : float
        Largest absolute difference over all rows and features.
    differing_rows : int
        Rows whose largest absolute difference exceeds ``tolerance``.
    rows : int
        Rows compared.
    tolerance : float
        Below this two stored values count as identical (storage precision).
    """

    a: str
    b: str
    max_abs_diff: float
    differing_rows: int
    rows: int
    tolerance: float

    @property
    def identical(self) -> bool:
        """Whether every row agrees within the tolerance."""
        return self.max_abs_diff <= self.tolerance

    @property
    def differing_fraction(self) -> float:
        """Share of rows that differ beyond the tolerance."""
        return self.differing_rows / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class Equivalence:
    """The measured output-versus-hidden relations of one model on one dataset.

    Attributes
    ----------
    top_layer : int
        Index of the top recurrent layer.
    bidirectional : bool
        Whether ``h_n/L{top}/bwd`` exists.
    last_vs_hn_fwd : Comparison or None
        Forward half of ``output@last`` against ``h_n/L{top}/fwd``.
    last_vs_hn_bwd : Comparison or None
        Backward half of ``output@last`` against ``h_n/L{top}/bwd`` (expected to differ).
    naive_vs_last : Comparison or None
        ``output@-1`` against ``output@last``.
    naive_rows_shorter : bool or None
        Whether every row where ``output@-1`` differs is shorter than the longest row (as padding
        would explain); ``None`` when nothing differs.
    max_length : int
        Longest row in tokens.
    """

    top_layer: int
    bidirectional: bool
    last_vs_hn_fwd: Comparison | None
    last_vs_hn_bwd: Comparison | None
    naive_vs_last: Comparison | None
    naive_rows_shorter: bool | None
    max_length: int

    @property
    def hn_fwd(self) -> str:
        """Name of the top layer's forward final hidden state view."""
        return state_view("h_n", self.top_layer, "fwd")

    @property
    def hn_bwd(self) -> str:
        """Name of the top layer's backward final hidden state view."""
        return state_view("h_n", self.top_layer, "bwd")


def storage_tolerance(dtype: Any) -> float:
    """Largest difference that storage rounding alone can make between equal states.

    float16 rounds values in ``[-1, 1]`` to steps of at most ``2**-10``; a state computed twice
    with float32 noise can land one step apart. float32 and wider get ``1e-5``.
    """
    return 2.0**-10 if np.dtype(dtype).itemsize <= 2 else 1e-5


def _compare(a_name: str, a: np.ndarray, b_name: str, b: np.ndarray, tol: float) -> Comparison:
    diff = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    per_row = diff.max(axis=1) if diff.size else np.zeros(len(diff))
    return Comparison(
        a=a_name, b=b_name, max_abs_diff=float(per_row.max()) if len(per_row) else 0.0,
        differing_rows=int((per_row > tol).sum()), rows=len(per_row), tolerance=tol,
    )


def top_layer(views: list[str]) -> int | None:
    """Index of the highest layer with an ``h_n/L{l}/...`` view, ``None`` without any."""
    layers = [s.layer for v in views if (s := try_parse(v)) is not None and s.base == "h_n"]
    return max(layers) if layers else None


def measure_equivalence(store: Any) -> Equivalence | None:
    """Compare ``output@last``, ``h_n`` of the top layer and ``output@-1`` in a state store.

    Parameters
    ----------
    store : StateStore
        The trained model's store; needs ``output@last`` and ``h_n/L{top}/fwd`` at least.

    Returns
    -------
    Equivalence or None
        ``None`` when the store lacks the views to compare.
    """
    views = list(store.views)
    top = top_layer(views)
    if top is None:
        return None
    hn_fwd, hn_bwd = state_view("h_n", top, "fwd"), state_view("h_n", top, "bwd")
    if OUTPUT_LAST not in views or hn_fwd not in views:
        return None
    last = np.asarray(store.sentence(OUTPUT_LAST))
    fwd = np.asarray(store.sentence(hn_fwd))
    tol = storage_tolerance(last.dtype)
    width = fwd.shape[1]
    bidirectional = hn_bwd in views and last.shape[1] >= 2 * width
    half = f"{OUTPUT_LAST} (forward half)" if bidirectional else OUTPUT_LAST
    last_fwd = _compare(hn_fwd, fwd, half, last[:, :width], tol)
    last_bwd = None
    if bidirectional:
        bwd = np.asarray(store.sentence(hn_bwd))
        last_bwd = _compare(
            hn_bwd, bwd, f"{OUTPUT_LAST} (backward half)", last[:, width:2 * width], tol
        )
    lengths = np.asarray(store.meta["length"]) if "length" in store.meta else store.lengths()
    naive, shorter = None, None
    if OUTPUT_NAIVE_LAST in views:
        naive_arr = np.asarray(store.sentence(OUTPUT_NAIVE_LAST))
        naive = _compare(OUTPUT_NAIVE_LAST, naive_arr, OUTPUT_LAST, last, tol)
        per_row = np.abs(naive_arr.astype(np.float64) - last.astype(np.float64)).max(axis=1)
        differing = per_row > tol
        if differing.any():
            shorter = bool((lengths[differing] < lengths.max()).all())
    return Equivalence(
        top_layer=top, bidirectional=bidirectional, last_vs_hn_fwd=last_fwd,
        last_vs_hn_bwd=last_bwd, naive_vs_last=naive, naive_rows_shorter=shorter,
        max_length=int(lengths.max()) if len(lengths) else 0,
    )


def equivalence_sentences(eq: Equivalence) -> list[str]:
    """The sentences stating what :func:`measure_equivalence` found, strongest pair first."""
    out = []
    c = eq.last_vs_hn_fwd
    if c is not None:
        if c.identical and eq.bidirectional:
            text = (f"The forward half of `output@last` and `{eq.hn_fwd}` are identical on all "
                    f"{c.rows} rows (max |diff| {short_number(c.max_abs_diff)}, storage tolerance "
                    f"{short_number(c.tolerance)}): that half carries exactly what `{eq.hn_fwd}` "
                    "carries.")
        elif c.identical:
            text = (f"`output@last` and `{eq.hn_fwd}` are identical on all {c.rows} rows "
                    f"(max |diff| {short_number(c.max_abs_diff)}, storage tolerance "
                    f"{short_number(c.tolerance)}): for this model they carry the same "
                    "information.")
        else:
            what = "The forward half of `output@last`" if eq.bidirectional else "`output@last`"
            text = (f"{what} and `{eq.hn_fwd}` differ on "
                    f"{c.differing_rows} of {c.rows} rows "
                    f"(max |diff| {short_number(c.max_abs_diff)}, "
                    "above the storage tolerance): they are not the same state here.")
        out.append(text)
    b = eq.last_vs_hn_bwd
    if b is not None:
        if b.identical:
            text = (f"The backward half of `output@last` equals `{eq.hn_bwd}` on all {b.rows} "
                    f"rows (max |diff| {short_number(b.max_abs_diff)}).")
        else:
            text = (f"The backward half of `output@last` differs from `{eq.hn_bwd}` on "
                    f"{percent(b.differing_fraction)} of rows (max |diff| "
                    f"{short_number(b.max_abs_diff)}): at the last step the backward direction has "
                    f"read only the last token, while `{eq.hn_bwd}` has read the whole sentence.")
        out.append(text)
    n = eq.naive_vs_last
    if n is not None:
        out.append(_naive_text(n, eq))
    return out


def _naive_text(n: Comparison, eq: Equivalence) -> str:
    if n.differing_rows == 0:
        return (f"`output@-1` (the padded batch's last column) equals `output@last` on every "
                f"one of the {n.rows} rows here.")
    text = (f"`output@-1` (the padded batch's last column, what naive code reads) differs from "
            f"`output@last` for {percent(n.differing_fraction)} of rows ({n.differing_rows} of "
            f"{n.rows})")
    if eq.naive_rows_shorter:
        text += (f"; every differing row is shorter than the longest row ({eq.max_length} "
                 "tokens), as reading padding would explain")
    return text + "."


def same_vectors(eq: Equivalence | None, view: str) -> set[str]:
    """Views measured to be the very same vector as ``view`` (unidirectional models only:
    there ``output@last`` is ``h_n`` of the top layer)."""
    if eq is None or eq.bidirectional or eq.last_vs_hn_fwd is None:
        return set()
    if not eq.last_vs_hn_fwd.identical:
        return set()
    pair = {"output@last", eq.hn_fwd}
    return pair - {view} if view in pair else set()
