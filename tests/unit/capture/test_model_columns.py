"""The meta columns of a model without class logits: next-token accuracy, empty predictions."""

from __future__ import annotations

import math

import numpy as np
import torch

from probe_rnn.capture.model_columns import next_token_columns, prediction_columns
from probe_rnn.models.outputs import ModelOutput


def test_next_token_accuracy_and_logprob_follow_a_hand_count() -> None:
    torch.manual_seed(0)
    ids = torch.tensor([[1, 2, 3, 0], [3, 1, 0, 0], [2, 0, 0, 0]])
    lengths = torch.tensor([3, 2, 1])
    logits = torch.randn(3, 4, 5)
    got = next_token_columns(logits, {"ids": ids, "lengths": lengths})
    logp = torch.log_softmax(logits, -1)
    for row in range(2):
        steps = int(lengths[row]) - 1
        hits = [int(logits[row, t].argmax()) == int(ids[row, t + 1]) for t in range(steps)]
        gold = [float(logp[row, t, ids[row, t + 1]]) for t in range(steps)]
        assert got["next_token_accuracy"][row] == sum(hits) / steps
        assert math.isclose(got["next_token_logprob"][row], sum(gold) / steps, rel_tol=1e-5)
    assert got["next_token_accuracy"][2] is None  # one step: no next token


def test_a_model_without_logits_leaves_the_prediction_columns_empty() -> None:
    cols = prediction_columns(ModelOutput("states", None), ["a"], np.array([0, 0]))
    assert cols == {"prediction": [None] * 2, "prediction_id": [None] * 2,
                    "probability": [None] * 2, "correct": [None] * 2}
    cols = prediction_columns(ModelOutput("logits", torch.tensor([[2.0, 0.0], [0.0, 1.0]])),
                              ["a", "b"], np.array([0, 0]))
    assert cols["prediction"] == ["a", "b"] and cols["correct"].tolist() == [True, False]


def test_a_decoders_next_token_columns_score_its_target() -> None:
    """A decoder's step logits over text 2 (its target), the tutorials' unwritten ``outputs[0]``
    first: each step t scores target token t, counted by hand."""
    torch.manual_seed(1)
    ids_2 = torch.tensor([[1, 4, 2, 3], [1, 3, 0, 0]])
    lengths_2 = torch.tensor([4, 2])
    logits = torch.randn(2, 4, 5)
    logits[:, 0] = 0.0  # outputs[0] never written
    batch = {"ids": torch.tensor([[7, 7, 7]]).expand(2, 3), "lengths": torch.tensor([3, 3]),
             "ids_2": ids_2, "lengths_2": lengths_2}
    got = next_token_columns(logits, batch, text=2)
    logp = torch.log_softmax(logits, -1)
    for row, length in enumerate(lengths_2.tolist()):
        steps = range(1, length)
        gold = [float(logp[row, t, ids_2[row, t]]) for t in steps]
        hits = [int(logp[row, t].argmax()) == int(ids_2[row, t]) for t in steps]
        assert math.isclose(got["next_token_logprob"][row], sum(gold) / len(gold), rel_tol=1e-5)
        assert got["next_token_accuracy"][row] == sum(hits) / len(hits)
