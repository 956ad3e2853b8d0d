"""Which rows a run probes: by default only rows the model did not train on.

A probe of the label on rows the model trained on measures partly what the model memorised
(on ``names``: 0.66 bits on training rows, 0.38 on held-out ones). So runs probe the held-out
rows (``dev`` + ``test``) unless asked otherwise (``--probe-rows heldout|train|all``), and
say where the split came from:

- the table's own ``split`` column (the user's statement of what the model trained on);
- the model's own seeded split, reproduced: the table has no split column, but the checkpoint
  records that it was trained by probe-rnn on this very table (``meta["data_checksum"]``) with
  this seed, so :func:`~probe_rnn.data.ensure_splits` gives the same split again;
- otherwise a seeded split the model's training need not share: the "held-out" rows may then
  include rows the model trained on, and the run says so in the terminal and the report.

A held-out row whose text is also the text of a training row (a duplicate across the split:
60 of 120 rows in one fault-injection table) is not held out from the model: it read that very
sentence in training. Such rows are counted, named in one warning line, and removed from the
probed held-out rows unless ``keep_duplicates`` (``--keep-duplicates``); run.json's card
records ``duplicates = {"held_out_rows_with_training_text": N, "removed": bool}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from probe_rnn.errors import DataError, Mention, ParameterError
from probe_rnn.validation import shown

PROBE_ROWS = ("heldout", "train", "all")
HELD_OUT_SPLITS = ("dev", "test")
_WHAT = {"heldout": "held-out (dev + test)", "train": "training", "all": "all"}


@dataclass
class ProbedRows:
    """The rows a run probes (positions in its table, i.e. store rows) and their provenance."""

    choice: str
    index: np.ndarray = field(repr=False)
    splits: dict[str, int]
    source: str
    trusted: bool
    train_index: np.ndarray = field(repr=False)
    duplicates: int = 0
    duplicates_removed: bool = False

    @property
    def may_include_training_rows(self) -> bool:
        """True unless only held-out rows of a split known to be the model's are probed."""
        return self.choice != "heldout" or not self.trusted

    def describe(self) -> str:
        """One sentence for the terminal and the report."""
        counts = ", ".join(f"{k} {v}" for k, v in self.splits.items())
        text = f"{len(self.index)} {_WHAT[self.choice]} rows probed ({counts}; split from " \
               f"{self.source})"
        if self.choice == "heldout" and not self.trusted:
            text += "; the model's training split is unknown, so these rows may include rows " \
                    "it trained on"
        elif self.choice != "heldout":
            text += "; they include rows the model trained on, so probes also measure what it " \
                    "memorised"
        return text

    def card(self) -> dict[str, Any]:
        """What run.json records."""
        return {"rows": self.choice, "count": int(len(self.index)), "splits": self.splits,
                "split_source": self.source, "split_is_the_models": self.trusted,
                "may_include_training_rows": self.may_include_training_rows,
                "description": self.describe(),
                "duplicates": {"held_out_rows_with_training_text": int(self.duplicates),
                               "removed": bool(self.duplicates_removed)}}

    def duplicates_warning(self) -> str:
        """One terminal line about held-out rows whose text a training row has ("" if none)."""
        if not self.duplicates:
            return ""
        n = self.duplicates
        rows = f"{n} held-out row{'s' if n != 1 else ''}"
        if self.duplicates_removed:
            return (f"warning: {rows} repeat the text of a training row; removed from the "
                    "probed rows (--keep-duplicates keeps them)")
        return (f"warning: {rows} repeat the text of a training row and {'are' if n != 1 else 'is'}"
                " probed as held-out (the model read that text in training)")


def split_source(table: pd.DataFrame, model_meta: dict[str, Any] | None, seed: int
                 ) -> tuple[str, bool]:
    """Where the run's split comes from, and whether it is known to be the model's own.

    Parameters
    ----------
    table : DataFrame
        The run's table as given (before a split is assigned).
    model_meta : dict, optional
        The checkpoint's training metadata (``data_checksum``, ``seed``).
    seed : int
        The run's seed (the one :func:`~probe_rnn.data.ensure_splits` uses).
    """
    from probe_rnn.hashing import data_checksum

    if "split" in table.columns:
        return "the table's split column", True
    meta = model_meta or {}
    same_table = meta.get("data_checksum") == data_checksum(table["text"], table["label"])
    if same_table and meta.get("seed") == seed:
        return f"the model's own training split (same table, seed {seed})", True
    return f"a seeded split (seed {seed}) the model's training need not share", False


def choose_rows(df: pd.DataFrame, choice: str, source: str, trusted: bool,
                keep_duplicates: bool = False) -> ProbedRows:
    """The rows of ``df`` (which has a ``split`` column) to probe for ``choice``.

    Held-out rows whose text is a training row's text are removed from ``heldout`` rows
    unless ``keep_duplicates``; they are counted for every choice.

    Raises
    ------
    ConfigError
        ``choice`` is not one of :data:`PROBE_ROWS`.
    DataError
        No row of the chosen kind (e.g. no dev/test rows for ``heldout``), or fewer than 2.
    """
    if choice not in PROBE_ROWS:
        raise ParameterError("probe_rows", f"one of {', '.join(PROBE_ROWS)}", shown(choice))
    split = df["split"].astype(str).to_numpy()
    held = np.isin(split, HELD_OUT_SPLITS)
    mask = {"heldout": held, "train": split == "train", "all": np.ones(len(df), bool)}[choice]
    text = df["text"].astype(str).to_numpy()
    copied = held & np.isin(text, text[split == "train"])
    duplicates = int(np.count_nonzero(copied & mask))
    remove = choice == "heldout" and not keep_duplicates and duplicates > 0
    index = np.flatnonzero(mask & ~copied if remove else mask)
    if len(index) < 2:
        other = Mention("probe_rows", "all") if choice != "all" else "a larger table"
        also = (f" ({duplicates} repeat a training row's text: ",
                Mention("keep_duplicates", "True"), " keeps them)") if remove else ()
        raise DataError(f"only {len(index)} {_WHAT[choice]} rows to probe (of {len(df)}; "
                        f"splits: {_counts(split)})", *also, ": add such rows, raise ",
                        Mention("max_rows"), ", or pass ", other)
    splits = _counts(split[index])
    return ProbedRows(choice, index, splits, source, trusted, np.flatnonzero(split == "train"),
                      duplicates, remove)


def _counts(split: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(split, return_counts=True)
    order = {"train": 0, "dev": 1, "test": 2}
    return {str(v): int(c) for v, c in sorted(zip(values, counts, strict=True),
                                              key=lambda vc: (order.get(str(vc[0]), 3), vc[0]))}
