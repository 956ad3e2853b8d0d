"""``record`` as a context manager: names, hooks, cleanup, verification, cells, plain modules."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from probe_rnn.capture import cell_equations, exact_forward, loop_route, record
from probe_rnn.errors import CaptureError, CaptureMismatchError, ConfigError, ParameterError


class Tagger(nn.Module):
    def __init__(self, rnn: str = "lstm", dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(10, 4, padding_idx=0)
        cls = {"lstm": nn.LSTM, "gru": nn.GRU}[rnn]
        self.rnn = cls(4, 5, num_layers=2, batch_first=True, dropout=dropout,
                       bidirectional=True)
        self.head = nn.Linear(10, 3)

    def forward(self, ids, lengths):
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True,
                                      enforce_sorted=False)
        _, h = self.rnn(packed)
        h_n = h[0] if isinstance(h, tuple) else h
        return self.head(torch.cat([h_n[-2], h_n[-1]], 1))


@pytest.fixture
def batch():
    torch.manual_seed(0)
    return torch.randint(1, 10, (3, 6)), torch.tensor([6, 2, 4])


def _clean(model: nn.Module) -> bool:
    return all(
        "forward" not in m.__dict__ and not m._forward_hooks and not m._forward_pre_hooks
        and "_probe_rnn_recording" not in m.__dict__
        for m in model.modules()
    )


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
    assert _clean(model)


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
    assert _clean(model)


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
    assert _clean(model)
    with record(model, modules=["embedding", "rnn"]):
        model(*batch)
    assert _clean(model)
    assert type(model.rnn).forward is nn.LSTM.forward


def test_cleanup_after_forward_raises(batch):
    model = Tagger().eval()
    with pytest.raises(RuntimeError):
        with torch.no_grad(), record(model):
            model.rnn(torch.randn(2, 3, 7))  # wrong input size: the kernel raises
    assert _clean(model)


def test_nested_record_of_same_module_is_refused(batch):
    model = Tagger().eval()
    with record(model):
        with pytest.raises(CaptureError, match="already being recorded"):
            with record(model, modules=["rnn"]):
                pass
        assert "forward" in model.rnn.__dict__
    assert _clean(model)


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
    assert _clean(model)
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


def _perturb_gates(monkeypatch, by: float = 1e-2):
    real = cell_equations.gate_preactivations

    def wrong(x, h_prev, weights):
        gi, gh = real(x, h_prev, weights)
        return gi + by, gh

    monkeypatch.setattr(cell_equations, "gate_preactivations", wrong)


def _corrupt_weight_after_loop(monkeypatch, model):
    """Change a weight between the LSTM loop's recomputation and the kernel's check."""
    real = exact_forward.lstm_loop

    def loop_then_corrupt(*args, **kwargs):
        result = real(*args, **kwargs)
        model.rnn.weight_hh_l0.add_(1e-2)
        return result

    monkeypatch.setattr(exact_forward, "lstm_loop", loop_then_corrupt)


def test_mismatch_is_detected_lstm_loop(monkeypatch, batch):
    model = Tagger("lstm").eval()
    _corrupt_weight_after_loop(monkeypatch, model)
    with pytest.raises(CaptureMismatchError, match=r"'rnn'.*max \|difference\| .* > tolerance"):
        with torch.no_grad(), record(model):
            model(*batch)
    assert _clean(model)


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
def test_mismatch_is_detected_kernel_route(monkeypatch, batch, rnn):
    model = Tagger(rnn).eval()
    _perturb_gates(monkeypatch)
    with pytest.raises(CaptureMismatchError, match=r"'rnn'.*max \|difference\| .* > tolerance"):
        with record(model):  # autograd on: an LSTM takes the kernel route
            model(*batch)
    assert _clean(model)


def test_verify_first_checks_only_the_first_call(monkeypatch, batch):
    model = Tagger("gru").eval()
    with torch.no_grad(), record(model, verify="first") as rec:
        model(*batch)
        _perturb_gates(monkeypatch)
        model(*batch)  # not checked, by contract
        assert [c.verified for c in rec.calls("rnn")] == [True, False]
    monkeypatch.undo()
    with torch.no_grad(), record(model, verify="every"):
        model(*batch)
        _perturb_gates(monkeypatch)
        with pytest.raises(CaptureMismatchError):
            model(*batch)


def test_verify_every_checks_later_lstm_calls(monkeypatch, batch):
    model = Tagger("lstm").eval()
    with torch.no_grad(), record(model, verify="every") as rec:
        model(*batch)
        model(*batch)
        assert [c.verified for c in rec.calls("rnn")] == [True, True]
        _corrupt_weight_after_loop(monkeypatch, model)
        with pytest.raises(CaptureMismatchError, match="tolerance"):
            model(*batch)


def test_tolerance_is_honoured(monkeypatch, batch):
    model = Tagger("gru").eval()
    _perturb_gates(monkeypatch, by=1e-6)
    with torch.no_grad(), record(model):  # within the float32 default
        model(*batch)
    with pytest.raises(CaptureMismatchError, match="tolerance 0"):
        with torch.no_grad(), record(model, tolerance=0.0):
            model(*batch)


def test_every_mode_catches_one_corrupted_state(monkeypatch, batch):
    model = Tagger("lstm").eval()
    real = loop_route._direction

    def corrupt(xw, weights, layout, h0, c0, h_out, c_out, reverse, *rest):
        real(xw, weights, layout, h0, c0, h_out, c_out, reverse, *rest)
        if reverse:
            h_out[1] += 1e-3  # one state of one step of one row

    with torch.no_grad(), record(model, verify="every") as rec:
        model(*batch)
        monkeypatch.setattr(loop_route, "_direction", corrupt)
        with pytest.raises(CaptureMismatchError, match=r"h L\d/bwd"):
            model(*batch)
        assert len(rec.calls("rnn")) == 1


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
    assert _clean(model)


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
