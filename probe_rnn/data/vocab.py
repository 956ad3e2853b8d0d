"""The vocabulary a foreign model was trained with: ``--vocab FILE`` read into a tokenizer.

A model trained elsewhere keeps its vocabulary beside the weights. :func:`read_vocab` reads the
three usual forms, decided by content:

* a JSON object ``{"token": id, ...}`` (torchtext's ``vocab.get_stoi()``, Keras' ``word_index``);
* a JSON list ``["<pad>", "<unk>", "the", ...]`` (id = position, ``vocab.get_itos()``);
* a text file with one token per line (id = line number; the line without its newline).

:class:`VocabTokenizer` then splits texts the way the model was trained (``--tokenizer``):
``word`` (``str.split()``), ``char`` (every character) or ``basic-english`` (torchtext's
``get_tokenizer("basic_english")``: lower-cased, punctuation split off). The padding id is
``--pad-id``, else the vocabulary's ``<pad>``/``[PAD]`` entry, else the embedding's
``padding_idx``; without any, only batches of equal-length rows can be encoded (a batch that
needs padding is then an error naming ``--pad-id``); the unknown token is ``--unk``, else
``<unk>``/``[UNK]``; without one, a token missing from the vocabulary is an error naming it.
:meth:`VocabTokenizer.check_embedding` checks the ids against the model's embedding before any
work starts.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from probe_rnn.data.tokenizers import as_text, as_texts, pad_batch
from probe_rnn.errors import CheckpointError, DataError, InputFileError, Mention, ParameterError
from probe_rnn.validation import Interval, check_param, shown

VOCAB_TOKENIZERS: tuple[str, ...] = ("word", "char", "basic-english")
PAD_SPELLINGS = ("<pad>", "<PAD>", "[PAD]", "<blank>")
UNK_SPELLINGS = ("<unk>", "<UNK>", "[UNK]", "<oov>", "<OOV>")
_FORMAT = "probe-rnn-vocab"

# torchtext's _basic_english_normalize, rule for rule
_BASIC_ENGLISH = [(re.compile(p), r) for p, r in (
    (r"\'", " '  "), (r"\"", ""), (r"\.", " . "), (r"<br \/>", " "), (r",", " , "),
    (r"\(", " ( "), (r"\)", " ) "), (r"\!", " ! "), (r"\?", " ? "), (r"\;", " "),
    (r"\:", " "), (r"\s+", " "))]


def split_text(text: str, kind: str) -> list[str]:
    """Token strings of ``text`` for a tokenizer ``kind`` of :data:`VOCAB_TOKENIZERS`."""
    if kind == "char":
        return list(text)
    if kind == "basic-english":
        text = text.lower()
        for pattern, replacement in _BASIC_ENGLISH:
            text = pattern.sub(replacement, text)
    return text.split()


class VocabTokenizer:
    """Texts to ids with a given vocabulary (the adapter protocol's tokenizer).

    Parameters
    ----------
    index : mapping token -> id
        Ids need not be contiguous; ``len(self)`` is the largest id + 1.
    kind : one of :data:`VOCAB_TOKENIZERS`.
    pad_id : int or None
        Id written at padded positions; None when the model's padding is unknown (then a batch
        of rows of unequal length is an error).
    unk_id : int or None
        Id of tokens missing from the vocabulary; None makes them an error.
    source : str
        Where the vocabulary came from (shown in errors and the model card).
    """

    def __init__(self, index: Mapping[str, int], kind: str = "word", pad_id: int | None = 0,
                 unk_id: int | None = None, source: str = "vocabulary") -> None:
        if kind not in VOCAB_TOKENIZERS:
            raise ParameterError("tokenizer", f"one of {', '.join(VOCAB_TOKENIZERS)}",
                                 shown(kind))
        if not index:
            raise DataError(f"{source} holds no tokens: give the vocabulary the model was "
                            "trained with")
        self.index = dict(index)
        counts = Counter(self.index.values())
        if len(counts) != len(self.index):
            dup = next(i for i, n in counts.items() if n > 1)
            names = ", ".join(repr(t) for t, i in self.index.items() if i == dup)
            raise DataError(f"{source} gives id {dup} to several tokens ({names}): one token "
                            "per id")
        self.kind, self.unk_id, self.source = kind, unk_id, source
        self.pad_id = None if pad_id is None else int(pad_id)
        self._size = max(max(self.index.values()), self.pad_id or 0, unk_id or 0) + 1
        self._by_id = {i: t for t, i in self.index.items()}

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return (f"VocabTokenizer({self.source!r}, kind={self.kind!r}, tokens={len(self.index)}, "
                f"pad_id={self.pad_id}, unk_id={self.unk_id})")

    def tokenize(self, text: str) -> list[str]:
        """Token strings of ``text``, one per id :meth:`encode` gives."""
        return split_text(text, self.kind)

    tokens = tokenize

    def encode(self, text: str, row: int = 0) -> list[int]:
        """Ids of ``text``; unknown tokens become ``unk_id`` (an error when there is none)."""
        ids = []
        for token in self.tokenize(as_text(text, row)):
            found = self.index.get(token, self.unk_id)
            if found is None:
                raise DataError(f"token {token!r} (text at position {row}) is not in "
                                f"{self.source}, which has no unknown token: pass ",
                                Mention("unk", "TOKEN"), " (the vocabulary's entry for unknown "
                                "words) or check ", Mention("tokenizer"), f" (now {self.kind})")
            ids.append(found)
        return ids

    def encode_batch(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``ids (batch, time)`` right-padded with ``pad_id`` and ``lengths (batch,)``."""
        encoded = [self.encode(t, row) for row, t in enumerate(as_texts(texts))]
        if self.pad_id is None and len({len(ids) for ids in encoded}) > 1:
            raise DataError(f"rows of unequal length need padding, but {self.source} has no "
                            f"padding token ({', '.join(PAD_SPELLINGS[:3])}) and the model "
                            "has no nn.Embedding padding_idx to take it from: pass ",
                            Mention("pad_id", "N"), ", the id the model was padded with")
        return pad_batch(encoded, 0 if self.pad_id is None else self.pad_id, self.kind)

    def decode(self, ids: Sequence[int] | torch.Tensor) -> list[str]:
        """Token strings of ``ids``, padding skipped."""
        values = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        return [self._by_id.get(int(i), f"<id {int(i)}>") for i in values
                if int(i) != self.pad_id]

    def check_embedding(self, rows: int, what: str = "the model's embedding") -> None:
        """Raise unless every id (tokens, pad, unk) is a row of an embedding with ``rows``."""
        largest = len(self) - 1
        if largest >= rows:
            token = self._by_id.get(largest, "padding" if largest == self.pad_id else "unknown")
            raise DataError(f"{self.source} has id {largest} ({token!r}) but {what} has only "
                            f"{rows} rows (ids 0..{rows - 1}): give the vocabulary the model "
                            "was trained with, or fix ", Mention("pad_id"))

    def to_dict(self) -> dict[str, Any]:
        """Plain-python description for checkpoints."""
        return {"format": _FORMAT, "version": 1, "kind": self.kind, "pad_id": self.pad_id,
                "unk_id": self.unk_id, "source": self.source, "index": dict(self.index)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VocabTokenizer:
        """Rebuild from :meth:`to_dict`."""
        try:
            return cls(data["index"], data["kind"], data["pad_id"], data["unk_id"],
                       data.get("source", "vocabulary"))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"the stored vocabulary is malformed ({exc}); re-save "
                                  "the model") from exc


def tokenizer_from_dict(data: Mapping[str, Any]) -> Any:
    """A probe-rnn :class:`~probe_rnn.data.Tokenizer` or a :class:`VocabTokenizer` from its
    ``to_dict()``, told apart by its ``format``."""
    from probe_rnn.data.tokenizers import Tokenizer

    if isinstance(data, Mapping) and data.get("format") == _FORMAT:
        return VocabTokenizer.from_dict(data)
    return Tokenizer.from_dict(dict(data) if isinstance(data, Mapping) else data)


def _load_index(path: Path) -> dict[str, int]:
    """token -> id from a JSON object, a JSON list or a one-token-per-line text file."""
    if not path.is_file():
        raise InputFileError(f"vocabulary file {str(path)!r} does not exist: check ",
                             Mention("vocab"))
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM is no part of the first token
    except UnicodeDecodeError as exc:
        raise DataError(f"vocabulary file {str(path)!r} is not UTF-8 text ({exc.reason} at "
                        f"byte {exc.start}): re-encode it as UTF-8, e.g. `iconv -f latin1 -t "
                        f"utf-8 {path.name} > fixed{path.suffix}`") from None
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            data = json.loads(text, object_pairs_hook=lambda pairs: _unique_keys(pairs, path))
        except json.JSONDecodeError as exc:
            raise DataError(f"vocabulary file {str(path)!r} is not valid JSON (line "
                            f"{exc.lineno}: {exc.msg}): fix it, or give one token per "
                            "line") from None
        if isinstance(data, list):
            data = _list_index(data, path)
        bad = [k for k, v in data.items() if isinstance(v, bool) or not isinstance(v, int)
               or v < 0]
        if bad:
            raise DataError(f"vocabulary file {str(path)!r} maps {bad[0]!r} to "
                            f"{data[bad[0]]!r}: every id must be an integer >= 0")
        ids = list(data.values())
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            names = [k for k, v in data.items() if v == dup][:3]
            raise DataError(f"vocabulary file {str(path)!r} gives id {dup} to several "
                            f"tokens ({', '.join(map(repr, names))}): one token per id")
        return {str(k): int(v) for k, v in data.items()}
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.rstrip("\r") for line in lines]
    seen: dict[str, int] = {}
    for number, token in enumerate(lines):
        if token in seen:
            raise DataError(f"vocabulary file {str(path)!r} lists {token!r} twice (lines "
                            f"{seen[token] + 1} and {number + 1}): one token per line, "
                            "each once")
        seen[token] = number
    return seen


def _unique_keys(pairs: list[tuple[str, Any]], path: Path) -> dict[str, Any]:
    """A JSON object's pairs as a dict; a key given twice (which ``json`` would silently map
    to its last value) is an error naming it."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DataError(f"vocabulary file {str(path)!r} lists token {key!r} twice (ids "
                            f"{seen[key]!r} and {value!r}): give each token once")
        seen[key] = value
    return seen


def _list_index(tokens: list[Any], path: Path) -> dict[str, int]:
    """token -> position of a JSON list; a token listed twice is an error naming it."""
    index: dict[str, int] = {}
    for position, item in enumerate(tokens):
        token = str(item)
        if token in index:
            raise DataError(f"vocabulary file {str(path)!r} lists token {token!r} twice "
                            f"(positions {index[token]} and {position}): give each token once")
        index[token] = position
    return index


def _special(index: Mapping[str, int], given: str | None, spellings: tuple[str, ...],
             parameter: str, source: str) -> int | None:
    if given is not None:
        if given not in index:
            raise DataError(Mention(parameter, given), f" is not in {source}: give the token as "
                            "the vocabulary spells it")
        return index[given]
    return next((index[s] for s in spellings if s in index), None)


def read_vocab(path: str | Path, kind: str = "word", pad_id: int | None = None,
               unk: str | None = None, padding_idx: int | None = None) -> VocabTokenizer:
    """Read a vocabulary file (``vocab=``) into a :class:`VocabTokenizer`.

    Parameters
    ----------
    path : the vocabulary file (see the module docstring for the forms).
    kind : how texts are split, one of :data:`VOCAB_TOKENIZERS`.
    pad_id : the padding id; default the vocabulary's padding entry, else ``padding_idx``,
        else none (batches that need padding are then an error).
    unk : the unknown token as spelled in the vocabulary; default ``<unk>`` or
        ``[UNK]`` when present, else none (unknown tokens are then an error).
    padding_idx : the model embedding's ``padding_idx``, the last fallback for ``pad_id``.
    """
    path = Path(path)
    if kind not in VOCAB_TOKENIZERS:
        raise ParameterError("tokenizer", f"one of {', '.join(VOCAB_TOKENIZERS)}", shown(kind))
    index = _load_index(path)
    source = f"vocabulary {path.name!r}"
    if pad_id is None:
        pad_id = _special(index, None, PAD_SPELLINGS, "pad_id", source)
    if pad_id is None:
        pad_id = padding_idx  # still None: unknown, an error only when a batch needs padding
    check_param("pad_id", pad_id, [None, Interval(int, 0, None)])
    unk_id = _special(index, unk, UNK_SPELLINGS, "unk", source)
    return VocabTokenizer(index, kind, pad_id, unk_id, source)
