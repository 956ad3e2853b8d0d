"""Erasure (amnesic probing, Elazar et al. 2021) with LEACE (Belrose et al. 2023).

For each view: fit EleutherAI's ``concept-erasure`` :class:`LeaceEraser` for the concept (the
label by default) on the view's clean values on training rows; replace the state by its erased
value on the held-out rows where the model computes it; report the model's accuracy before and
after, the paired drop and the agreement of its predictions (``erasure`` rows). Beside it, a
control erasure of a random subspace of the same rank (LEACE removes ``classes - 1``
directions), an orthogonal projection about the training mean (``erasure-control`` rows). The
sanity check: a fresh logistic regression fitted on erased training states reads the erased
held-out states at about the majority rate (``probe_after`` and ``majority`` rows; passes at
most majority + :data:`PROBE_MARGIN`). A per-step view (``hidden/L0/fwd@t``) is erased on the
rows longer than t, its eraser fitted on the training rows longer than t.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import Tensor

from probe_rnn.catalogue import ViewSpec
from probe_rnn.interventions.setup import InterventionSetup
from probe_rnn.interventions.stats import effect_rows, row

#: A fresh probe on erased states passes the check when it reads at most majority + this.
PROBE_MARGIN = 0.03
#: A per-step view is erased only with at least this many rows longer than its step.
MIN_ROWS = 20
#: The control passes when a fresh probe loses at most this much accuracy through it.
CONTROL_MARGIN = 0.05


def fit_eraser(x: Tensor, concept: np.ndarray):
    """A LEACE eraser of ``concept`` (rows,) from ``x`` (rows, width), and the concept's rank
    (``classes - 1``)."""
    from concept_erasure import LeaceEraser

    classes, codes = np.unique(concept.astype(str), return_inverse=True)
    z = torch.nn.functional.one_hot(torch.as_tensor(codes), len(classes)).to(torch.float64)
    eraser = LeaceEraser.fit(x.detach().to(torch.float64), z)
    return eraser, max(1, len(classes) - 1)


def random_eraser(x: Tensor, rank: int, seed: int):
    """Erase a random ``rank``-dimensional subspace (orthogonal projection about the mean of
    ``x``): the control of the same rank as LEACE's."""
    g = torch.Generator().manual_seed(int(seed))
    basis, _ = torch.linalg.qr(torch.randn(x.shape[1], rank, generator=g, dtype=torch.float64))
    basis = basis.to(x.device)
    mean = x.detach().to(torch.float64).mean(0)

    def erase(values: Tensor) -> Tensor:
        centred = values.to(torch.float64) - mean
        return values.to(torch.float64) - (centred @ basis) @ basis.T

    return erase


def fresh_probe_accuracy(train_x: Tensor, train_y: np.ndarray, test_x: Tensor,
                         test_y: np.ndarray) -> tuple[float, float]:
    """Held-out accuracy of a standardised logistic regression fitted on the training rows,
    and the majority rate (the training majority class's share of the held-out rows)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_y, test_y = train_y.astype(str), test_y.astype(str)
    classes, counts = np.unique(train_y, return_counts=True)
    majority = float(np.mean(test_y == classes[np.argmax(counts)]))
    if len(classes) < 2:
        return majority, majority
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    with threadpool_limits(limits=1):  # as in a probing cell (conditional.py: why)
        probe.fit(train_x.cpu().numpy(), train_y)
        predicted = probe.predict(test_x.cpu().numpy())
    return float(np.mean(predicted == test_y)), majority


@dataclass
class _Sample:
    """The rows one view's erasure reads: clean values and concepts of the training and the
    held-out rows, the held-out rows' gold labels and predictions, and their positions."""

    train_x: Tensor
    test_x: Tensor
    train_c: np.ndarray
    test_c: np.ndarray
    gold: np.ndarray
    pred: np.ndarray
    index: np.ndarray | None


def _sample(setup: InterventionSetup, view: str) -> _Sample | None:
    """Every row for a sentence view; for a per-step view (``@t``) the rows longer than t
    (None when fewer than :data:`MIN_ROWS` on either side, or one class among them)."""
    train_x, test_x = setup.values("train", view), setup.values("test", view)
    spec = ViewSpec.parse(view)
    train, test = setup.train, setup.test
    if spec.t is None or spec.relative:
        return _Sample(train_x, test_x, train.concept, test.concept, test.gold, test.pred, None)
    keep_train = np.flatnonzero(train.lengths.cpu().numpy() > spec.t)
    keep = np.flatnonzero(test.lengths.cpu().numpy() > spec.t)
    if min(len(keep_train), len(keep)) < MIN_ROWS or \
            len(np.unique(train.concept[keep_train])) < 2:
        return None
    pick, pick_train = torch.as_tensor(keep), torch.as_tensor(keep_train)
    return _Sample(train_x[pick_train.to(train_x.device)], test_x[pick.to(test_x.device)],
                   train.concept[keep_train], test.concept[keep], test.gold[keep],
                   test.pred[keep], keep)


def erasure_rows(setup: InterventionSetup, view: str, step: int | None = None
                 ) -> list[dict[str, Any]]:
    """The ``erasure`` and ``erasure-control`` rows of one view (module docstring); a
    per-step view is erased on the rows longer than its step."""
    found = _sample(setup, view)
    if found is None:
        return []
    eraser, rank = fit_eraser(found.train_x, found.train_c)
    dtype = found.test_x.dtype
    erased_test = eraser(found.test_x.to(torch.float64)).to(dtype)
    erased_train = eraser(found.train_x.to(torch.float64)).to(dtype)
    probe, majority = fresh_probe_accuracy(erased_train, found.train_c, erased_test,
                                           found.test_c)
    ok = probe <= majority + PROBE_MARGIN
    sanity = (f"a fresh logistic probe reads the erased held-out states at {probe:.3f}, "
              f"{'within' if ok else 'above'} majority {majority:.3f} + {PROBE_MARGIN}")
    common = {"task": setup.task, "step": step, "sanity_ok": ok, "sanity": sanity}
    seed, n = setup.seed, len(found.gold)
    after = setup.predict("test", view, erased_test, index=found.index)
    out = effect_rows("erasure", view, found.gold, found.pred, after, seed, **common)
    out += [row("erasure", view, "probe_after", probe, n=n, **common),
            row("erasure", view, "majority", majority, n=n, **common)]
    control = random_eraser(found.train_x, rank, seed)
    kept = control(found.test_x).to(dtype)
    moved = setup.predict("test", view, kept, index=found.index)
    check = _control_sanity(found, control(found.train_x).to(dtype), kept, rank)
    out += effect_rows("erasure-control", view, found.gold, found.pred, moved, seed,
                       task=setup.task, step=step, **check)
    return out


def _control_sanity(found: _Sample, kept_train: Tensor, kept_test: Tensor, rank: int
                    ) -> dict[str, Any]:
    """The control keeps the concept: a fresh probe reads the control-erased held-out states
    within :data:`CONTROL_MARGIN` of how it reads the clean ones."""
    before, _ = fresh_probe_accuracy(found.train_x, found.train_c, found.test_x, found.test_c)
    after, _ = fresh_probe_accuracy(kept_train, found.train_c, kept_test, found.test_c)
    ok = after >= before - CONTROL_MARGIN
    return {"sanity_ok": ok, "sanity": (
        f"a fresh logistic probe reads the concept at {after:.3f} after erasing a random "
        f"{rank}-dimensional subspace and at {before:.3f} before "
        f"({'kept' if ok else 'lost'}: the control {'does not erase' if ok else 'erases'} it)")}
