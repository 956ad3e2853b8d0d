"""Does a table read as words? The warning ``train`` gives before training char by char on one.

``train --data table.csv`` on a table of sentences with the default ``char`` tokenizer reads
every sentence letter by letter; on a real word-level table (22 words a row) that made a
chance-level model, silently. The rule, measured on the table's ``text`` column (at most
:data:`SAMPLE_ROWS` rows, evenly spaced, so a huge table costs no more than a large one):

* **word-level** when its rows hold on average at least :data:`MIN_MEAN_WORDS` whitespace-
  separated words (``str.split()``, the ``word`` tokenizer's own rule) **and** the words repeat:
  the distinct words are at most :data:`MAX_DISTINCT_SHARE` of all word occurrences, so a word
  vocabulary has something to learn (a table of random strings is not word-level);
* anything else (names, codes, one or two words a row) reads well character by character.

``train`` keeps the tokenizer it is given, ``char`` by default (the same default as
``compare-readouts`` and the Python functions, so one table gives one model everywhere): on a
word-level table with ``char`` it warns in one line naming ``--tokenizer word`` (the CLI) or
``tokenizer="word"`` (Python), with the measured words per row and vocabulary.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Words per row (mean) from which a table reads as words.
MIN_MEAN_WORDS = 3.0
#: Largest share of distinct words among all word occurrences of a word-level table.
MAX_DISTINCT_SHARE = 0.5
#: Most rows measured (evenly spaced over the table).
SAMPLE_ROWS = 20_000


class WordTableWarning(UserWarning):
    """A word-level table is about to be trained character by character."""


@dataclass(frozen=True)
class TableWords:
    """What the rule measures of a table's texts.

    Attributes
    ----------
    rows : int
        Rows measured.
    mean_words : float
        Mean number of whitespace-separated words per row.
    distinct_words, words : int
        Distinct words and all word occurrences.
    """

    rows: int
    mean_words: float
    distinct_words: int
    words: int

    @property
    def word_level(self) -> bool:
        """True when the table reads as words (the rule in the module's docstring)."""
        return (self.rows > 0 and self.mean_words >= MIN_MEAN_WORDS
                and self.distinct_words <= MAX_DISTINCT_SHARE * self.words)

    def describe(self) -> str:
        """``22.5 words a row on average, 12034 distinct words``."""
        return (f"{self.mean_words:.1f} words a row on average, {self.distinct_words} distinct "
                "words")


def table_words(texts: Sequence[Any]) -> TableWords:
    """Measure ``texts`` (at most :data:`SAMPLE_ROWS`, evenly spaced) for the rule."""
    n = len(texts)
    picked = (range(n) if n <= SAMPLE_ROWS
              else np.linspace(0, n - 1, SAMPLE_ROWS).round().astype(int).tolist())
    counts: Counter[str] = Counter()
    rows = 0
    for i in picked:
        counts.update(str(texts[i]).split())
        rows += 1
    words = sum(counts.values())
    return TableWords(rows, words / rows if rows else 0.0, len(counts), words)


def char_on_words(df: Any, tokenizer: str, option: str = 'tokenizer="word"') -> str | None:
    """The one-line warning when ``tokenizer`` is ``char`` and ``df``'s ``text`` column reads
    as words (``option`` names the fix: ``--tokenizer word`` in the CLI); None otherwise
    (another tokenizer, no ``text`` column: the table's own checks name that)."""
    if tokenizer != "char" or "text" not in getattr(df, "columns", ()):
        return None
    found = table_words(df["text"].tolist())
    if not found.word_level:
        return None
    return (f"the table reads as words ({found.describe()}) but the char tokenizer will train "
            f"on it letter by letter, which can leave a chance-level model: train with {option}")


def warn_char_on_words(df: Any, tokenizer: str) -> None:
    """Warn (:class:`WordTableWarning`) when :func:`char_on_words` has a warning."""
    message = char_on_words(df, tokenizer)
    if message is not None:
        warnings.warn(message, WordTableWarning, stacklevel=3)
