"""--vocab: the three file forms, padding and unknown ids, torchtext's basic_english split,
checks against the embedding, and the vocabulary travelling in a checkpoint."""

from __future__ import annotations

import json

import pytest
import torch

from probe_rnn.data import VocabTokenizer, read_vocab
from probe_rnn.data.vocab import split_text, tokenizer_from_dict
from probe_rnn.errors import DataError, InputFileError, ParameterError


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name, text", [
    ("map.json", json.dumps({"<pad>": 0, "<unk>": 1, "the": 2, "cat": 3})),
    ("list.json", json.dumps(["<pad>", "<unk>", "the", "cat"])),
    ("lines.txt", "<pad>\n<unk>\nthe\ncat\n"),
])
def test_the_three_forms_give_the_same_ids(tmp_path, name, text) -> None:
    tok = read_vocab(_write(tmp_path, name, text))
    assert (tok.pad_id, tok.unk_id, len(tok)) == (0, 1, 4)
    ids, lengths = tok.encode_batch(["the cat", "dog"])
    assert ids.tolist() == [[2, 3], [1, 0]] and lengths.tolist() == [2, 1]


def test_padding_comes_from_the_option_then_the_file_then_the_embedding(tmp_path) -> None:
    path = _write(tmp_path, "v.json", json.dumps({"[PAD]": 5, "[UNK]": 4, "a": 0}))
    assert read_vocab(path).pad_id == 5 and read_vocab(path).unk_id == 4
    assert read_vocab(path, pad_id=3).pad_id == 3
    bare = _write(tmp_path, "bare.txt", "a\nb\n")
    assert read_vocab(bare, padding_idx=7).pad_id == 7


def test_without_any_padding_only_a_batch_that_needs_padding_is_an_error(tmp_path) -> None:
    bare = read_vocab(_write(tmp_path, "bare.txt", "a\nb\n"))
    assert bare.pad_id is None and len(bare) == 2
    ids, lengths = bare.encode_batch(["a b", "b a"])  # equal lengths: nothing to pad
    assert ids.tolist() == [[0, 1], [1, 0]] and lengths.tolist() == [2, 2]
    with pytest.raises(DataError, match=r"^rows of unequal length need padding, but "
                       r"vocabulary 'bare.txt' has no padding token .* pass pad_id=N"):
        bare.encode_batch(["a b", "a"])


def test_a_missing_word_without_unknown_token_is_named(tmp_path) -> None:
    tok = read_vocab(_write(tmp_path, "v.txt", "<pad>\nthe\n"))
    assert tok.unk_id is None
    with pytest.raises(DataError, match=r"token 'dog' \(text at position 1\).*unk=TOKEN"):
        tok.encode_batch(["the", "the dog"])
    assert read_vocab(tmp_path / "v.txt", unk="the").encode("dog") == [1]
    with pytest.raises(DataError, match="unk=<oov> is not in"):
        read_vocab(tmp_path / "v.txt", unk="<oov>")


def test_basic_english_matches_torchtext() -> None:
    # torchtext's documented example of get_tokenizer("basic_english")
    assert split_text("You can now install TorchText using pip!", "basic-english") == [
        "you", "can", "now", "install", "torchtext", "using", "pip", "!"]
    assert split_text("Don't (really): ok.", "basic-english") == [
        "don", "'", "t", "(", "really", ")", "ok", "."]
    assert split_text("ab c", "char") == ["a", "b", " ", "c"]


@pytest.mark.parametrize("text, error", [
    ('{"a": 0, "b": 0}', "gives id 0 to several tokens"),
    ('{"a": -1}', "every id must be an integer >= 0"),
    ('{"a": 0,', "is not valid JSON"),
    ("a\nb\na\n", "lists 'a' twice"),
])
def test_malformed_files_are_one_line_errors(tmp_path, text, error) -> None:
    with pytest.raises(DataError, match=error):
        read_vocab(_write(tmp_path, "v.json" if text[0] == "{" else "v.txt", text))


def test_options_are_checked(tmp_path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        read_vocab(tmp_path / "nope.json")
    path = _write(tmp_path, "v.txt", "<pad>\na\n")
    with pytest.raises(ParameterError) as refused:
        read_vocab(path, kind="bpe")
    assert refused.value.parameter == "tokenizer"


def test_ids_beyond_the_embedding_are_refused(tmp_path) -> None:
    tok = read_vocab(_write(tmp_path, "v.json", json.dumps({"<pad>": 0, "zebra": 40})))
    tok.check_embedding(41)
    with pytest.raises(DataError, match=r"id 40 \('zebra'\) but emb has only 40 rows"):
        tok.check_embedding(40, "emb")


def test_round_trip_through_a_dict() -> None:
    tok = VocabTokenizer({"<pad>": 0, "x": 1, "y": 2}, "char", 0, None, "vocabulary 'v'")
    again = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
    assert isinstance(again, VocabTokenizer)
    assert torch.equal(again.encode_batch(["xy", "y"])[0], tok.encode_batch(["xy", "y"])[0])


@pytest.mark.parametrize("name, text, token", [
    ("list.json", json.dumps(["<pad>", "<unk>", "the", "cat", "the"]), "'the'"),
    ("list.json", '["<pad>", 1, "1"]', "'1'"),  # the same token once written as a number
    ("map.json", '{"<pad>": 0, "the": 1, "cat": 2, "the": 3}', "'the'"),
    ("lines.txt", "<pad>\nthe\ncat\nthe\n", "'the'"),
])
def test_a_token_given_twice_is_refused_in_every_form(tmp_path, name, text, token) -> None:
    # json.loads alone keeps the last of a repeated key, and a list maps it to its last position
    path = _write(tmp_path, name, text)
    with pytest.raises(DataError, match=rf"lists (token )?{token} twice"):
        read_vocab(path)


def test_an_id_given_to_two_tokens_is_refused_in_every_form(tmp_path) -> None:
    path = _write(tmp_path, "map.json", json.dumps({"<pad>": 0, "the": 1, "cat": 1}))
    with pytest.raises(DataError, match="gives id 1 to several tokens"):
        read_vocab(path)
    with pytest.raises(DataError, match=r"gives id 2 to several tokens \('a', 'b'\)"):
        VocabTokenizer({"<pad>": 0, "a": 2, "b": 2})  # e.g. a vocabulary stored in a checkpoint
