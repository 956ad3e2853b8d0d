"""Synthetic probing corpus: sentences whose label evidence sits at known word positions.

The corpus is the known-answer data of probe-rnn: each rule says exactly which words decide the
label, so a probe or an attribution can be checked against where the information must be.

Vocabulary (50 word types, all lowercase, words separated by one space):

* positive words ``POSITIVE`` (6): good great fine nice happy bright
* negative words ``NEGATIVE`` (6): bad poor sad awful dark grim
* the negator ``not``
* neutral fillers ``FILLERS`` (37): the, a, cat, dog, ... (never evidence)

Labels are ``pos`` and ``neg``, exactly balanced (``ceil(rows/2)`` ``pos``). Sentence lengths are
drawn uniformly from ``[min_len, max_len]`` words (default 3-40; the count rule uses at least 5).
Positions are 0-based word indices. Rules (column ``rule``):

``first``
    The label is the polarity of word 0 (always a polarity word). The last word is a polarity
    word of independent, uniformly random polarity, and each middle word is a polarity word of
    random polarity with probability 0.2 (else a filler): only word 0 carries the label.
    ``evidence_pos = "0"``.
``last``
    Mirror image: the label is the polarity of the last word; word 0 is a polarity word of
    random polarity; middle words as above. ``evidence_pos = "<length-1>"``.
``count``
    ``pos`` iff the sentence has strictly more positive than negative words (ties never occur).
    5 to ``min(length, 11)`` words are polarity words, at random positions, the rest fillers.
    The polarities of the first and of the last polarity word are drawn independently of the
    label (the middle ones are redrawn until the majority agrees with the label), so neither end
    decides alone. ``evidence_pos`` lists every polarity word's index, space-separated.
``negation``
    Exactly one polarity word, at position ``p``; it is *negated* iff ``not`` appears among the
    three words before it (positions ``p-3 .. p-1``). The label is its polarity, flipped when
    negated. Negation happens in half the rows independently of the label, so neither the
    polarity word alone nor its position tells the label. Half of the unnegated rows hold a
    distractor ``not`` outside the scope (after the polarity word, or more than three words
    before it) when the sentence has room. ``evidence_pos`` is ``"<p>"`` or ``"<not> <p>"``.

Same ``(rule, rows, seed, lengths)`` -> the same table: one ``numpy.random.default_rng`` seeded
with ``(seed, rule index)``. :func:`apply_rule` is the rule written as a function of the words.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from probe_rnn.data.splits import ensure_splits
from probe_rnn.errors import ConfigError, DataError

POSITIVE: tuple[str, ...] = ("good", "great", "fine", "nice", "happy", "bright")
NEGATIVE: tuple[str, ...] = ("bad", "poor", "sad", "awful", "dark", "grim")
NEGATOR = "not"
FILLERS: tuple[str, ...] = (
    "the", "a", "cat", "dog", "bird", "fish", "house", "river", "tree", "road", "car", "book",
    "cup", "door", "window", "table", "chair", "city", "sky", "rain", "sun", "man", "woman",
    "child", "old", "small", "big", "red", "blue", "green", "saw", "ran", "sat", "near",
    "under", "over", "and",
)
VOCABULARY: tuple[str, ...] = (*POSITIVE, *NEGATIVE, NEGATOR, *FILLERS)
RULES: tuple[str, ...] = ("first", "last", "count", "negation")
LABELS: tuple[str, str] = ("pos", "neg")
NEGATION_SCOPE = 3
"""``not`` negates a polarity word at most this many words before it."""

_DISTRACTOR_RATE = 0.2
_COUNT_MIN_LEN = 5
_COUNT_MAX_POLAR = 11
_Row = tuple[list[str], list[int]]


def make_synthetic(
    rule: str = "first", n_rows: int = 2000, seed: int = 0, min_len: int = 3, max_len: int = 40
) -> pd.DataFrame:
    """Generate the synthetic corpus for one rule.

    Parameters
    ----------
    rule
        One of ``first``, ``last``, ``count``, ``negation`` (see the module docstring).
    n_rows
        Number of sentences (>= 2).
    seed
        Seed of the generator and of the splits.
    min_len, max_len
        Range of sentence lengths in words, ``3 <= min_len <= max_len <= 200``.

    Returns
    -------
    pandas.DataFrame
        Columns ``text``, ``label`` (``pos``/``neg``), ``split`` (stratified 80/10/10),
        ``rule``, ``evidence_pos`` (space-separated word indices); shape ``(n_rows, 5)``.
    """
    _check_args(rule, n_rows, min_len, max_len)
    rng = np.random.default_rng([seed, RULES.index(rule)])
    n_pos = (n_rows + 1) // 2
    labels = np.array([LABELS[0]] * n_pos + [LABELS[1]] * (n_rows - n_pos), dtype=object)
    labels = labels[rng.permutation(n_rows)]
    low = max(min_len, _COUNT_MIN_LEN) if rule == "count" else min_len
    maker = {"first": _first_or_last, "last": _first_or_last, "count": _count,
             "negation": _negation}[rule]
    texts, evidence = [], []
    for label in labels:
        length = int(rng.integers(low, max(low, max_len) + 1))
        words, positions = maker(rng, rule, label == LABELS[0], length)
        texts.append(" ".join(words))
        evidence.append(" ".join(str(p) for p in positions))
    df = pd.DataFrame({"text": texts, "label": labels.astype(str), "rule": rule,
                       "evidence_pos": evidence})
    df = ensure_splits(df, seed=seed)
    return df[["text", "label", "split", "rule", "evidence_pos"]]


def apply_rule(rule: str, words: Sequence[str]) -> tuple[str, list[int]]:
    """The label a rule assigns to a sentence, and the positions of its evidence.

    Parameters
    ----------
    rule
        One of :data:`RULES`.
    words
        The sentence's words, shape ``(length,)``.

    Returns
    -------
    tuple[str, list[int]]
        ``("pos" | "neg", evidence word indices)``.

    Raises
    ------
    DataError
        The sentence does not fit the rule (e.g. a count tie, no polarity word).
    """
    if rule not in RULES:
        raise ConfigError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    polar = [i for i, w in enumerate(words) if w in POSITIVE or w in NEGATIVE]
    if not polar:
        raise DataError(f"sentence has no polarity word, so rule {rule!r} gives no label")
    if rule in ("first", "last"):
        position = 0 if rule == "first" else len(words) - 1
        if position not in polar:
            raise DataError(f"rule {rule!r} needs a polarity word at position {position}")
        return _label_of(words[position] in POSITIVE), [position]
    if rule == "count":
        score = sum(1 if words[i] in POSITIVE else -1 for i in polar)
        if score == 0:
            raise DataError("count rule: equal numbers of positive and negative words")
        return _label_of(score > 0), polar
    if len(polar) != 1:
        raise DataError("negation rule needs exactly one polarity word")
    p = polar[0]
    scope = [i for i in range(max(0, p - NEGATION_SCOPE), p) if words[i] == NEGATOR]
    positive = (words[p] in POSITIVE) != bool(scope)
    return _label_of(positive), [scope[-1], p] if scope else [p]


def _label_of(positive: bool) -> str:
    return LABELS[0] if positive else LABELS[1]


def _check_args(rule: str, n_rows: int, min_len: int, max_len: int) -> None:
    if rule not in RULES:
        raise ConfigError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 2:
        raise ConfigError(f"n_rows must be an integer >= 2; got {n_rows!r}")
    if not (isinstance(min_len, int) and isinstance(max_len, int)
            and 3 <= min_len <= max_len <= 200):
        raise ConfigError("lengths must satisfy 3 <= min_len <= max_len <= 200; "
                          f"got min_len={min_len!r}, max_len={max_len!r}")


def _polar_word(rng: np.random.Generator, positive: bool) -> str:
    pool = POSITIVE if positive else NEGATIVE
    return pool[int(rng.integers(len(pool)))]


def _filler(rng: np.random.Generator) -> str:
    return FILLERS[int(rng.integers(len(FILLERS)))]


def _first_or_last(rng: np.random.Generator, rule: str, positive: bool, length: int) -> _Row:
    words = []
    for _ in range(length):
        if rng.random() < _DISTRACTOR_RATE:
            words.append(_polar_word(rng, bool(rng.integers(2))))
        else:
            words.append(_filler(rng))
    evidence, other = (0, length - 1) if rule == "first" else (length - 1, 0)
    words[other] = _polar_word(rng, bool(rng.integers(2)))
    words[evidence] = _polar_word(rng, positive)
    return words, [evidence]


def _count(rng: np.random.Generator, rule: str, positive: bool, length: int) -> _Row:
    k = int(rng.integers(_COUNT_MIN_LEN, min(length, _COUNT_MAX_POLAR) + 1))
    ends = [bool(rng.integers(2)), bool(rng.integers(2))]
    while True:  # redraw the middle polarities until the majority matches the label
        middle = [bool(b) for b in rng.integers(2, size=k - 2)]
        signs = [ends[0], *middle, ends[1]]
        score = sum(1 if s else -1 for s in signs)
        if score != 0 and (score > 0) == positive:
            break
    positions = sorted(int(p) for p in rng.choice(length, size=k, replace=False))
    words = [_filler(rng) for _ in range(length)]
    for position, sign in zip(positions, signs, strict=True):
        words[position] = _polar_word(rng, sign)
    return words, positions


def _negation(rng: np.random.Generator, rule: str, positive: bool, length: int) -> _Row:
    negated = bool(rng.integers(2))
    words = [_filler(rng) for _ in range(length)]
    if negated:
        p = int(rng.integers(1, length))
        q = p - int(rng.integers(1, min(NEGATION_SCOPE, p) + 1))
        words[q] = NEGATOR
        words[p] = _polar_word(rng, not positive)
        return words, [q, p]
    p = int(rng.integers(0, length))
    words[p] = _polar_word(rng, positive)
    if rng.random() < 0.5:
        outside = [i for i in range(length) if i > p or i < p - NEGATION_SCOPE]
        if outside:
            words[outside[int(rng.integers(len(outside)))]] = NEGATOR
    return words, [p]
