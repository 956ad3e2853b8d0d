"""Cell-level numbers beside the per-split metrics: H(label), the control's degeneracy, clipping.

- ``label_entropy``: the plug-in entropy H(label) in bits of the labels of the cell's held-out
  rows (every split's test rows pooled; a K-fold cell tests every row once per seed). It is
  the most information any state can carry about the label on these rows, so a ``bits``
  interval is clipped to at most it (a binary label's 0.605 [0.027, 1.183] became
  [0.027, 1.0]); the point estimate is left as measured, and the clip never leaves it
  outside its own interval (a held-out H(Y) a little above the plug-in entropy can put it
  above H(label): 3.1767 [3.0983, 3.1749] in the demo, now [3.0983, 3.1767]).
- ``control_majority``: the share of the most common control label (mean over seeds). At or
  above :data:`~probe_rnn.probing.controls.DEGENERATE_CONTROL` the control key is nearly
  constant, so control accuracy is about that share on every view and selectivity says
  nothing about the probe's capacity: :func:`withheld` makes it NaN.

Both have no interval (NaN ends): they describe the probed rows, not an estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from probe_rnn.probing.controls import DEGENERATE_CONTROL

_NAN = float("nan")


def label_entropy(labels: np.ndarray) -> float:
    """Plug-in entropy in bits of ``labels`` (shape (rows,)); NaN when empty."""
    if len(labels) == 0:
        return _NAN
    _, counts = np.unique(np.asarray(labels, dtype=object).astype(str), return_counts=True)
    share = counts / counts.sum()
    return float(-(share * np.log2(share)).sum() + 0.0)


def cell_constants(p: Any, parts: Sequence[dict[str, Any]], control_majority: float | None
                   ) -> dict[str, tuple[float, float, float]]:
    """``label_entropy`` of the held-out rows of ``parts`` (split records with ``labels``)
    and ``control_majority`` when given, as (value, NaN, NaN); classification only."""
    out: dict[str, tuple[float, float, float]] = {}
    if p.kind != "classification":
        return out
    if parts and all("labels" in part for part in parts):
        pooled = np.concatenate([np.asarray(part["labels"], dtype=object) for part in parts])
        out["label_entropy"] = (label_entropy(pooled), _NAN, _NAN)
    if control_majority is not None:
        out["control_majority"] = (float(control_majority), _NAN, _NAN)
    return out


def clip_bits(stats: dict[str, Any]) -> dict[str, Any]:
    """``stats`` with the ``bits`` interval ends clipped to at most ``label_entropy``, and
    never past the point estimate (which stays inside its interval)."""
    if "bits" not in stats or "label_entropy" not in stats:
        return stats
    top = stats["label_entropy"][0]
    value, low, high = stats["bits"]
    if np.isfinite(top):
        ceiling = max(top, value) if np.isfinite(value) else top
        low, high = float(np.minimum(low, ceiling)), float(np.minimum(high, ceiling))
    return {**stats, "bits": (value, low, high)}


def withheld(stats: dict[str, Any], control_majority: float | None) -> dict[str, Any]:
    """``stats`` (metric -> value or (value, low, high)) with ``selectivity`` made NaN when
    the control is degenerate (``control_majority >= DEGENERATE_CONTROL``)."""
    if "selectivity" not in stats or control_majority is None \
            or not control_majority >= DEGENERATE_CONTROL:
        return stats
    current = stats["selectivity"]
    return {**stats, "selectivity": (_NAN,) * 3 if isinstance(current, tuple) else _NAN}


def cell_salt(cell: Any) -> str:
    """A cell's identity as text (model, view, task, probe): seeds its fit-noise stream."""
    return f"{cell.model}|{cell.view}|{cell.task.name}|{cell.probe}"
