"""What attribution explains per kind of model: class logit, continuation, or nothing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from probe_rnn.attribution.targets import attribution_target, continuation_loglik, text_target
from probe_rnn.errors import AttributionError, ConfigError, NoTargetError
from probe_rnn.models.feeding import Feeding
from probe_rnn.models.outputs import ModelOutput


def _bundle(kind: str, texts: int = 1) -> SimpleNamespace:
    return SimpleNamespace(output_kind=kind, model=torch.nn.GRU(1, 1),
                           adapter=SimpleNamespace(feeding=Feeding(texts=texts)))


def test_each_kind_has_its_own_default_target() -> None:
    assert attribution_target(_bundle("logits"), None) == "prediction"
    assert attribution_target(_bundle("logits"), "label") == "label"
    assert attribution_target(_bundle("step-logits"), None) == "continuation"
    assert attribution_target(_bundle("score", 2), None) == "score"
    assert attribution_target(_bundle("step-logits", 2), None) == "continuation"
    assert attribution_target(_bundle("logits", 2), "label") == "label"
    with pytest.raises(NoTargetError, match="attribution skipped: GRU is an encoder"):
        attribution_target(_bundle("states"), None)
    with pytest.raises(ConfigError, match="its target is target=continuation"):
        attribution_target(_bundle("step-logits"), "prediction")
    with pytest.raises(ConfigError, match="target=continuation does not apply.*target=score"):
        attribution_target(_bundle("score", 2), "continuation")
    with pytest.raises(ConfigError, match="target=score does not apply"):
        attribution_target(_bundle("logits"), "score")


def test_two_texts_fed_by_a_collate_function_are_skipped_with_a_note() -> None:
    class TwoLSTMs(torch.nn.Module):  # a Manhattan LSTM: one LSTM per text
        def __init__(self) -> None:
            super().__init__()
            self.lstm_1, self.lstm_2 = torch.nn.LSTM(1, 1), torch.nn.LSTM(1, 1)

    for kind in ("score", "logits"):
        for model in (torch.nn.GRU(1, 1), TwoLSTMs()):  # the two texts are the reason said
            bundle = SimpleNamespace(output_kind=kind, model=model,
                                     adapter=SimpleNamespace(texts=2))
            with pytest.raises(NoTargetError, match="fed two texts by a collate function"):
                attribution_target(bundle, None)


def test_a_two_text_model_may_have_two_recurrent_modules() -> None:
    bundle = _bundle("step-logits", 2)
    bundle.model = torch.nn.ModuleDict({"enc": torch.nn.GRU(1, 1), "dec": torch.nn.GRU(1, 1)})
    assert attribution_target(bundle, None) == "continuation"


def test_the_text_target_is_the_score_or_the_targets_log_likelihood() -> None:
    score = ModelOutput("score", torch.tensor([0.5, -0.25]))
    lengths_2, ids_2 = torch.tensor([3, 2]), torch.tensor([[1, 2, 3], [3, 1, 0]])
    assert torch.equal(text_target(score, "score", lengths_2, ids_2),
                       torch.tensor([[0.5], [-0.25]]))
    torch.manual_seed(0)
    steps = torch.randn(2, 3, 4)
    steps[:, 0] = 0  # the decoder loop's unwritten outputs[0]: step k scores token k
    got = text_target(ModelOutput("step-logits", steps), "continuation", lengths_2, ids_2)
    logp = torch.log_softmax(steps, -1)
    want = [float(logp[0, 1, 2] + logp[0, 2, 3]), float(logp[1, 1, 1])]
    assert torch.allclose(got[:, 0], torch.tensor(want))
    with pytest.raises(AttributionError, match="returned states"):
        text_target(ModelOutput("states", steps), "score", lengths_2, ids_2)


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
