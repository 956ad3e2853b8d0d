"""What attribution explains per kind of model: class logit, continuation, or nothing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from probe_rnn.attribution.targets import attribution_target, continuation_loglik
from probe_rnn.errors import ConfigError, NoTargetError
from probe_rnn.models.feeding import Feeding


def _bundle(kind: str, texts: int = 1) -> SimpleNamespace:
    return SimpleNamespace(output_kind=kind, model=torch.nn.GRU(1, 1),
                           adapter=SimpleNamespace(feeding=Feeding(texts=texts)))


def test_each_kind_has_its_own_default_target() -> None:
    assert attribution_target(_bundle("logits"), None) == "prediction"
    assert attribution_target(_bundle("logits"), "label") == "label"
    assert attribution_target(_bundle("step-logits"), None) == "continuation"
    for kind, texts in (("states", 1), ("score", 2), ("step-logits", 2)):
        with pytest.raises(NoTargetError, match="attribution skipped"):
            attribution_target(_bundle(kind, texts), None)
    with pytest.raises(ConfigError, match="its target is target=continuation"):
        attribution_target(_bundle("step-logits"), "prediction")


def test_the_continuation_is_the_summed_log_probability_of_each_next_token() -> None:
    torch.manual_seed(1)
    logits = torch.randn(2, 4, 6)
    ids = torch.tensor([[1, 5, 2, 3], [4, 2, 0, 0]])
    lengths = torch.tensor([4, 2])
    got = continuation_loglik(logits, ids, lengths)
    logp = torch.log_softmax(logits, -1)
    for row in range(2):
        want = sum(float(logp[row, t, ids[row, t + 1]]) for t in range(int(lengths[row]) - 1))
        assert got.shape == (2, 1) and abs(float(got[row, 0]) - want) < 1e-5


def test_a_model_with_two_recurrent_modules_is_skipped_with_their_names() -> None:
    bundle = _bundle("logits")
    bundle.model = torch.nn.ModuleDict({"enc": torch.nn.GRU(1, 1), "dec": torch.nn.LSTM(1, 1)})
    with pytest.raises(NoTargetError, match=r"has 2 \(enc, dec\)"):
        attribution_target(bundle, None)
