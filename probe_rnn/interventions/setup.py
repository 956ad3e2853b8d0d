"""What every intervention works on: the model's replacer, the rows, their labels and states.

:class:`InterventionSetup` holds the held-out rows (``test``, those the probes read) and a
seeded sample of training rows (``train``, where erasers and ablation means are fitted), each as
:class:`Rows`: token ids, lengths, the gold label's index among the model's labels, the concept
an eraser removes, and the model's own logits and predictions (through the twin, so they are
exactly what a replaced run is compared with). Views' clean values are read once per split
(:meth:`InterventionSetup.values`). An intervention plugin receives this object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from probe_rnn.errors import DataError, Mention
from probe_rnn.interventions.continuation import CleanStates
from probe_rnn.interventions.replace import StateReplacer, bundle_parts, encode

#: Rows of the identity check each replacing intervention reports as its sanity check.
IDENTITY_ROWS = 32


@dataclass
class Rows:
    """One split's rows: ``ids`` (rows, time), ``lengths`` (rows,), ``gold`` label index per row
    (-1 where the label is not one of the model's), ``concept`` (rows,) the erased concept's
    values, ``pred`` the model's predictions; ``values`` caches clean view values."""

    ids: Tensor
    lengths: Tensor
    gold: np.ndarray
    concept: np.ndarray
    pred: np.ndarray
    values: dict[str, Tensor] = field(default_factory=dict)
    clean: CleanStates | None = None

    def __len__(self) -> int:
        return len(self.gold)


class InterventionSetup:
    """The model, its held-out and training rows, the views and the seed (module docstring).

    Parameters
    ----------
    replacer : the model's :class:`~probe_rnn.interventions.replace.StateReplacer`.
    test, train : the held-out rows and the training sample.
    views : sentence views to intervene on; ``steps`` : per-step views (``hidden/L0/fwd@3``).
    task : the concept's name (``label`` or a column of the table) for erasure rows.
    seed : seeds pairs, resamples, control subspaces and intervals.

    ``tick()``: an intervention may call it each time it finishes one view, so that a long
    intervention's progress moves (:func:`~probe_rnn.interventions.intervene` sets it; a
    no-op otherwise).
    """

    def __init__(self, replacer: StateReplacer, test: Rows, train: Rows, views: Sequence[str],
                 steps: Sequence[str], task: str, seed: int) -> None:
        self.replacer, self.test, self.train = replacer, test, train
        self.views, self.steps = list(views), list(steps)
        self.task, self.seed = task, int(seed)
        self.tick: Callable[[], None] = _nothing
        self._identity: dict[str, dict[str, Any]] = {}

    def values(self, split: str, view: str) -> Tensor:
        """Clean values of ``view`` on ``split`` (``"test"`` or ``"train"``), (rows, width):
        read once and cached, or taken from the split's kept clean states (not cached: a
        per-step view of thousands of rows is not held twice)."""
        rows = self._rows(split)
        if view not in rows.values:
            kept = None if rows.clean is None else rows.clean.values(
                self.replacer.places(view), rows.lengths)
            if kept is not None:
                return kept
            self.read(split, [view])
        return rows.values[view]

    def read(self, split: str, views: Sequence[str]) -> None:
        """Read the clean values of ``views`` on ``split`` in one run (cached)."""
        rows = self._rows(split)
        missing = [v for v in views if v not in rows.values]
        if missing:
            rows.values.update(self.replacer.forward(rows.ids, rows.lengths, read=missing)[1])

    def predict(self, split: str, view: str | Sequence[str], values: Tensor | Sequence[Tensor],
                index: np.ndarray | None = None) -> np.ndarray:
        """The model's predictions on ``split`` (its rows ``index``, default all) with
        ``view`` replaced by ``values`` (one row per picked row); several views at once when
        both are lists."""
        rows = self._rows(split)
        pick = slice(None) if index is None else torch.as_tensor(index, dtype=torch.long)
        pairs = [(view, values)] if isinstance(view, str) else list(zip(view, values,
                                                                         strict=True))
        positions = torch.arange(len(rows)) if index is None else pick
        logits, _ = self.replacer.forward(rows.ids[pick], rows.lengths[pick], replace=pairs,
                                          clean=rows.clean, rows=positions)
        return logits.argmax(1).cpu().numpy()

    def identity_check(self, view: str) -> dict[str, Any]:
        """``sanity_ok`` and ``sanity``: writing each of the first :data:`IDENTITY_ROWS`
        held-out rows' own ``view`` back into its run changes none of their predictions."""
        if view not in self._identity:
            index = np.arange(min(IDENTITY_ROWS, len(self.test)))
            again = self.predict("test", view, self.values("test", view)[index], index)
            same = int(np.sum(again == self.test.pred[index]))
            self._identity[view] = {"sanity_ok": same == len(index), "sanity": (
                f"writing {len(index)} rows' own state back changes {len(index) - same} "
                "predictions (the replacement itself is exact)")}
        return self._identity[view]

    def _rows(self, split: str) -> Rows:
        if split not in ("test", "train"):
            raise DataError(f"split must be 'test' or 'train', got {split!r}")
        return self.test if split == "test" else self.train


def _nothing() -> None:
    """No progress to report."""


def make_rows(bundle, replacer: StateReplacer, table: pd.DataFrame, concept: str,
              read: Sequence[str] = (), keep: Sequence[int] | None = None) -> Rows:
    """:class:`Rows` of ``table`` (columns ``text``, ``label`` and the concept's column): the
    model runs once through the twin for its predictions and the clean values of ``read``
    (and, with ``keep``, its states kept for replaced runs continued from those layers)."""
    labels = [str(x) for x in bundle.labels]
    index = {name: i for i, name in enumerate(labels)}
    ids, lengths = encode(bundle, table["text"].astype(str).tolist(), replacer.parts)
    clean = None
    if keep is None:
        logits, values = replacer.forward(ids, lengths, read=read)
    else:
        logits, values, clean = replacer.read_clean(ids, lengths, read, keep)
    pred = logits.argmax(1).cpu().numpy()
    gold = np.array([index.get(str(x), -1) for x in table["label"]], dtype=np.int64)
    if concept == "prediction":
        concepts = np.array([labels[p] for p in pred], dtype=object)
    elif concept in table.columns:
        concepts = table[concept].astype(str).to_numpy(dtype=object)
    else:
        raise DataError(f"the concept to erase, {concept!r}, is neither 'prediction' nor a "
                        "column of the table: pass ", Mention("task", "label"),
                        " or the name of a column")
    return Rows(ids, lengths, gold, concepts, pred, values, clean)


def new_setup(bundle, test: pd.DataFrame, train: pd.DataFrame, views: Sequence[str],
              steps: Sequence[str], task: str = "label", seed: int = 0,
              batch_size: int = 256) -> InterventionSetup:
    """The setup of ``bundle`` on held-out rows ``test`` and training rows ``train``."""
    replacer = StateReplacer(bundle_parts(bundle), batch_size=batch_size)
    keep = sorted({p.layer for view in [*views, *steps] for p in replacer.places(view)})
    rows = [make_rows(bundle, replacer, test, task, views, keep),
            make_rows(bundle, replacer, train, task, views)]
    return InterventionSetup(replacer, rows[0], rows[1], views, steps, task, seed)
