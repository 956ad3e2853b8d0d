"""Rows of two texts: a pair model's texts, an encoder-decoder's source and target.

``--text a,b`` (``read_table(..., text="a,b")``) names two text columns; the table then holds
the first in ``text`` and the second in ``text_2`` (:data:`SECOND_TEXT`), and what the model
reads per row is the pair ``(text, text_2)`` (:func:`model_inputs`). Splits, sampling and the
held-out rows stay by row; the label is the pair's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from probe_rnn.errors import DataError, Mention

#: The column of a row's second text (``--text a,b``): text b of a pair, an encoder-decoder's
#: target.
SECOND_TEXT = "text_2"


def text_columns(text: str, present: Iterable[Any] = ()) -> list[str]:
    """The text column(s) ``text`` names: one column, or two written ``"a,b"`` (a pair's two
    texts, an encoder-decoder's source and target) unless a column is named so."""
    if text in {str(c) for c in present} or "," not in text:
        return [text]
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
        raise DataError(f"text columns {text!r}: name one column, or two different ones as "
                        "a,b (a pair's texts; an encoder-decoder's source and target), with ",
                        Mention("text", "a,b"))
    return parts


def model_inputs(df: pd.DataFrame) -> list[Any]:
    """What the model reads per row: the ``text``, or the pair ``(text, text_2)`` when the
    table has a second text (:func:`text_columns`)."""
    if SECOND_TEXT in df.columns:
        return list(zip(df["text"].astype(str), df[SECOND_TEXT].astype(str), strict=True))
    return [str(t) for t in df["text"]]
