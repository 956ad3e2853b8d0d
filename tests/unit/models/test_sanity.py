"""A checkpoint's declared sizes are checked against its weights and the memory before anything
is allocated; NaN/inf weights are named as such; a ``torch.save`` file pickling a function of
a blocked module (``os.getcwd``) is refused as a pickle needing trust, not called damaged; and
a probe run whose states overflow float16 stores them in float32 instead of failing."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest
import torch

from probe_rnn.capture.verify import raise_on_mismatch
from probe_rnn.errors import CaptureMismatchError, CheckpointError, UntrustedCheckpointError
from probe_rnn.models import (
    Architecture,
    ModelConfig,
    RNNClassifier,
    TrainBudget,
    load_model,
    train,
)
from probe_rnn.models.checkpoint import read_checkpoint, save_checkpoint
from probe_rnn.models.sanity import available_memory, check_declared_sizes, check_finite

DF = pd.DataFrame({"text": ["ab", "ba", "abc", "cab", "bcab", "ca", "a", "bbbbca"] * 5,
                   "label": ["p", "q", "p", "q", "q", "p", "q", "p"] * 5})
CONFIG = ModelConfig(vocab_size=6, n_labels=2, rnn="lstm", embedding_dim=3, hidden=4)


def _bytes(config: ModelConfig) -> int:
    """float32 bytes of the model, counted by building it for real (the reference)."""
    return 4 * sum(p.numel() for p in RNNClassifier(config).state_dict().values())


def test_declared_sizes_that_fit_pass_and_memory_is_counted_exactly():
    weights = RNNClassifier(CONFIG).state_dict()
    check_declared_sizes(CONFIG, weights, "'m.pt'", memory=_bytes(CONFIG))
    with pytest.raises(CheckpointError, match=r"declares a model of .* more than the .* memory"):
        check_declared_sizes(CONFIG, weights, "'m.pt'", memory=_bytes(CONFIG) - 1)
    assert available_memory() is None or available_memory() > 0


def test_a_crafted_hidden_size_is_refused_before_allocation():
    huge = ModelConfig(**{**CONFIG.__dict__, "hidden": 2_000_000_000})
    with pytest.raises(CheckpointError, match="hidden=2000000000"):
        check_declared_sizes(huge, RNNClassifier(CONFIG).state_dict(), "'m.pt'")
    big = ModelConfig(**{**CONFIG.__dict__, "hidden": 40})
    with pytest.raises(CheckpointError, match=r"do not have .*rnn\.weight_ih_l0 \(16, 3\) vs "
                       r"\(160, 3\)"):
        check_declared_sizes(big, RNNClassifier(CONFIG).state_dict(), "'m.pt'", memory=2**40)


def test_non_finite_weights_are_named(tmp_path):
    model = RNNClassifier(CONFIG)
    check_finite(model, "'m.pt'")
    with torch.no_grad():
        model.rnn.weight_hh_l0[0, :2] = torch.tensor([math.nan, math.inf])
    with pytest.raises(CheckpointError, match=r"rnn\.weight_hh_l0 holds 1 NaN and 1 inf of 64"):
        check_finite(model, "'m.pt'")


def test_load_model_checks_sizes_and_finiteness(tmp_path):
    bundle = train(DF, Architecture(hidden=4, embedding_dim=3), TrainBudget(epochs=1),
                   seed=0).bundle
    path = tmp_path / "m.pt"
    save_checkpoint(path, bundle)
    raw = read_checkpoint(path)
    raw["config"]["hidden"] = 2_000_000_000
    torch.save(raw, tmp_path / "huge.pt")
    with pytest.raises(CheckpointError, match="declares sizes no model can have"):
        load_model(tmp_path / "huge.pt")
    raw = read_checkpoint(path)
    raw["state_dict"]["head.bias"][0] = math.nan
    torch.save(raw, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match=r"not finite: head\.bias holds 1 NaN"):
        load_model(tmp_path / "nan.pt")


def test_a_pickled_function_of_a_blocked_module_is_named_a_pickle(tmp_path):
    class Runs:
        def __reduce__(self):  # noqa: ANN204
            return (os.getcwd, ())

    torch.save({"state_dict": {}, "args": Runs()}, tmp_path / "code.pt")
    with pytest.raises(UntrustedCheckpointError, match=r"pickled object \(\w+\.getcwd\).*"
                       r"trust_checkpoint=True"):
        read_checkpoint(tmp_path / "code.pt")


def test_non_finite_states_are_not_blamed_on_changing_weights():
    with pytest.raises(CaptureMismatchError, match="not finite at h_n") as info:
        raise_on_mismatch("rnn", [("output", 0.0, 1e-5), ("h_n", math.nan, 1e-5)], None)
    assert "changed during the call" not in str(info.value)
    with pytest.raises(CaptureMismatchError, match="changed during the call"):
        raise_on_mismatch("rnn", [("h_n", 1.0, 1e-5)], None)


def test_a_probe_run_beyond_float16_stores_float32(tmp_path):
    from probe_rnn.run.pipeline import probe
    from probe_rnn.run.settings import RunSettings

    bundle = train(DF, Architecture(rnn="rnn-relu", hidden=4, embedding_dim=3),
                   TrainBudget(epochs=1), seed=0).bundle
    with torch.no_grad():
        bundle.model.embedding.weight.abs_().mul_(1e3)
        bundle.model.rnn.weight_ih_l0.abs_().mul_(1e2)  # relu states of order 1e5 > 65504
    lines: list[str] = []
    probe(bundle, DF, tmp_path / "run", RunSettings(
        views=["output@last"], tasks=["label"], folds=2, mdl=False, umap=False,
        attribution_rows=0, random_baseline=False, report=False, keep_duplicates=True),
        say=lines.append)  # the tiny table repeats its texts across the split
    manifest = json.loads((tmp_path / "run" / "states" / "manifest.json").read_text())
    assert manifest["dtype"] == "float32"
    stored = np.load(tmp_path / "run" / "states" / "views" /
                     os.path.basename(manifest["views"]["output@last"]["file"]))
    assert np.abs(stored).max() > 65504
    assert any("beyond the float16 range: storing float32 instead" in line for line in lines)
