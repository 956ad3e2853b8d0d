"""Per-timestep state attribution: how much of the target logit flows through each state.

For every valid step t, layer l, direction d and state s (hidden, and cell for LSTM) we define
``G(z)`` = the model's target logit when the state ``s`` of (l, d) at step t is *replaced* by
``z`` and everything downstream is recomputed (later steps of the same layer, upper layers,
readout, head). Its attribution is Integrated Gradients of ``G`` from the state baseline ``b``
(zeros, the initial state; or ``"pad"``: the state the PAD input produces there) to the actual
state ``h``: ``(h - b) * mean_alpha dG/dz`` per unit. The perturbation is applied through the
unrolled twin's additive taps (``z = h + delta``), so the fused kernel, whose hooks see only
the last step, is never asked for gradients it cannot give.

**Completeness check for intermediate steps**: by IG's completeness, the units' sum must equal
the *ablation effect* ``F(x) - F(x with state_t := b)``. The ablation effect is computed
separately (the fused model for ``F(x)``, one plain twin forward for the ablated run), and the
step's ``completeness_error`` is ``|sum - ablation| / max(|ablation|, 0.01·|F(x) - F(x_PAD)|)``
(the floor keeps steps that carry nothing from dividing noise by noise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from captum.attr import IntegratedGradients
from torch import Tensor

from probe_rnn.attribution.parts import (
    ModelParts,
    attribution_mode,
    checked_inputs,
    chunks,
    endpoint_logits,
    gather_target,
    relative_error,
)
from probe_rnn.attribution.unrolled import Taps, UnrolledRNN, twin_in_place, verify_twin
from probe_rnn.catalogue import DIRECTIONS
from probe_rnn.errors import ParameterError
from probe_rnn.validation import shown

STATE_BASELINES = ("zero", "pad")


@dataclass
class StepAttributions:
    """Per-step attributions of one batch.

    frame : one row per tap: ``row`` (batch index), ``layer``, ``direction``, ``state``, ``t``,
        ``t_from_end``, ``attribution``, ``share``, ``ablation``, ``abs_error``,
        ``completeness_error``, ``valid`` (False only for the final state of a padded run
        that lies on padding; kept for neuron ranking, never reported as a step).
    units : (taps, hidden) per-unit attributions aligned with ``frame`` rows.
    twin_error : largest twin-vs-fused difference found by :func:`verify_twin`.
    packed : whether the module ran on a PackedSequence.
    """

    frame: pd.DataFrame
    units: Tensor
    twin_error: float
    packed: bool


def _enumerate_taps(twin: UnrolledRNN, lengths: Tensor, time: int, packed: bool,
                    states: tuple[str, ...]) -> pd.DataFrame:
    """One row per (sentence, layer, direction, state, absolute t) with its loop step."""
    records = []
    for b, n in enumerate(lengths.tolist()):
        eff = n if packed else time
        for layer in range(twin.num_layers):
            for d in range(twin.num_directions):
                for s, name in enumerate(("hidden", "cell")[: twin.n_states]):
                    if name not in states:
                        continue
                    positions = list(range(n))
                    if d == 0 and eff - 1 >= n:  # padded run: fwd final state sits on padding
                        positions.append(eff - 1)
                    for t in positions:
                        records.append((b, layer, DIRECTIONS[d], name, t, n - 1 - t,
                                        t if d == 0 else eff - 1 - t,
                                        twin.slot(layer, d, s), t < n))
    cols = ["row", "layer", "direction", "state", "t", "t_from_end", "step", "slot", "valid"]
    return pd.DataFrame.from_records(records, columns=cols)


def _state_values(twin: UnrolledRNN, taps: pd.DataFrame, which) -> Tensor:
    """The recorded state (taps, hidden) at each tap (zero-padded to the hidden width)."""
    out = torch.zeros(len(taps), twin.hidden_size)
    for name, sub in taps.groupby("state"):
        src = which.hidden if name == "hidden" else which.cell
        idx = [torch.tensor(sub[c].to_numpy()) for c in ("row", "t", "layer")]
        dirs = torch.tensor((sub["direction"] == "bwd").to_numpy().astype(np.int64))
        vals = src[idx[0], idx[1], idx[2], dirs]
        out[torch.tensor(sub.index.to_numpy()), : vals.shape[1]] = vals
    return out


def _run_states(parts: ModelParts, twin: UnrolledRNN, ids: Tensor, lengths: Tensor):
    with torch.no_grad(), twin_in_place(twin):
        parts.forward(ids, lengths)
    return twin.last


def step_attributions(parts: ModelParts, ids: Tensor, lengths: Tensor, target: Tensor, *,
                      n_steps: int = 50, internal_batch_size: int = 256,
                      states: tuple[str, ...] = ("hidden", "cell"),
                      baseline: str = "zero",
                      progress: Callable[[int, int], None] | None = None) -> StepAttributions:
    """Attribute each row's ``target`` logit to every (layer, direction, state, step).

    Parameters
    ----------
    parts : model parts; ids (batch, time) long; lengths (batch,); target (batch,) long.
    n_steps : IG steps per tap; internal_batch_size : twin rows per forward (bounds memory).
    states : which states to tap (``cell`` only exists for LSTM).
    baseline : ``"zero"`` (the initial state) or ``"pad"`` (the state on the PAD input).
    progress : called as ``progress(done, total)`` after each chunk of taps is integrated (the
        work grows with the number of taps times the sentences' length: minutes for long rows).
    """
    if baseline not in STATE_BASELINES:
        raise ParameterError("baseline", f"one of {', '.join(STATE_BASELINES)}", shown(baseline))
    ids, lengths, target = checked_inputs(parts, ids, lengths, target)
    twin = UnrolledRNN(parts.rnn)
    with attribution_mode(parts.model):
        twin_error = verify_twin(twin, parts.forward, ids, lengths)
        actual = _run_states(parts, twin, ids, lengths)
        packed = twin.last_packed
        taps = _enumerate_taps(twin, lengths.cpu(), actual.hidden.shape[1], packed, states)
        h = _state_values(twin, taps, actual)
        b = torch.zeros_like(h) if baseline == "zero" else _state_values(
            twin, taps, _run_states(parts, twin, parts.pad_ids(ids), lengths))
        rows = torch.tensor(taps["row"].to_numpy())
        slot = torch.tensor(taps["slot"].to_numpy())
        step = torch.tensor(taps["step"].to_numpy())
        units, ablated = _integrate(parts, twin, ids[rows], lengths[rows], target[rows], slot,
                                    step, h - b, n_steps, internal_batch_size, progress)
        f_x, f_pad = endpoint_logits(parts, ids, lengths, target)
    total = units.sum(1)
    ablation = f_x[rows] - ablated
    scale = torch.maximum(ablation.abs(), 0.01 * (f_x - f_pad).abs()[rows])
    frame = taps.drop(columns=["step", "slot"])
    frame["attribution"] = total.numpy()
    frame["ablation"] = ablation.numpy()
    frame["abs_error"] = (total - ablation).abs().numpy()
    frame["completeness_error"] = relative_error(total - ablation, scale).numpy()
    mass = frame["attribution"].abs().where(frame["valid"], 0.0)
    denom = mass.groupby([frame[c] for c in ("row", "layer", "direction", "state")]
                         ).transform("sum")
    frame["share"] = (mass / denom.where(denom > 0, 1.0)).to_numpy()
    return StepAttributions(frame, units, twin_error, packed)


def _integrate(parts: ModelParts, twin: UnrolledRNN, ids: Tensor, lengths: Tensor,
               target: Tensor, slot: Tensor, step: Tensor, diff: Tensor, n_steps: int,
               internal_batch_size: int, progress: Callable[[int, int], None] | None = None
               ) -> tuple[Tensor, Tensor]:
    """IG over the tap deltas from ``b - h`` to 0; returns (units (taps, hidden), F_ablated);
    ``progress(done, total)`` after each chunk of taps."""

    def f(delta: Tensor, ids_: Tensor, len_: Tensor, slot_: Tensor, step_: Tensor) -> Tensor:
        twin.taps = Taps(slot_, step_, delta)
        return parts.forward(ids_, len_)

    ig = IntegratedGradients(f)
    units, ablated = [], []
    pieces = list(chunks(len(diff), internal_batch_size))
    with twin_in_place(twin):
        for done, sl in enumerate(pieces, 1):
            extra = (ids[sl], lengths[sl], slot[sl], step[sl])
            zeros = torch.zeros_like(diff[sl])
            units.append(ig.attribute(zeros, baselines=-diff[sl], target=target[sl],
                                      additional_forward_args=extra, n_steps=n_steps,
                                      internal_batch_size=internal_batch_size).detach())
            with torch.no_grad():
                ablated.append(gather_target(f(-diff[sl], *extra), target[sl]))
            if progress is not None:
                progress(done, len(pieces))
    return torch.cat(units), torch.cat(ablated)
