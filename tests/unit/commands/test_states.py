"""What ``attribute`` prints: the completeness verdict names this CLI's options (``--steps``,
``--state-steps``) where the library's stored sentence names its parameters."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from probe_rnn.attribution.verdict import completeness_verdict
from probe_rnn.cli import app
from probe_rnn.commands.common import RUNNING_APP
from probe_rnn.commands.states import attribution_lines


def test_the_verdict_line_says_the_options_to_raise() -> None:
    examples = pd.DataFrame({"completeness_error": [0.01, 2.36]})
    steps = pd.DataFrame({"completeness_error": [0.9]})
    verdict = completeness_verdict(examples, steps, n_steps=8, state_steps=4)
    result = SimpleNamespace(
        examples=examples, worst_completeness_error=2.36, worst_step_error=0.9,
        manifest={"completeness": verdict, "n_steps": 8, "state_steps": 4,
                  "twin_max_difference": 1e-7})
    assert "raise n_steps= (now 8) and state_steps= (now 4)" in verdict["sentence"]
    RUNNING_APP[:] = [app]
    try:
        lines = attribution_lines(result, "ig").splitlines()
    finally:
        RUNNING_APP.clear()
    assert lines[0].startswith("attributed 2 sentences (ig)")
    assert "raise --steps (now 8) and --state-steps (now 4)" in lines[1]
    assert "n_steps" not in lines[1] and "state_steps" not in lines[1]


def test_a_two_text_run_says_its_target_and_each_stage_that_does_not_apply() -> None:
    examples = pd.DataFrame({"completeness_error": [0.001, 0.002]})
    verdict = completeness_verdict(examples, pd.DataFrame(), n_steps=16)
    result = SimpleNamespace(
        examples=examples, worst_completeness_error=0.002, worst_step_error=float("nan"),
        manifest={"completeness": verdict, "n_steps": 16, "target": "score",
                  "explains": "M's own score of each pair",
                  "stages": {"tokens": "done: both texts", "steps": "not applicable: why",
                             "neurons": "not applicable: see steps"}})
    lines = attribution_lines(result, "ig").splitlines()
    assert lines[0].startswith("attributed 2 pairs (ig) of target score: M's own score")
    assert lines[1].startswith("completeness: PASS")
    assert lines[2:] == ["steps: not applicable: why", "neurons: not applicable: see steps"]
