"""Neuron ranking: which units of a sentence view carry the prediction, and does a probe agree.

The per-unit scores are the state attributions of :mod:`probe_rnn.attribution.steps` at the
position the view reads (``h_n/L{l}/fwd``: the forward state at the last processed step,
``h_n/L{l}/bwd``: the backward state at t = 0, ``c_n`` likewise for the cell,
``output@last``: the top layer's forward and backward hidden state at each row's last token).
Each unit's attribution is IG of the target logit with that state replaced by its baseline, so
the units of one state sum to that state's ablation effect.

For every label, the score of a unit is its mean attribution over the attributed rows whose
target is that label (evidence *for* the label). Agreement with a linear probe on the same view:
Spearman correlation between the unit scores and the probe's weights for the label in
standardised feature space (weight per standard deviation of the unit), and the overlap of the
two top-k sets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from probe_rnn.attribution.steps import StepAttributions
from probe_rnn.catalogue import DIRECTIONS, FINAL_BASES, OUTPUT_LAST, state_views, try_parse
from probe_rnn.errors import AttributionError


def default_neuron_views(num_layers: int, num_directions: int, lstm: bool) -> list[str]:
    """``output@last``, every ``h_n/L{l}/{dir}`` and, for LSTM, every ``c_n/L{l}/{dir}``."""
    names = [OUTPUT_LAST]
    for kind in FINAL_BASES if lstm else FINAL_BASES[:1]:
        names += state_views(kind, range(num_layers), num_directions)
    return names


def _pick(frame: pd.DataFrame, units: np.ndarray, n_rows: int, layer: int, direction: str,
          state: str, final: bool) -> np.ndarray:
    """(rows, hidden) unit attributions of one (layer, direction, state) at the view's step."""
    sub = frame[(frame["layer"] == layer) & (frame["direction"] == direction)
                & (frame["state"] == state)]
    if sub.empty:
        raise AttributionError(f"no {state} state attributions for layer {layer} {direction}")
    if final and direction == "fwd":
        chosen = sub.loc[sub.groupby("row")["t"].idxmax()]
    elif final:
        chosen = sub[sub["t"] == 0]
    else:  # the row's last token
        chosen = sub[sub["t_from_end"] == 0]
    chosen = chosen.sort_values("row")
    if len(chosen) != n_rows:
        raise AttributionError(f"state attributions miss rows for layer {layer} {direction}")
    return units[chosen.index.to_numpy()]


def view_units(steps: StepAttributions, view: str, num_layers: int, num_directions: int,
               out_size: int) -> np.ndarray:
    """Per-row, per-unit attributions (rows, dim) of a sentence view."""
    frame, units = steps.frame, steps.units.numpy()
    n_rows = frame["row"].nunique()
    spec = try_parse(view)
    if spec is not None and spec.is_final:
        state = "hidden" if spec.base == "h_n" else "cell"
        dirs = DIRECTIONS[:num_directions] if spec.direction is None else (spec.direction,)
        picked = [_pick(frame, units, n_rows, spec.layer, d, state, True) for d in dirs]
        return np.concatenate([p[:, :out_size] if state == "hidden" else p for p in picked],
                              axis=1)
    if view == OUTPUT_LAST:
        dirs = DIRECTIONS[:num_directions]
        return np.concatenate([_pick(frame, units, n_rows, num_layers - 1, d, "hidden",
                                     False)[:, :out_size] for d in dirs], axis=1)
    raise AttributionError(
        f"neuron ranking supports output@last, h_n/L{{l}}[/{{dir}}] and c_n/L{{l}}[/{{dir}}]; "
        f"got {view!r}"
    )


def probe_weights(probe: Any, label: str, dim: int) -> np.ndarray | None:
    """The probe's weights for ``label`` in standardised space (dim,), or None if not linear."""
    from probe_rnn.attribution.probe_attribution import linear_parts

    _, model = linear_parts(probe)
    coef = getattr(model, "coef_", None)
    classes = [str(c) for c in getattr(probe, "classes_", getattr(model, "classes_", []))]
    if coef is None or label not in classes:
        return None
    coef = np.atleast_2d(np.asarray(coef, dtype=float))
    if coef.shape[1] != dim:
        return None
    if coef.shape[0] == 1:
        return coef[0] if classes.index(label) == 1 else -coef[0]
    return coef[classes.index(label)]


def rank_neurons(view: str, unit_attr: np.ndarray, targets: np.ndarray, labels: list[str],
                 probe: Any = None, k: int = 10) -> pd.DataFrame:
    """Top-k units per label of one view, with agreement with the probe.

    Parameters
    ----------
    unit_attr : (rows, dim) attributions of the target logit per unit.
    targets : (rows,) label index each row's attribution was computed for.
    labels : label names by index; probe : fitted linear probe on this view (optional).

    Returns
    -------
    DataFrame ``view, neuron, score, rank, probe_weight, label, spearman, topk_overlap``.
    """
    frames = []
    dim = unit_attr.shape[1]
    for c in sorted(set(targets.tolist())):
        score = unit_attr[targets == c].mean(axis=0)
        order = np.argsort(-score, kind="stable")[: min(k, dim)]
        weights = probe_weights(probe, labels[c], dim) if probe is not None else None
        rho = overlap = np.nan
        if weights is not None:
            rho = float(spearmanr(score, weights).statistic) if np.std(score) > 0 else np.nan
            top_w = set(np.argsort(-weights, kind="stable")[: len(order)].tolist())
            overlap = len(top_w & set(order.tolist())) / len(order)
        frames.append(pd.DataFrame({
            "view": view, "neuron": order, "score": score[order],
            "rank": np.arange(1, len(order) + 1),
            "probe_weight": weights[order] if weights is not None else np.nan,
            "label": labels[c], "spearman": rho, "topk_overlap": overlap,
            "share": np.abs(score[order]).sum() / max(np.abs(score).sum(), 1e-12),
        }))
    return pd.concat(frames, ignore_index=True)
