"""Synthetic corpus: each documented rule holds on every row (checked by an independent
re-implementation here), and words that are not evidence carry no label information."""

from __future__ import annotations

import pandas as pd
import pytest

from probe_rnn.data import apply_rule, load_dataset, make_synthetic
from probe_rnn.errors import ConfigError

POS = {"good", "great", "fine", "nice", "happy", "bright"}
NEG = {"bad", "poor", "sad", "awful", "dark", "grim"}
RULES = ["first", "last", "count", "negation"]


def _reference(rule: str, words: list[str]) -> tuple[str, list[int]]:
    """The rules as written in the module docstring, re-implemented by hand."""
    if rule == "first":
        assert words[0] in POS | NEG
        return ("pos" if words[0] in POS else "neg"), [0]
    if rule == "last":
        assert words[-1] in POS | NEG
        return ("pos" if words[-1] in POS else "neg"), [len(words) - 1]
    positions = [i for i, w in enumerate(words) if w in POS or w in NEG]
    if rule == "count":
        n_pos = sum(words[i] in POS for i in positions)
        n_neg = len(positions) - n_pos
        assert n_pos != n_neg
        return ("pos" if n_pos > n_neg else "neg"), positions
    assert len(positions) == 1
    p = positions[0]
    nots = [i for i in (p - 1, p - 2, p - 3) if i >= 0 and words[i] == "not"]
    positive = (words[p] in POS) ^ bool(nots)
    return ("pos" if positive else "neg"), ([nots[0], p] if nots else [p])


@pytest.fixture(scope="module")
def corpora() -> dict[str, pd.DataFrame]:
    return {rule: load_dataset(f"synthetic-{rule}") for rule in RULES}


def _polarity(word: str) -> str:
    return "pos" if word in POS else "neg" if word in NEG else "none"


def _balance(labels: pd.Series, feature: pd.Series) -> float:
    """Largest deviation from 0.5 of P(label=pos | feature value) over the feature's values."""
    table = pd.crosstab(feature, labels)
    return float((table["pos"] / table.sum(axis=1) - 0.5).abs().max())


@pytest.mark.parametrize("rule", RULES)
def test_rule_holds_on_every_row(corpora: dict[str, pd.DataFrame], rule: str) -> None:
    df = corpora[rule]
    assert len(df) == 2000 and (df["rule"] == rule).all()
    assert df["label"].value_counts().to_dict() == {"pos": 1000, "neg": 1000}
    for text, label, evidence in zip(df["text"], df["label"], df["evidence_pos"], strict=True):
        words = text.split(" ")
        expected_label, expected_pos = _reference(rule, words)
        assert label == expected_label, text
        assert [int(p) for p in evidence.split()] == expected_pos, text
        assert apply_rule(rule, words) == (expected_label, expected_pos)
        low = 5 if rule == "count" else 3
        assert low <= len(words) <= 40


def test_vocabulary_and_lengths(corpora: dict[str, pd.DataFrame]) -> None:
    words = {w for df in corpora.values() for t in df["text"] for w in t.split()}
    assert 40 <= len(words) <= 50
    lengths = corpora["first"]["text"].str.split().str.len()
    assert lengths.min() == 3 and lengths.max() == 40 and lengths.nunique() == 38


def test_distractors_carry_no_label_information(corpora: dict[str, pd.DataFrame]) -> None:
    first, last = corpora["first"], corpora["last"]
    # the word the rule does not read is a random-polarity polarity word, balanced over labels
    assert _balance(first["label"], first["text"].str.split().str[-1].map(_polarity)) < 0.06
    assert _balance(last["label"], last["text"].str.split().str[0].map(_polarity)) < 0.06
    # and the evidence word itself decides perfectly (sanity check of the measure)
    assert _balance(first["label"], first["text"].str.split().str[0].map(_polarity)) == 0.5
    count = corpora["count"]
    polar = count["text"].str.split().map(lambda ws: [_polarity(w) for w in ws if w in POS | NEG])
    assert _balance(count["label"], polar.str[0]) < 0.06
    assert _balance(count["label"], polar.str[-1]) < 0.06
    neg = corpora["negation"]
    polar_word = neg["text"].str.split().map(lambda ws: next(_polarity(w) for w in ws
                                                              if w in POS | NEG))
    has_not = neg["text"].str.split().map(lambda ws: "not" in ws)
    assert _balance(neg["label"], polar_word) < 0.06
    assert _balance(neg["label"], has_not) < 0.06
    # negation really is needed: polarity alone is right only about half the time
    assert abs((polar_word == neg["label"]).mean() - 0.5) < 0.06
    # some unnegated rows hold a 'not' outside the scope, so presence of 'not' is not the cue
    outside = neg[has_not & (neg["evidence_pos"].str.split().str.len() == 1)]
    assert len(outside) > 100


def test_deterministic_per_seed_and_default_rule() -> None:
    a = make_synthetic("negation", n_rows=50, seed=3)
    pd.testing.assert_frame_equal(a, make_synthetic("negation", n_rows=50, seed=3))
    assert not make_synthetic("negation", n_rows=50, seed=4)["text"].equals(a["text"])
    pd.testing.assert_frame_equal(load_dataset("synthetic"), load_dataset("synthetic-first"))
    assert list(a.columns) == ["text", "label", "split", "rule", "evidence_pos"]


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="first, last, count, negation"):
        make_synthetic("middle")
    with pytest.raises(ConfigError):
        make_synthetic("first", min_len=2)
