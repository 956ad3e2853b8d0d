"""Tokenizer: vocabulary rules, padding, unknowns, batches and checkpoint-safe persistence."""

from __future__ import annotations

import io
from collections import Counter

import pytest
import torch

from probe_rnn.data import Tokenizer
from probe_rnn.errors import CheckpointError, ConfigError, DataError

TEXTS = ["the cat sat", "the dog sat", "a cat ran", "The Cat"]


def test_char_round_trip_and_specials() -> None:
    tok = Tokenizer("char").fit(TEXTS)
    assert tok.vocab[:2] == ["<pad>", "<unk>"] and tok.pad_id == 0 and tok.unk_id == 1
    assert len(tok) == len(set("".join(TEXTS))) + 2
    for text in TEXTS:
        ids = tok.encode(text)
        assert "".join(tok.decode(ids)) == text
        assert tok.tokenize(text) == list(text) and tok.tokens(text) == list(text)
        assert 0 not in ids and 1 not in ids


def test_word_tokens_keep_case_and_unknowns() -> None:
    tok = Tokenizer("word").fit(TEXTS)
    assert tok.tokenize("The  cat\tsat ") == ["The", "cat", "sat"]
    ids = tok.encode("the zebra Cat")
    assert len(ids) == len(tok.tokens("the zebra Cat")) == 3
    assert ids[1] == tok.unk_id and ids[2] != tok.encode("cat")[0]
    # a word that spells a special token is unknown, never padding
    assert tok.encode("<pad> <unk>") == [tok.unk_id, tok.unk_id]


def test_vocab_order_frequency_then_string_independent_of_text_order() -> None:
    texts = ["b a c a", "c b a", "d"]
    counts = Counter(w for t in texts for w in t.split())
    expected = sorted(counts, key=lambda w: (-counts[w], w))
    assert Tokenizer("word").fit(texts).vocab[2:] == expected == ["a", "b", "c", "d"]
    assert Tokenizer("word").fit(reversed(texts)).vocab == Tokenizer("word").fit(texts).vocab


def test_min_freq_and_max_size() -> None:
    texts = ["x x x y y z", "x y w"]
    assert Tokenizer("word", min_freq=2).fit(texts).vocab == ["<pad>", "<unk>", "x", "y"]
    assert Tokenizer("word", max_size=3).fit(texts).vocab == ["<pad>", "<unk>", "x"]
    tok = Tokenizer("word", min_freq=4).fit(texts)  # x: 4, y: 3
    assert tok.encode("x y z q") == [2, 1, 1, 1]


def test_encode_batch_right_padded() -> None:
    tok = Tokenizer("char").fit(["abc", "de"])
    texts = ["ab", "abcde", "e"]
    ids, lengths = tok.encode_batch(texts)
    assert ids.dtype == torch.long and lengths.dtype == torch.long
    assert ids.shape == (3, 5) and lengths.tolist() == [2, 5, 1]
    for row, text in enumerate(texts):
        assert ids[row, : len(text)].tolist() == tok.encode(text)
        assert (ids[row, len(text):] == tok.pad_id).all()


def test_encode_batch_rejects_empty_text_and_empty_batch() -> None:
    tok = Tokenizer("word").fit(["a b"])
    with pytest.raises(DataError, match="no word tokens"):
        tok.encode_batch(["a", "   "])
    with pytest.raises(DataError):
        tok.encode_batch([])
    with pytest.raises(DataError):
        tok.encode_batch("a b")


def test_to_dict_survives_weights_only_torch_load() -> None:
    tok = Tokenizer("word", min_freq=1, max_size=10).fit(TEXTS)
    buffer = io.BytesIO()
    torch.save({"tokenizer": tok.to_dict()}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)["tokenizer"]
    again = Tokenizer.from_dict(loaded)
    assert again == tok and again.vocab == tok.vocab and again.kind == "word"
    assert again.encode("the cat ran") == tok.encode("the cat ran")


def test_from_dict_rejects_malformed() -> None:
    good = Tokenizer("char").fit(["ab"]).to_dict()
    for broken in ({}, {**good, "format": "x"}, {**good, "vocab": ["a", "<unk>"]},
                   {**good, "kind": "bpe"}, {**good, "version": 99}):
        with pytest.raises(CheckpointError):
            Tokenizer.from_dict(broken)


def test_bad_settings_and_unfitted() -> None:
    with pytest.raises(ConfigError, match="char, word"):
        Tokenizer("bpe")
    with pytest.raises(ConfigError):
        Tokenizer("char", min_freq=0)
    with pytest.raises(ConfigError):
        Tokenizer("char", max_size=2)
    with pytest.raises(DataError, match="fit"):
        Tokenizer("char").encode("a")
    with pytest.raises(DataError):
        Tokenizer("char").fit([])
