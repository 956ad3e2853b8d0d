"""Character and whitespace-word tokenizers with a frequency-built vocabulary.

A :class:`Tokenizer` is fitted on training texts and then travels inside every checkpoint (as
:meth:`Tokenizer.to_dict`, plain python types only, so ``torch.load(weights_only=True)`` reads
it), so a model always carries its own tokenizer.

* ``kind="char"``: every character is a token, spaces and punctuation included.
* ``kind="word"``: ``str.split()`` — maximal runs of non-whitespace; punctuation stays attached.

Text is never lowercased or normalised: ``"Mary"`` and ``"mary"`` are different tokens, so what
the model saw is exactly what the user wrote.

Vocabulary: ids ``0`` and ``1`` are ``<pad>`` and ``<unk>``; then the tokens seen in ``fit`` with
at least ``min_freq`` occurrences, most frequent first, ties broken by the token string (so the
vocabulary does not depend on the order of the texts); ``max_size`` caps the whole vocabulary,
the two special tokens included. Input tokens that spell a special token (the word ``<pad>``)
are ordinary out-of-vocabulary tokens and encode as ``<unk>``, never as padding.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from probe_rnn.errors import CheckpointError, ConfigError, DataError, ParameterError
from probe_rnn.validation import AnyOf, Interval, check_param, shown

PAD = "<pad>"
UNK = "<unk>"
TOKENIZER_KINDS: tuple[str, ...] = ("char", "word")
_FORMAT = "probe-rnn-tokenizer"
_VERSION = 1


class Tokenizer:
    """Map texts to token ids and back.

    Parameters
    ----------
    kind
        ``"char"`` (one token per character) or ``"word"`` (whitespace-separated words).
    min_freq
        Minimum count in the fitted texts for a token to enter the vocabulary (>= 1).
    max_size
        Largest vocabulary size, ``<pad>`` and ``<unk>`` included (>= 3), or None for no cap.

    Attributes
    ----------
    pad_id, unk_id
        Always 0 and 1.
    """

    pad_id = 0
    unk_id = 1

    def __init__(self, kind: str = "char", min_freq: int = 1, max_size: int | None = None):
        if kind not in TOKENIZER_KINDS:
            raise ParameterError("tokenizer", f"one of {', '.join(TOKENIZER_KINDS)}", shown(kind))
        check_param("min_freq", min_freq, Interval(int, 1, None))
        check_param("max_size", max_size, AnyOf(None, Interval(int, 3, None), allowed="None or an "
                                                "integer >= 3 (it counts <pad> and <unk>)"))
        self.kind = kind
        self.min_freq = min_freq
        self.max_size = max_size
        self._vocab: list[str] = []
        self._index: dict[str, int] = {}

    # ------------------------------------------------------------------ vocabulary
    def fit(self, texts: Iterable[str]) -> Tokenizer:
        """Build the vocabulary from ``texts`` (replacing any earlier one) and return self.

        Parameters
        ----------
        texts
            Training texts, shape ``(rows,)``.
        """
        counts: Counter[str] = Counter()
        rows = 0
        for row, text in enumerate(texts):
            counts.update(self.tokenize(as_text(text, row)))
            rows += 1
        if rows == 0:
            raise DataError("cannot fit a tokenizer on no texts; pass at least one text")
        for special in (PAD, UNK):
            counts.pop(special, None)
        kept = sorted((t for t, c in counts.items() if c >= self.min_freq),
                      key=lambda t: (-counts[t], t))
        if self.max_size is not None:
            kept = kept[: self.max_size - 2]
        self._set_vocab([PAD, UNK, *kept])
        return self

    def _set_vocab(self, vocab: list[str]) -> None:
        self._vocab = list(vocab)
        self._index = {token: i for i, token in enumerate(vocab) if i >= 2}

    @property
    def vocab(self) -> list[str]:
        """Token strings by id (a copy): ``vocab[0] == "<pad>"``, ``vocab[1] == "<unk>"``."""
        self._require_fitted()
        return list(self._vocab)

    def __len__(self) -> int:
        return len(self._vocab)

    def __repr__(self) -> str:
        size = len(self._vocab) if self._vocab else "unfitted"
        return (f"Tokenizer(kind={self.kind!r}, min_freq={self.min_freq}, "
                f"max_size={self.max_size}, vocab={size})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ text -> ids
    def tokenize(self, text: str) -> list[str]:
        """Split ``text`` into token strings (unknown tokens keep their own spelling).

        ``len(tokenize(t)) == len(encode(t))`` for every text.
        """
        return list(text) if self.kind == "char" else text.split()

    def tokens(self, text: str) -> list[str]:
        """Alias of :meth:`tokenize` (the adapter protocol's name)."""
        return self.tokenize(text)

    def token_id(self, token: str) -> int:
        """Id of one token string (``unk_id`` when out of vocabulary)."""
        self._require_fitted()
        return self._index.get(token, self.unk_id)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, shape ``(tokens,)`` (empty for a text without tokens)."""
        self._require_fitted()
        index, unk = self._index, self.unk_id
        return [index.get(token, unk) for token in self.tokenize(as_text(text, 0))]

    def decode(self, ids: Sequence[int] | torch.Tensor) -> list[str]:
        """Token strings of ``ids`` (padding ids are skipped), shape ``(tokens,)``."""
        self._require_fitted()
        values = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        out = []
        for i in values:
            if not 0 <= int(i) < len(self._vocab):
                raise DataError(f"token id {i} is outside the vocabulary of {len(self)} tokens; "
                                "decode ids produced by this tokenizer")
            if int(i) != self.pad_id:
                out.append(self._vocab[int(i)])
        return out

    def encode_batch(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode texts into one right-padded batch.

        Parameters
        ----------
        texts
            Texts, shape ``(batch,)``; each must have at least one token.

        Returns
        -------
        ids : torch.LongTensor
            Shape ``(batch, time)`` with ``time = max(lengths)``; positions ``>= lengths[b]``
            hold ``pad_id``.
        lengths : torch.LongTensor
            Shape ``(batch,)``, tokens per text.
        """
        return pad_batch([self.encode(as_text(t, row)) for row, t in enumerate(as_texts(texts))],
                         self.pad_id, self.kind)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """Plain-python description (str/int/list/None only) for checkpoints."""
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "kind": self.kind,
            "min_freq": self.min_freq,
            "max_size": self.max_size,
            "vocab": list(self._vocab),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tokenizer:
        """Rebuild a tokenizer saved with :meth:`to_dict`.

        Raises
        ------
        CheckpointError
            The dict is not a probe-rnn tokenizer or is inconsistent.
        """
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise CheckpointError("the stored tokenizer is not a probe-rnn tokenizer dict; "
                                  "re-save the model with probe-rnn")
        if data.get("version") != _VERSION:
            raise CheckpointError(f"stored tokenizer has version {data.get('version')!r}, this "
                                  f"probe-rnn reads version {_VERSION}; upgrade probe-rnn")
        vocab = data.get("vocab")
        if (not isinstance(vocab, list) or vocab[:2] != [PAD, UNK]
                or not all(isinstance(t, str) for t in vocab) or len(set(vocab)) != len(vocab)):
            raise CheckpointError("stored tokenizer vocabulary is malformed (it must be a list of "
                                  "distinct strings starting with <pad>, <unk>); re-save the model")
        try:
            tok = cls(data.get("kind", ""), data.get("min_freq", 1), data.get("max_size"))
        except ConfigError as exc:
            raise CheckpointError(f"stored tokenizer settings are invalid ({exc}); "
                                  "re-save the model") from exc
        tok._set_vocab(vocab)
        return tok

    def _require_fitted(self) -> None:
        if not self._vocab:
            raise DataError("tokenizer has no vocabulary yet; call fit(texts) first")


def as_texts(texts: Sequence[str]) -> Sequence[str]:
    """``texts`` itself, unless it is one string (a DataError saying to wrap it)."""
    if isinstance(texts, str):
        raise DataError("encode_batch takes a list of texts, not one string; wrap it as [text]")
    return texts


def pad_batch(encoded: list[list[int]], pad_id: int, kind: str
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad encoded texts into ``ids (batch, time)`` and ``lengths (batch,)``.

    Every text must have at least one token (``kind`` names the tokens in the error).
    """
    if not encoded:
        raise DataError("cannot encode an empty batch; pass at least one text")
    empty = [row for row, ids in enumerate(encoded) if not ids]
    if empty:
        shown = ", ".join(str(r) for r in empty[:5])
        raise DataError(f"{len(empty)} text(s) have no {kind} tokens (batch positions "
                        f"{shown}); remove empty or whitespace-only texts")
    lengths = np.fromiter((len(ids) for ids in encoded), dtype=np.int64, count=len(encoded))
    batch = np.full((len(encoded), int(lengths.max())), pad_id, dtype=np.int64)
    valid = np.arange(batch.shape[1])[None, :] < lengths[:, None]  # row-major = token order
    batch[valid] = np.fromiter(itertools.chain.from_iterable(encoded), dtype=np.int64,
                               count=int(lengths.sum()))
    return torch.from_numpy(batch), torch.from_numpy(lengths)


def as_text(text: Any, row: int) -> str:
    """``text`` itself if it is a str, else a DataError naming its position ``row``."""
    if not isinstance(text, str):
        raise DataError(f"text at position {row} is {type(text).__name__}, not str; "
                        "convert the texts to strings first")
    return text
