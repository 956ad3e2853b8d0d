"""The CLI prints data as data: labels, paths and docstrings holding "[...]" are not Rich markup,
and a long path is printed whole whatever the terminal width."""

from __future__ import annotations

import pytest
import torch

from probe_rnn.commands.common import say
from probe_rnn.commands.output import print_model_card
from probe_rnn.models.bundle import describe_recurrent


def _card(source: str, labels: list[str]) -> dict:
    model = torch.nn.LSTM(3, 4, num_layers=1)
    return {
        "source": source, "checksum": "0" * 64, "format": "probe-rnn", "config": {"cell": "lstm"},
        "labels": labels, "tokenizer": {"kind": "char", "vocab_size": 7}, "adapter": "Adapter",
        "meta": {"classes": labels}, "recurrent_modules": describe_recurrent(model),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def test_model_card_prints_brackets_and_long_paths_verbatim(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    source = "/data/[run 3]/" + "very-long-directory-name/" * 4 + "model.pt"
    print_model_card(_card(source, ["[neg]", "[pos]"]))
    out = capsys.readouterr().out
    assert source in out.splitlines()[0]  # one line, not wrapped at 40 columns
    assert "labels (2): [neg], [pos]" in out


def test_say_prints_brackets_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    say("[3/7] probing [bold]x[/bold]")
    assert "[3/7] probing [bold]x[/bold]" in capsys.readouterr().err


def test_plugin_summaries_are_plain_text() -> None:
    from probe_rnn.commands.output import plain_summary

    doc = """Wraps :class:`~probe_rnn.models.RNNClassifier` with ``C`` tuned
    on *held-out* rows, see :func:`fit`.

    Second paragraph, not shown.
    """
    assert plain_summary(doc) == ("Wraps RNNClassifier with C tuned on held-out rows, see fit.")
    assert plain_summary(None) == ""
    assert plain_summary("softmax(-d² / (t · dim)) * 2") == "softmax(-d² / (t · dim)) * 2"


def test_the_plugins_command_prints_no_markup() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "probe_rnn", "plugins"], capture_output=True,
                         text=True, env={"COLUMNS": "200", "PATH": ""}, timeout=120).stdout
    assert "logistic" in out and "``" not in out and ":class:" not in out
