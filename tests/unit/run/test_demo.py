"""The demo's helpers: jobs counted as joblib counts them, the one line a readouts study is
summed up in (its numbers recomputed with scipy), and a saved demo model reused, not retrained."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from scipy import stats

from probe_rnn.data import Tokenizer
from probe_rnn.models import save_checkpoint
from probe_rnn.run import demo
from tests.unit.models.models_support import TEXTS, make_bundle
from tests.unit.studies.study_support import TIED, hand_study


@pytest.mark.parametrize(("jobs", "cores", "want"), [
    (3, 8, 3), (1, 8, 1), (-1, 8, 8), (-2, 8, 7), (-8, 8, 1), (-20, 8, 1), (-1, 1, 1)])
def test_jobs_are_counted_as_joblib_counts_them(monkeypatch, jobs: int, cores: int,
                                                want: int) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert demo._cores(jobs) == want


def test_the_study_line_states_last_minus_hidden_with_its_interval(tmp_path) -> None:
    study = hand_study(TIED)
    d = np.subtract(TIED["last"], TIED["hidden"])
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    line = demo._study_line(study, tmp_path)
    assert line.startswith(f"last minus hidden {d.mean() * 100:+.2f} points "
                           f"[{(d.mean() - half) * 100:+.2f}, {(d.mean() + half) * 100:+.2f}] "
                           "over 3 seeds, ")
    assert line.endswith(f" -> {tmp_path / 'index.html'}")
    other = hand_study({"mean": [0.8, 0.82], "naive-last": [0.5, 0.6]})
    assert demo._study_line(other, tmp_path) == f"mean, naive-last -> {tmp_path / 'index.html'}"


def test_a_saved_demo_model_is_reused_not_retrained(tmp_path, monkeypatch) -> None:
    bundle = make_bundle(Tokenizer("char").fit(TEXTS))
    path = tmp_path / "demo.pt"
    save_checkpoint(path, bundle)

    def no_training(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the demo trained although its model was saved")

    monkeypatch.setattr("probe_rnn.models.train", no_training)
    said: list[str] = []
    loaded = demo._demo_model(None, path, seed=0, retrain=False, say=said.append)
    assert said == [f"{'model':<12} reusing {path}"]
    assert torch.equal(loaded.predict_logits(TEXTS), bundle.predict_logits(TEXTS))
    with pytest.raises(AssertionError, match="trained although"):
        demo._demo_model(None, path, seed=0, retrain=True, say=said.append)
