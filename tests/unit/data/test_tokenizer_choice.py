"""A table that reads as words (>= 3 words a row on average, words that repeat) trained with the
char tokenizer is named: by ``train()`` as a WordTableWarning, by ``probe-rnn train`` in one
warning line naming ``--tokenizer word``; a char-level table (names) and the word tokenizer are
left alone."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from probe_rnn.data.tokenizer_choice import (
    MAX_DISTINCT_SHARE,
    MIN_MEAN_WORDS,
    WordTableWarning,
    char_on_words,
    table_words,
)

WORDS = ["the", "cat", "dog", "sat", "ran", "on", "a", "mat", "big", "red", "old", "fast"]


def _sentences(n: int = 60, words: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=words)) for _ in range(n)]
    return pd.DataFrame({"text": texts, "label": ["p" if "cat" in t else "q" for t in texts]})


def _names(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    texts = ["".join(rng.choice(list("aeilnorst"), size=rng.integers(3, 9))) for _ in range(n)]
    return pd.DataFrame({"text": texts, "label": ["p" if t[0] in "aeio" else "q" for t in texts]})


def test_the_measures_are_counted_from_the_texts() -> None:
    found = table_words(["a b a", "c  d", "e"])  # str.split: runs of whitespace
    assert (found.rows, found.words, found.distinct_words) == (3, 6, 5)
    assert found.mean_words == 2.0 and not found.word_level  # below 3 words a row


def test_the_rule_needs_words_per_row_and_repeated_words() -> None:
    assert table_words(_sentences()["text"]).word_level  # 6 words a row from 12 words
    assert not table_words(_names()["text"]).word_level  # one word a row
    unique = [" ".join(f"w{4 * i + k}" for k in range(4)) for i in range(50)]  # never repeat
    found = table_words(unique)
    assert found.mean_words == 4 >= MIN_MEAN_WORDS and found.distinct_words == found.words
    assert not found.word_level
    # at the edges: exactly 3 words a row, exactly half of the words distinct
    edge = table_words(["a b c", "d e f", "a b c", "d e f"])
    assert edge.mean_words == MIN_MEAN_WORDS and edge.distinct_words == 6 == (
        MAX_DISTINCT_SHARE * edge.words) and edge.word_level


def test_a_huge_table_is_measured_on_an_even_sample() -> None:
    texts = ["one"] * 30_000 + ["a b c d"] * 30_000
    found = table_words(texts)
    assert found.rows == 20_000 and found.mean_words == pytest.approx(2.5, abs=0.01)


def test_the_warning_names_the_fix_and_only_for_char() -> None:
    table = _sentences()
    message = char_on_words(table, "char", option="--tokenizer word")
    assert message is not None and message.endswith("train with --tokenizer word")
    assert "6.0 words a row on average" in message and "\n" not in message
    assert char_on_words(table, "word") is None
    assert char_on_words(_names(), "char") is None
    assert char_on_words(pd.DataFrame({"sentence": table["text"]}), "char") is None


def test_train_warns_on_a_word_level_table_trained_char_by_char() -> None:
    from probe_rnn.models import train

    small = {"hidden": 4, "embedding_dim": 4, "epochs": 1, "seed": 0}
    with pytest.warns(WordTableWarning, match='train with tokenizer="word"'):
        train(_sentences(), **small)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WordTableWarning)
        train(_sentences(), tokenizer="word", **small)  # the user's choice: no warning
        train(_names(), **small)  # a char-level table: no warning


def test_the_cli_says_it_once_in_its_own_words(tmp_path, capsys) -> None:
    from tests.integration.cli_support import run_main

    args = ("--epochs", "1", "--hidden", "4", "--embedding-dim", "4")
    _sentences().to_csv(tmp_path / "words.csv", index=False)
    code, err = run_main(capsys, "train", "--data", str(tmp_path / "words.csv"), *args,
                         "--out", str(tmp_path / "w.pt"))
    warned = [line for line in err if line.startswith("warning:")]
    assert code == 0 and len(warned) == 1 and "--tokenizer word" in warned[0]
    assert 'tokenizer="word"' not in "\n".join(err)  # train()'s own wording stays quiet
    _names().to_csv(tmp_path / "names.csv", index=False)
    code, err = run_main(capsys, "train", "--data", str(tmp_path / "names.csv"), *args,
                         "--out", str(tmp_path / "n.pt"))
    assert code == 0 and not [line for line in err if line.startswith("warning:")]
