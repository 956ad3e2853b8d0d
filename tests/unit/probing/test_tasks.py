"""Built-in tasks against hand-written targets on a tiny table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from probe_rnn.errors import ConfigError
from probe_rnn.probing.tasks import OTHER, Task, flat_tokens, get_task, positions

TEXTS = ["abc", "bd", "aaaab", "c", "dcba", "bb"]


def _meta() -> pd.DataFrame:
    return pd.DataFrame({"text": TEXTS, "label": ["x", "y", "x", "y", "x", "y"],
                         "prediction": ["x", "x", "x", "y", "y", "y"],
                         "tokens": [list(t) for t in TEXTS]})


def _targets(name: str, level: str | None = None, **kw):
    meta = _meta()
    toks, offs = flat_tokens(meta)
    task = get_task(name) if not kw else type(get_task(name))(**kw)
    return task.targets(meta, toks, offs, level=level or task.level).tolist(), task


def test_flat_tokens_and_positions() -> None:
    toks, offs = flat_tokens(_meta())
    assert "".join(toks) == "".join(TEXTS) and offs.tolist() == [0, 3, 5, 10, 11, 15, 17]
    t, t_end = positions(offs)
    assert t[:5].tolist() == [0, 1, 2, 0, 1] and t_end[:5].tolist() == [-3, -2, -1, -2, -1]


def test_label_and_prediction_at_both_levels() -> None:
    assert _targets("label", "sentence")[0] == ["x", "y", "x", "y", "x", "y"]
    y, task = _targets("label", "token")
    assert y[:5] == ["x", "x", "x", "y", "y"] and len(y) == 17 and task.by_position
    assert _targets("prediction", "sentence")[0] == ["x", "x", "x", "y", "y", "y"]
    assert task.applies_to("sentence") and task.applies_to("token")


def test_first_last_token_with_top_n_and_other() -> None:
    assert _targets("first-token")[0] == ["a", "b", "a", "c", "d", "b"]
    # top-2 of last tokens (c, d, b, c, a, b): b and c (2 each) kept
    assert _targets("last-token", n=2)[0] == ["c", OTHER, "b", "c", OTHER, "b"]


def test_length_bins_cover_every_row_and_state_chance() -> None:
    y, task = _targets("length", n_bins=2)
    lengths = [len(t) for t in TEXTS]
    assert len(set(y)) == 2
    for a, la in zip(y, lengths, strict=True):  # bins are monotone in length
        for b, lb in zip(y, lengths, strict=True):
            if la < lb:
                assert not (a != b and int(a.split("-")[0]) > int(b.split("-")[0]))
    assert task.chance(np.array(y)) == max(y.count(v) for v in set(y)) / len(y)


def test_word_content_keeps_sentences_with_exactly_one_chosen_type() -> None:
    meta = _meta()
    task = type(get_task("word-content"))(k=2)
    chosen = task.vocabulary(meta)
    # document frequency: b 5, a 3, c 3, d 2 -> skip the top quarter (b), take a, c
    assert chosen == ["a", "c"]
    y, _ = _targets("word-content", k=2)
    assert y == [None, None, "a", "c", None, None]


def test_current_token_and_token_back_leave_out_the_first_steps() -> None:
    assert _targets("current-token")[0] == list("".join(TEXTS))
    y, task = _targets("token-back-2")
    assert task.level == "token" and not task.applies_to("sentence")
    assert y[:5] == [None, None, "a", None, None]  # "abc" then "bd"
    assert y[5:10] == [None, None, "a", "a", "a"]  # "aaaab"
    y8, _ = _targets("token-back-8")
    assert all(v is None for v in y8)


def test_position_bins_are_a_classification() -> None:
    y, task = _targets("position", n_bins=2)
    assert task.kind == "classification" and len(set(y)) == 2 and None not in y


def test_get_task_refuses_non_tasks() -> None:
    with pytest.raises(ConfigError, match="is not a Task"):
        get_task(object())

    class Mine(Task):
        kind = "regression"

        def targets(self, meta, tokens, offsets, level=None):
            return np.diff(offsets).astype(float)

    assert get_task(Mine).name == "Mine" and get_task(Mine()).chance(np.ones(3)) == 0.0
