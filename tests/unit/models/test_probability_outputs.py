"""A model that returns probabilities (its last module `nn.Sigmoid`, trained with `BCELoss`, or
`nn.Softmax`) has them turned back into logits, so probe-rnn's softmax gives the model's own
probabilities (with `(-z/2, z/2)` alone, every sigmoid output in (0, 1) would read as above 0.5)."""

from __future__ import annotations

import torch
from torch import nn

from probe_rnn.models.adapters import IdsAdapter


class Ends(nn.Module):
    def __init__(self, last: nn.Module, outputs: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(20, 4)
        self.lstm = nn.LSTM(4, 5, batch_first=True)
        self.fc = nn.Linear(5, outputs)
        self.last = last

    def forward(self, x):
        out = self.last(self.fc(self.lstm(self.embedding(x))[0]))
        return out.view(x.size(0), -1)[:, -1] if out.shape[-1] == 1 else out[:, -1], "hidden"


def _batch() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {"ids": torch.randint(1, 20, (6, 7)), "lengths": torch.full((6,), 7)}


def _probabilities(model: nn.Module, batch) -> torch.Tensor:
    logits = IdsAdapter(None).forward(model.eval(), batch)
    return torch.softmax(logits, dim=1)


def test_a_sigmoid_output_is_read_as_the_probability_of_the_second_class() -> None:
    torch.manual_seed(1)
    model, batch = Ends(nn.Sigmoid(), 1), _batch()
    with torch.no_grad():
        p = model(batch["ids"])[0]
        read = _probabilities(model, batch)
    torch.testing.assert_close(read[:, 1], p, atol=1e-6, rtol=0)
    assert ((read[:, 1] > 0.5) == (p > 0.5)).all()


def test_a_softmax_output_is_read_as_the_models_own_probabilities() -> None:
    torch.manual_seed(2)
    model, batch = Ends(nn.Softmax(dim=-1), 3), _batch()
    with torch.no_grad():
        read = _probabilities(model, batch)
        torch.testing.assert_close(read, model(batch["ids"])[0], atol=1e-6, rtol=0)


def test_a_logit_output_is_left_as_it_is() -> None:
    torch.manual_seed(3)
    model, batch = Ends(nn.Identity(), 1), _batch()
    with torch.no_grad():
        z = model(batch["ids"])[0]
        read = _probabilities(model, batch)
    torch.testing.assert_close(read[:, 1], torch.sigmoid(z), atol=1e-6, rtol=0)
