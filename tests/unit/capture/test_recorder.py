"""``record`` as a context manager: names, hooks, cleanup, cells, plain modules, misuse (one
record object entered twice, TorchScript models and submodules). Verification: test_verify.py."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from probe_rnn.capture import record
from probe_rnn.errors import CaptureError, ConfigError, ParameterError
from tests.unit.capture.recording_support import Tagger, clean, tagger_batch


@pytest.fixture
def batch():
    return tagger_batch()



def test_records_recurrent_and_plain_modules(batch):
    model = Tagger().eval()
    with torch.no_grad():
        logits = model(*batch)
        with record(model, modules=["embedding", "rnn", "head"]) as rec:
            got = model(*batch)
    assert torch.equal(got, logits)
    assert rec.names == ["embedding", "rnn", "head"]
    torch.testing.assert_close(rec["embedding"], model.embedding(batch[0]))
    assert torch.equal(rec["head"], logits)
    assert rec["rnn"].hidden.shape == (3, 6, 2, 2, 5)
    assert clean(model)


def test_default_records_every_recurrent_module(batch):
    model = Tagger().eval()
    with torch.no_grad(), record(model) as rec:
        model(*batch)
    assert rec.names == ["rnn"]
    assert "rnn" in rec and "head" not in rec


def test_unknown_name_raises_before_any_hook(batch):
    model = Tagger().eval()
    with pytest.raises(CaptureError, match=r"unknown module name.*'nope'.*valid names.*'rnn'"):
        with record(model, modules=["rnn", "nope"]):
            pytest.fail("block must not run")
    assert clean(model)


def test_invalid_verify_is_a_config_error():
    with pytest.raises(ParameterError) as refused:
        with record(Tagger(), verify="sometimes"):
            pass
    assert refused.value.parameter == "verify" and isinstance(refused.value, ConfigError)


def test_model_without_recurrent_module():
    with pytest.raises(CaptureError, match="no nn.RNN/GRU/LSTM"):
        with record(nn.Sequential(nn.Linear(2, 2))):
            pass


def test_cleanup_after_exception_and_normal_exit(batch):
    model = Tagger().eval()
    with pytest.raises(ZeroDivisionError):
        with record(model, modules=["embedding", "rnn"]):
            model(*batch)
            1 / 0  # noqa: B018
    assert clean(model)
    with record(model, modules=["embedding", "rnn"]):
        model(*batch)
    assert clean(model)
    assert type(model.rnn).forward is nn.LSTM.forward


def test_cleanup_after_forward_raises(batch):
    model = Tagger().eval()
    with pytest.raises(RuntimeError):
        with torch.no_grad(), record(model):
            model.rnn(torch.randn(2, 3, 7))  # wrong input size: the kernel raises
    assert clean(model)


def test_nested_record_of_same_module_is_refused(batch):
    model = Tagger().eval()
    with record(model):
        with pytest.raises(CaptureError, match="already being recorded"):
            with record(model, modules=["rnn"]):
                pass
        assert "forward" in model.rnn.__dict__
    assert clean(model)


def test_not_called_module_raises(batch):
    model = Tagger().eval()
    with record(model, modules=["rnn"]) as rec:
        pass
    with pytest.raises(CaptureError, match="was not called"):
        rec["rnn"]
    with pytest.raises(CaptureError, match="was not recorded"):
        rec["head"]


def test_training_with_dropout_raises_and_eval_works(batch):
    model = Tagger(dropout=0.5).train()
    with pytest.raises(CaptureError, match=r"model\.eval\(\)"):
        with record(model):
            model(*batch)
    assert clean(model)
    model.eval()
    with torch.no_grad(), record(model) as rec:
        model(*batch)
    assert rec["rnn"].verified


def test_repeated_calls_and_clear(batch):
    model = Tagger().eval()
    with torch.no_grad(), record(model) as rec:
        model(*batch)
        model(batch[0][:2], batch[1][:2])
        assert len(rec.calls("rnn")) == 2
        assert rec["rnn"].batch == 2  # last call
        rec.clear()
        assert rec.calls("rnn") == []
        model(*batch)
    assert [c.verified for c in rec.calls("rnn")] == [False]  # "first" was already checked


class CellLooper(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.cell = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn": nn.RNNCell}[kind](3, 4)
        self.kind = kind

    def forward(self, x):  # x: (batch, time, 3)
        state = None
        outs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outs.append(state)
        return outs


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_cells_looped_by_the_model(kind):
    torch.manual_seed(5)
    model = CellLooper(kind)
    x = torch.randn(2, 5, 3)
    with torch.no_grad(), record(model) as rec:
        outs = model(x)
    st = rec["cell"]
    hs = torch.stack([o[0] if kind == "lstm" else o for o in outs], 1)
    assert st.hidden.shape == (2, 5, 1, 1, 4)
    assert torch.equal(st.hidden[:, :, 0, 0], hs)
    assert st.lengths.tolist() == [5, 5]
    assert torch.equal(st.h_n[0], hs[:, -1])
    if kind == "lstm":
        cs = torch.stack([o[1] for o in outs], 1)
        assert torch.equal(st.cell[:, :, 0, 0], cs)
        assert torch.equal(st.c_n[0], cs[:, -1])
    else:
        assert st.cell is None
    assert st.kind == f"{kind}-cell"
    assert len(rec.calls("cell")) == 5


class OddLSTM(nn.LSTM):
    def forward(self, input, hx=None):
        return super().forward(input * 2, hx)


def test_module_with_overridden_forward_is_refused():
    model = nn.Sequential()
    model.add_module("rnn", OddLSTM(3, 4))
    with pytest.raises(CaptureError, match="overrides forward"):
        with record(model):
            pass
    assert clean(model)


@pytest.mark.parametrize("rnn", ["lstm", "gru", "rnn-relu"])
def test_our_classifier_logits_unchanged(rnn):
    from probe_rnn.models import ModelConfig, RNNClassifier

    torch.manual_seed(6)
    config = ModelConfig(vocab_size=20, n_labels=3, rnn=rnn, embedding_dim=8, hidden=6,
                         layers=2, bidirectional=True)
    model = RNNClassifier(config).eval()
    ids = torch.randint(2, 20, (4, 7))
    lengths = torch.tensor([7, 3, 5, 1])
    ids[torch.arange(7)[None] >= lengths[:, None]] = 0
    with torch.no_grad():
        logits = model(ids, lengths)
        with record(model, verify="every") as rec:
            calls = [model(ids, lengths) for _ in range(2)]
    assert all(torch.equal(c, logits) for c in calls)
    st = rec["rnn"]
    assert st.lengths.tolist() == [7, 3, 5, 1] and st.verified


# -- misuse: a CaptureError in words, never AttributeError or PyTorch's hook error ----------
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


def test_the_recorder_notes_every_call_in_execution_order_until_cleared() -> None:
    model = nn.ModuleDict({"a": nn.GRU(3, 4), "b": nn.LSTM(4, 2)}).eval()
    x = torch.randn(5, 2, 3)
    with record(model) as rec:
        out, _ = model["a"](x)
        model["b"](out)
        model["a"](x)
        assert rec.order == ["a", "b", "a"] and len(rec.calls("a")) == 2
        rec.clear()
        assert rec.order == []
        model["b"](out)
        assert rec.order == ["b"]
