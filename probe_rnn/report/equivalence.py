"""Output-versus-hidden equivalence, measured on the stored states of one run.

PyTorch's ``output`` at each row's own last step and the top layer's forward ``h_n`` are the
same vector; the backward half of ``output@last`` has seen only the last token while
``h_n/bwd`` has seen the whole sentence; ``output[:, -1]`` of a padded batch is padding for
short rows. These are the numbers behind the report's first findings, read from the
:class:`~probe_rnn.capture.store.StateStore` (never recomputed from the model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from probe_rnn.vocabulary import OUTPUT_LAST, OUTPUT_NAIVE_LAST, state_view, try_parse

__all__ = ["Comparison", "Equivalence", "measure_equivalence", "storage_tolerance"]


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
