"""Data: labelled text tables, tokenizers and the bundled datasets.

* :func:`read_table` / :func:`check_table`: csv, tsv, jsonl/json, parquet -> ``text``, ``label``
  (+ ``split``) with one-line errors for every bad input.
* :func:`ensure_splits`, :func:`label_names`: seeded stratified splits, stable label order.
* :class:`Tokenizer`: ``char`` or ``word`` tokens, ``<pad>`` = 0, ``<unk>`` = 1, stored in
  checkpoints as plain python types.
* :func:`read_vocab` / :class:`VocabTokenizer`: a foreign model's own vocabulary file (JSON map,
  JSON list or one token per line) with its padding and unknown ids.
* :func:`load_dataset` / :func:`list_datasets`: ``names``, ``names-kind`` and the synthetic
  probing corpus (:func:`make_synthetic`, rules in :mod:`probe_rnn.data.synthetic`).
"""

from probe_rnn.data.datasets import list_datasets, load_dataset
from probe_rnn.data.splits import ensure_splits
from probe_rnn.data.synthetic import apply_rule, make_synthetic
from probe_rnn.data.tables import (
    SPLIT_NAMES,
    SUPPORTED_SUFFIXES,
    check_table,
    label_names,
    read_table,
)
from probe_rnn.data.tokenizers import PAD, TOKENIZER_KINDS, UNK, Tokenizer
from probe_rnn.data.vocab import VOCAB_TOKENIZERS, VocabTokenizer, read_vocab

__all__ = [
    "read_table",
    "check_table",
    "label_names",
    "ensure_splits",
    "Tokenizer",
    "VocabTokenizer",
    "read_vocab",
    "VOCAB_TOKENIZERS",
    "load_dataset",
    "list_datasets",
    "make_synthetic",
    "apply_rule",
    "PAD",
    "UNK",
    "TOKENIZER_KINDS",
    "SPLIT_NAMES",
    "SUPPORTED_SUFFIXES",
]
