"""``--vocab`` with a token listed twice (a JSON list or a JSON object): one line naming the
token and the fix, exit 2, before the checkpoint is used (the JSON list used to be accepted,
the token silently mapping to its last id)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from tests.integration.cli_support import assert_one_line_error, run_cli


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 3, padding_idx=0)
        self.rnn = nn.LSTM(3, 4, batch_first=True)
        self.head = nn.Linear(4, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(self.emb(ids))[1][0][-1])


@pytest.mark.parametrize("vocab", [json.dumps(["<pad>", "<unk>", "a", "b", "a"]),
                                   '{"<pad>": 0, "<unk>": 1, "a": 2, "b": 3, "a": 4}'])
def test_a_repeated_token_is_refused_naming_it(tmp_path, vocab):
    (tmp_path / "arch.py").write_text(
        "import torch\nfrom torch import nn\n\n\nclass Tiny(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.emb = nn.Embedding(5, 3, padding_idx=0)\n"
        "        self.rnn = nn.LSTM(3, 4, batch_first=True)\n"
        "        self.head = nn.Linear(4, 2)\n\n"
        "    def forward(self, ids):\n        return self.head(self.rnn(self.emb(ids))[1][0][-1])\n"
        "\n\ndef build():\n    return Tiny()\n")
    torch.manual_seed(0)
    torch.save(Tiny().state_dict(), tmp_path / "weights.pt")
    (tmp_path / "vocab.json").write_text(vocab)
    (tmp_path / "data.csv").write_text("text,label\na b,0\nb a,1\n" * 10)
    proc = run_cli("inspect", str(tmp_path / "weights.pt"), "--model",
                   f"{tmp_path / 'arch.py'}:build", "--vocab", str(tmp_path / "vocab.json"),
                   cwd=tmp_path)
    assert_one_line_error(proc, "'a' twice", "give each token once")
