"""Probing tasks: what a probe is asked to predict from a state.

A :class:`Task` turns the rows of a state store (``meta.parquet``: text, label, prediction,
tokens, ...) into targets, one per sentence (``level="sentence"``) or one per valid token
(``level="token"``); ``level="both"`` tasks (``label``, ``prediction``) give either. A target
that does not exist (the token 4 steps before the first token, a sentence without any of the
word-content types) is ``None`` (classification) or ``NaN`` (regression) and the row is left out.

Built-in tasks (registered with :func:`probe_rnn.plugins.register_task`):

=================  ========  ==============================================================
name               level     target
=================  ========  ==============================================================
``label``          both      gold label (per token: the sentence's label at every step)
``prediction``     both      the model's own prediction
``length``         sentence  length in tokens, binned into quantile bins ("3-5")
``word-content``   sentence  which of K mid-frequency token types the sentence contains
                             (SentEval style: sentences with exactly one of them are kept)
``first-token``    sentence  first token (top-N types, others pooled into ``<other>``)
``last-token``     sentence  last token (top-N + ``<other>``)
``position``       token     position t, binned into quantile bins (a classification, so that
                             bits, MDL and the control apply as for every other task)
``current-token``  token     the token read at step t (top-N + ``<other>``)
``token-back-k``   token     the token read k steps earlier, k = 1, 2, 4, 8 (memory span);
                             the first k steps of each sentence are left out
=================  ========  ==============================================================

Chance (``chance(y)``) is the share of the most frequent class for classification tasks and
0.0 (the R² of predicting the mean) for regression tasks.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from probe_rnn.errors import ConfigError, DataError
from probe_rnn.plugins import register_task
from probe_rnn.usercode import built_task, imported_task

OTHER = "<other>"
_SPECIAL = {"<pad>", "<unk>"}
DEFAULT_TASKS: tuple[str, ...] = ("label", "length", "word-content", "first-token", "last-token")
TOKEN_TASKS: tuple[str, ...] = (
    "label", "position", "current-token", "token-back-1", "token-back-2", "token-back-4",
    "token-back-8",
)


class Task:
    """Base class of probing tasks; subclass it and register it with ``register_task``.

    Attributes
    ----------
    name : str
        Name used in results (set by the subclass).
    kind : {"classification", "regression"}
    level : {"sentence", "token", "both"}
        Which views the task applies to: sentence views ``(rows, dim)``, per-token views
        ``(n_tokens, dim)``, or both.
    control_unit : {"first-token", "last-token", None}
        What the sentence-level control task (Hewitt & Liang 2019) keys its random labels on:
        a token type that recurs across sentences, so one key sits on both sides of every
        fold and a probe scores on the control only by memorising key -> random label from the
        state (its capacity). ``None``: the task has no meaningful control, and no selectivity
        is reported for it (never a plain permutation under the control's name). Default
        ``"first-token"``. At token level the key is always the token type.
    by_position : bool
        At token level, also report the measures per position t (from the start and from the
        end): "how early the decision forms".
    description : str
        One line for tables and the report.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "classification"
    level: ClassVar[str] = "sentence"
    by_position: ClassVar[bool] = False
    description: ClassVar[str] = ""
    control_unit: ClassVar[str | None] = "first-token"

    def applies_to(self, view_kind: str) -> bool:
        """True when the task can be probed on a view of kind ``"sentence"`` or ``"token"``."""
        return self.level == "both" or self.level == view_kind

    def targets(
        self, meta: pd.DataFrame, tokens: np.ndarray, offsets: np.ndarray, level: str | None = None
    ) -> np.ndarray:
        """Return the targets.

        Parameters
        ----------
        meta : DataFrame
            The store's ``meta.parquet`` rows (``text``, ``label``, ``prediction``, ``length``,
            ``tokens``, ...), one per sentence, in store order.
        tokens : ndarray of str, shape (n_tokens,)
            Every valid token of every sentence, sentence after sentence.
        offsets : ndarray of int, shape (rows + 1,)
            Sentence ``i`` owns ``tokens[offsets[i]:offsets[i + 1]]``.
        level : {"sentence", "token"}, optional
            Which level is asked for (only matters for ``level="both"`` tasks).

        Returns
        -------
        ndarray, shape (rows,) or (n_tokens,)
            Class names (object array, ``None`` = left out) or floats (``NaN`` = left out).
        """
        raise NotImplementedError(f"task {self.name!r} does not implement targets()")

    def chance(self, y: np.ndarray) -> float:
        """Chance level for targets ``y`` (rows left out already removed)."""
        if self.kind == "regression" or len(y) == 0:
            return 0.0
        counts = Counter(y.tolist())
        return max(counts.values()) / len(y)

    def __repr__(self) -> str:
        cls = type(self).__name__
        return f"{cls}(name={self.name!r}, kind={self.kind!r}, level={self.level!r})"


# -- helpers -----------------------------------------------------------------------------------
def flat_tokens(meta: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Flatten ``meta["tokens"]`` into ``(tokens (n_tokens,), offsets (rows + 1,))``."""
    if "tokens" not in meta.columns:
        raise DataError("the store's meta has no 'tokens' column: re-run capture with this version")
    lists = [list(t) for t in meta["tokens"]]
    lengths = np.fromiter((len(t) for t in lists), dtype=np.int64, count=len(lists))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.empty(int(offsets[-1]), dtype=object)
    if len(flat):
        flat[:] = [tok for t in lists for tok in t]
    return flat, offsets


def positions(offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-token position from the start (0, 1, ...) and from the end (-1 = last token)."""
    lengths = np.diff(offsets)
    start = np.repeat(offsets[:-1], lengths)
    t = np.arange(int(offsets[-1]), dtype=np.int64) - start
    from_end = t - np.repeat(lengths, lengths)
    return t, from_end


def _broadcast(y: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Repeat one value per sentence over that sentence's tokens."""
    return np.repeat(y, np.diff(offsets))


def _top_n(values: np.ndarray, n: int) -> np.ndarray:
    """Keep the ``n`` most frequent values (ties by string order); the rest become ``OTHER``."""
    present = [v for v in values.tolist() if v is not None]
    counts = Counter(present)
    keep = {v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:n]}
    out = np.empty(len(values), dtype=object)
    out[:] = [v if (v is None or v in keep) else OTHER for v in values.tolist()]
    return out


def _quantile_bins(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin integers into at most ``n_bins`` quantile bins labelled ``"lo-hi"`` (or ``"v"``)."""
    # not pandas.qcut: it interpolates the quantiles and closes bins on the right, so its bins
    # differ (lengths 3..39 in 5 bins: 2,118 of 20,000 sentences land in another bin) and
    # every length and position result would change.
    values = np.asarray(values, dtype=np.int64)
    out = np.empty(len(values), dtype=object)
    if len(values) == 0:
        return out
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1), method="lower"))
    edges = edges.astype(np.int64)
    # each bin [edges[i], edges[i+1]) except the last, which is closed
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max(len(edges) - 2, 0))
    names = []
    for i in range(max(len(edges) - 1, 1)):
        lo = int(edges[i])
        hi = int(edges[i + 1]) - 1 if i < len(edges) - 2 else int(edges[-1])
        names.append(str(lo) if lo >= hi else f"{lo}-{hi}")
    out[:] = [names[i] for i in idx]
    return out


def _column(meta: pd.DataFrame, name: str, task: str) -> np.ndarray:
    if name not in meta.columns:
        raise DataError(f"task {task!r} needs column {name!r} in the store's meta: re-run capture")
    out = np.empty(len(meta), dtype=object)
    out[:] = [None if pd.isna(v) else str(v) for v in meta[name].tolist()]
    return out


# -- built-in tasks ------------------------------------------------------------------------------
@register_task("label")
class LabelTask(Task):
    """Gold label; at token level the sentence's label at every step (by position too).

    Control: a random label per first token (at token level, per token type)."""

    name = "label"
    level = "both"
    by_position = True
    description = "gold label"
    column = "label"

    def targets(self, meta, tokens, offsets, level=None):  # noqa: D102
        y = _column(meta, self.column, self.name)
        return _broadcast(y, offsets) if (level or "sentence") == "token" else y


@register_task("prediction")
class PredictionTask(LabelTask):
    """The model's own prediction (what the classifier decided, right or wrong).

    Control: a random prediction per first token (at token level, per token type)."""

    name = "prediction"
    description = "model's prediction"
    column = "prediction"


@register_task("length")
class LengthTask(Task):
    """Sentence length in tokens, binned into ``n_bins`` quantile bins.

    Control: a random length bin per first token."""

    name = "length"
    description = "length in tokens (quantile bins)"

    def __init__(self, n_bins: int = 5) -> None:
        self.n_bins = n_bins

    def targets(self, meta, tokens, offsets, level=None):  # noqa: D102
        return _quantile_bins(np.diff(offsets), self.n_bins)


@register_task("word-content")
class WordContentTask(Task):
    """Which of K mid-frequency token types the sentence contains (SentEval WC).

    Types are ranked by document frequency (ties by string); the most frequent quarter is
    skipped (SentEval skips the most frequent words) and the next ``k`` types are the classes.
    Sentences containing exactly one of them (once or more) are kept; the rest are left out.
    Control: a random class per first token.
    """

    name = "word-content"
    description = "which mid-frequency token the sentence contains"

    def __init__(self, k: int = 10) -> None:
        self.k = k

    def vocabulary(self, meta: pd.DataFrame) -> list[str]:
        """The K chosen token types."""
        df = Counter(tok for toks in meta["tokens"] for tok in set(toks) if tok not in _SPECIAL)
        ranked = [t for t, _ in sorted(df.items(), key=lambda kv: (-kv[1], kv[0]))]
        start = len(ranked) // 4
        return ranked[start:start + self.k]

    def targets(self, meta, tokens, offsets, level=None):  # noqa: D102
        chosen = set(self.vocabulary(meta))
        out = np.empty(len(meta), dtype=object)
        for i, toks in enumerate(meta["tokens"]):
            hit = chosen.intersection(toks)
            out[i] = next(iter(hit)) if len(hit) == 1 else None
        return out


@register_task("first-token")
class FirstTokenTask(Task):
    """The sentence's first token (top ``n`` types, others pooled into ``<other>``).

    Control: a random class per last token (keyed on the first token, the control would be
    a relabelling of the task itself)."""

    name = "first-token"
    description = "first token"
    index = 0
    control_unit = "last-token"

    def __init__(self, n: int = 10) -> None:
        self.n = n

    def targets(self, meta, tokens, offsets, level=None):  # noqa: D102
        at = offsets[:-1] if self.index == 0 else offsets[1:] - 1
        valid = np.diff(offsets) > 0
        out = np.empty(len(at), dtype=object)
        out[:] = [tokens[a] if ok else None for a, ok in zip(at, valid, strict=True)]
        return _top_n(out, self.n)


@register_task("last-token")
class LastTokenTask(FirstTokenTask):
    """The sentence's last token (top ``n`` types + ``<other>``).

    Control: a random class per first token."""

    name = "last-token"
    description = "last token"
    index = -1
    control_unit = "first-token"


@register_task("position")
class PositionTask(Task):
    """Position t of each token, binned into ``n_bins`` quantile bins (classification)."""

    name = "position"
    level = "token"
    description = "position t (quantile bins)"

    def __init__(self, n_bins: int = 5) -> None:
        self.n_bins = n_bins

    def targets(self, meta, tokens, offsets, level=None):  # noqa: D102
        return _quantile_bins(positions(offsets)[0], self.n_bins)


@register_task("current-token")
class CurrentTokenTask(Task):
    """The token read at step t (top ``n`` types + ``<other>``)."""

    name = "current-token"
    level = "token"
    description = "token at t"
    back = 0

    def __init__(self, n: int = 20) -> None:
        self.n = n

    def targets(self, meta, tokens, offsets, level=None):  # noqa: D102
        t, _ = positions(offsets)
        out = np.empty(len(tokens), dtype=object)
        ok = t >= self.back
        out[ok] = tokens[np.flatnonzero(ok) - self.back]
        return _top_n(out, self.n)


@register_task("next-token")
class NextTokenTask(CurrentTokenTask):
    """The token read at step t+1 (what a language model predicts at t; top ``n`` types +
    ``<other>``); each row's last step, which has no next token, is left out."""

    name = "next-token"
    description = "token at t+1"

    def targets(self, meta, tokens, offsets, level=None):  # noqa: D102
        _, from_end = positions(offsets)
        out = np.empty(len(tokens), dtype=object)
        ahead = np.flatnonzero(from_end < -1)
        out[ahead] = tokens[ahead + 1]
        return _top_n(out, self.n)


class TokenBackTask(CurrentTokenTask):
    """The token read ``back`` steps earlier (memory span); the first steps are left out."""

    level = "token"


def _token_back(k: int) -> type[TokenBackTask]:
    cls = type(
        f"TokenBack{k}Task",
        (TokenBackTask,),
        {"name": f"token-back-{k}", "back": k, "description": f"token at t-{k}",
         "__doc__": f"The token read {k} step(s) before t (top-N + ``<other>``)."},
    )
    return register_task(f"token-back-{k}")(cls)


for _k in (1, 2, 4, 8):
    globals()[f"TokenBack{_k}Task"] = _token_back(_k)


def get_task(name: str | Task | type[Task]) -> Task:
    """Return a task instance from a registered name, a Task class or an instance."""
    from probe_rnn.plugins import registry

    obj: Any = imported_task(name) if isinstance(name, str) and "." in name and \
        name not in registry.names("task") else registry.get("task", name) \
        if isinstance(name, str) else name
    task = built_task(name, obj) if isinstance(obj, type) else obj
    if not hasattr(task, "targets") or getattr(task, "kind", None) not in (
        "classification", "regression"
    ) or getattr(task, "level", None) not in ("sentence", "token", "both"):
        raise ConfigError(
            f"task {name!r} is not a Task: subclass probe_rnn.probing.tasks.Task and set kind "
            "to classification|regression and level to sentence|token|both"
        )
    if not getattr(task, "name", ""):
        task.name = name if isinstance(name, str) else type(task).__name__
    return task
