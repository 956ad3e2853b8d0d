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

from __future__ import annotations

from probe_rnn.lazy_exports import lazy_exports

#: Each public name and the submodule that defines it, imported on first access so that
#: ``import probe_rnn.data.sampling`` (or listing the datasets) imports neither torch nor pandas.
_EXPORTS = {
    "list_datasets": "datasets", "load_dataset": "datasets",
    "ensure_splits": "splits",
    "apply_rule": "synthetic", "make_synthetic": "synthetic",
    "SPLIT_NAMES": "tables", "SUPPORTED_SUFFIXES": "tables", "check_table": "tables",
    "label_names": "tables", "read_table": "tables", "model_inputs": "text_pairs",
    "SECOND_TEXT": "text_pairs", "text_columns": "text_pairs",
    "PAD": "tokenizers", "TOKENIZER_KINDS": "tokenizers", "UNK": "tokenizers",
    "Tokenizer": "tokenizers",
    "VOCAB_TOKENIZERS": "vocab", "VocabTokenizer": "vocab", "read_vocab": "vocab",
}

__all__ = [
    "read_table",
    "check_table",
    "model_inputs",
    "text_columns",
    "SECOND_TEXT",
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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
