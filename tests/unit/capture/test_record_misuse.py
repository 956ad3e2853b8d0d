"""Misusing ``record()`` gets a CaptureError in words, never a bare AttributeError or PyTorch's
hook error: one record object entered twice (after or inside its block), a TorchScript model
(scripted or traced) and a TorchScript submodule; and the object still records when used
right. A state store whose manifest lists no views is a StoreError, not a KeyError."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from probe_rnn.capture import record
from probe_rnn.capture.store import MANIFEST, STORE_FORMAT, StateStore
from probe_rnn.errors import CaptureError, StoreError


def _lstm() -> tuple[nn.LSTM, torch.Tensor]:
    torch.manual_seed(0)
    return nn.LSTM(3, 4, batch_first=True).eval(), torch.randn(2, 5, 3)


def test_one_record_object_is_entered_once() -> None:
    lstm, x = _lstm()
    block = record(lstm)
    with block as rec:
        out, _ = lstm(x)
    torch.testing.assert_close(rec[""].output, out)  # it recorded the module's own output
    with pytest.raises(CaptureError, match=r"already entered \(finished\).*record\(model\)"):
        with block:
            lstm(x)
    nested = record(lstm)
    with pytest.raises(CaptureError, match=r"already entered \(in use\)"):
        with nested, nested:
            lstm(x)
    assert "_probe_rnn_recording" not in lstm.__dict__  # the outer block still cleaned up
    assert "forward" not in lstm.__dict__


@pytest.mark.parametrize("make", ["script", "trace"])
def test_a_torchscript_model_is_refused_in_words(make: str) -> None:
    lstm, x = _lstm()
    scripted = torch.jit.script(lstm) if make == "script" else torch.jit.trace(lstm, x)
    with pytest.raises(CaptureError, match=r"the model is a TorchScript module .* record the "
                                           r"eager nn.Module"):
        with record(scripted):
            scripted(x)


def test_a_torchscript_submodule_is_refused_by_name() -> None:
    lstm, x = _lstm()

    class Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = torch.jit.script(lstm)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.rnn(x)[0]

    model = Wrapper()
    for modules in (None, ["rnn"]):
        with pytest.raises(CaptureError, match=r"module 'rnn' is a TorchScript module"):
            with record(model, modules=modules):
                model(x)


def test_a_manifest_without_views_is_a_store_error(tmp_path) -> None:
    folder = tmp_path / "states"
    folder.mkdir()

    for views in (None, {"output@last": {"kind": "sentence"}}):
        manifest = {"format": STORE_FORMAT, "format_version": 1}
        if views is not None:
            manifest["views"] = views
        (folder / MANIFEST).write_text(json.dumps(manifest))
        with pytest.raises(StoreError, match=r"lists no views .* re-run `probe-rnn capture`"):
            StateStore(folder)
