"""The completeness verdict: PASS/FAIL against the 5 % threshold, counted like a hand loop, with
what a failure means and which steps to raise; methods without a check say so."""

from __future__ import annotations

import numpy as np
import pandas as pd

from probe_rnn.attribution.verdict import (
    COMPLETENESS_THRESHOLD,
    completeness_verdict,
    unrolled_sentence,
)


def _frames(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    tokens = rng.choice([0.001, 0.02, 0.049, 0.051, 0.3, 2.36], size=12)
    steps = rng.choice([0.0001, 0.04, 0.06, 6.26], size=30)
    return pd.DataFrame({"completeness_error": tokens}), pd.DataFrame({"completeness_error": steps})


def test_failures_are_counted_as_a_hand_loop_counts_them() -> None:
    for seed in range(5):
        examples, steps = _frames(seed)
        verdict = completeness_verdict(examples, steps, n_steps=50, state_steps=16)
        tok_bad = sum(1 for e in examples["completeness_error"] if e > COMPLETENESS_THRESHOLD)
        st_bad = sum(1 for e in steps["completeness_error"] if e > COMPLETENESS_THRESHOLD)
        assert (verdict["tokens_failed"], verdict["steps_failed"]) == (tok_bad, st_bad)
        assert verdict["tokens_worst"] == examples["completeness_error"].max()
        assert verdict["passed"] is (tok_bad + st_bad == 0)


def test_a_failure_says_what_it_means_and_what_to_raise() -> None:
    examples = pd.DataFrame({"completeness_error": [0.01, 2.36]})
    steps = pd.DataFrame({"completeness_error": [0.01, 0.02]})
    verdict = completeness_verdict(examples, steps, n_steps=50, state_steps=16)
    assert verdict["passed"] is False
    assert verdict["sentence"] == (
        "completeness: FAIL, the token attributions of 1 of 2 sentences (worst error 236.0%) do "
        "not add up to the logit change they explain within 5%: their amounts are not the "
        "logit's parts, so read those heatmaps as rough rankings; raise n_steps= (now 50) and "
        "run again; if it stays, the model is far from linear along the path (saturated units)")
    both = completeness_verdict(examples, pd.DataFrame({"completeness_error": [6.26]}), 50, 16)
    assert "and the per-step attributions of 1 of 1 states (worst error 626.0%)" in \
        both["sentence"]
    assert "raise n_steps= (now 50) and state_steps= (now 16)" in both["sentence"]


def test_a_pass_and_a_method_without_completeness() -> None:
    ok = completeness_verdict(pd.DataFrame({"completeness_error": [0.05, 0.0]}),
                              pd.DataFrame({"completeness_error": [0.001]}))
    assert ok["passed"] is True and ok["sentence"].startswith("completeness: PASS")
    none = completeness_verdict(pd.DataFrame({"completeness_error": [np.nan]}),
                                pd.DataFrame({"completeness_error": []}))
    assert none["passed"] is None and "not checked" in none["sentence"]
    assert "twin" not in unrolled_sentence(4.5e-8)
    assert unrolled_sentence(4.5e-8).endswith("max |difference| 4.5e-08")


def test_the_sentence_is_rebuilt_from_the_verdict_with_a_front_ends_words() -> None:
    from probe_rnn.attribution.verdict import verdict_sentence

    examples = pd.DataFrame({"completeness_error": [0.01, 2.36]})
    steps = pd.DataFrame({"completeness_error": [6.26]})
    verdict = completeness_verdict(examples, steps, n_steps=50, state_steps=16)
    assert verdict_sentence(verdict, 50, 16) == verdict["sentence"]  # as stored

    def words(mention):
        return {"n_steps": "--steps", "state_steps": "--state-steps"}[mention.parameter]

    said = verdict_sentence(verdict, 50, 16, words)
    assert "raise --steps (now 50) and --state-steps (now 16) and run again" in said
    assert said.replace("--steps", "n_steps=").replace("--state-steps", "state_steps=") == \
        verdict["sentence"]  # only the mentions differ
    for other in (completeness_verdict(examples.iloc[:1], steps.iloc[:0]),  # a pass
                  completeness_verdict(examples.iloc[:0], steps.iloc[:0])):  # not checked
        assert verdict_sentence(other, None, None, words) == other["sentence"]
