"""The meta table's columns of what the model returns and reads, by what it returns.

A classifier fills ``prediction``, ``prediction_id``, ``probability`` and ``correct`` from its
logits; a model without class logits leaves them empty (null) and adds what it has instead:

* a pair model: ``score`` (its score of the pair);
* a language model (per-step logits over one text): ``next_token_accuracy``, the share of each
  row's steps ``t < length - 1`` whose most likely token is the token at ``t + 1``, and
  ``next_token_logprob``, the mean log-probability it gives those tokens (the log-likelihood of
  the reference continuation, per token); an encoder-decoder fed its target (per-step logits
  over the second text) gets the same two of its target's tokens, aligned as
  :func:`~probe_rnn.models.outputs.next_token_logprobs` aligns a decoder's steps;
* a model reading two texts: ``tokens_2``, the second text's tokens (its steps, ``length_2``,
  are written by the store writer with the second text's offsets).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import torch

from probe_rnn.models.outputs import next_token_logprobs


def model_fields(kind: str | None, second_text: bool = False) -> list[pa.Field]:
    """The extra fields of ``meta.parquet`` for a model returning ``kind``; ``tokens_2`` when
    the table holds the second text (``second_text``)."""
    fields = []
    if second_text:
        fields.append(pa.field("tokens_2", pa.list_(pa.string())))
    if kind == "score":
        fields.append(pa.field("score", pa.float64()))
    if kind == "step-logits":
        fields += [pa.field("next_token_accuracy", pa.float64()),
                   pa.field("next_token_logprob", pa.float64())]
    return fields


def prediction_columns(output: Any, labels: list[str], label_ids: np.ndarray
                       ) -> dict[str, Any]:
    """``prediction``, ``prediction_id``, ``probability``, ``correct``: from class logits, or
    null for a model that has none."""
    logits = getattr(output, "logits", output)
    rows = len(label_ids)
    if logits is None:
        return {"prediction": [None] * rows, "prediction_id": [None] * rows,
                "probability": [None] * rows, "correct": [None] * rows}
    probs = torch.softmax(logits.detach().float().cpu(), dim=-1)
    probability, predicted = probs.max(dim=-1)
    pred_ids = predicted.numpy().astype(np.int64)
    return {"prediction": [labels[i] if i < len(labels) else str(i) for i in pred_ids],
            "prediction_id": pred_ids, "probability": probability.numpy().astype(np.float64),
            "correct": label_ids == pred_ids}


def model_columns(schema: pa.Schema, output: Any, batch: dict[str, Any], texts: list[Any],
                  adapter: Any) -> dict[str, Any]:
    """The values of :func:`model_fields` for one batch's rows."""
    names = set(schema.names)
    columns: dict[str, Any] = {}
    if "tokens_2" in names:
        seconds = [str(t[1]) if isinstance(t, tuple | list) else "" for t in texts]
        columns["tokens_2"] = [list(map(str, adapter.tokens(t))) if t else [] for t in seconds]
    if "score" in names:
        columns["score"] = output.values.detach().float().cpu().numpy().astype(np.float64)
    if "next_token_accuracy" in names:
        second = isinstance(batch.get("ids_2"), torch.Tensor)  # a decoder's: its target's
        columns.update(next_token_columns(output.values, batch, text=2 if second else 1))
    return columns


def next_token_columns(step_logits: torch.Tensor, batch: dict[str, Any], text: int = 1
                       ) -> dict[str, Any]:
    """``next_token_accuracy`` and ``next_token_logprob`` per row from ``step_logits (batch,
    time, vocab)`` and the batch's ``ids``/``lengths`` (``ids_2``/``lengths_2`` with ``text``
    2: a decoder's target; null for a row of one step, or without ids)."""
    suffix = "_2" if text == 2 else ""
    ids, lengths = batch.get("ids" + suffix), batch["lengths" + suffix]
    rows = int(lengths.shape[0])
    if not isinstance(ids, torch.Tensor) or step_logits is None:
        return {"next_token_accuracy": [None] * rows, "next_token_logprob": [None] * rows}
    gold, hit, valid = next_token_logprobs(step_logits.detach().float().cpu(), ids.cpu(),
                                           lengths.cpu())
    count = valid.sum(1)
    accuracy = [float(h) / int(n) if int(n) else None for h, n in zip(hit.sum(1), count,
                                                                       strict=True)]
    logprob = [float(g) / int(n) if int(n) else None for g, n in zip(gold.sum(1), count,
                                                                     strict=True)]
    return {"next_token_accuracy": accuracy, "next_token_logprob": logprob}
