"""The checks of recomputed states (``probe_rnn.capture.verify``): a wrong gate, weight or
single state is caught on either route, ``verify="first"``/``"every"`` check what they promise,
the tolerance is honoured; and the tolerance and difference helpers against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from probe_rnn.capture import cell_equations, exact_forward, loop_route, record
from probe_rnn.capture.verify import default_tolerance, diff, raise_on_mismatch
from probe_rnn.errors import CaptureMismatchError
from tests.unit.capture.recording_support import Tagger, clean, tagger_batch


@pytest.fixture
def batch():
    return tagger_batch()


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
    assert clean(model)


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
def test_mismatch_is_detected_kernel_route(monkeypatch, batch, rnn):
    model = Tagger(rnn).eval()
    _perturb_gates(monkeypatch)
    with pytest.raises(CaptureMismatchError, match=r"'rnn'.*max \|difference\| .* > tolerance"):
        with record(model):  # autograd on: an LSTM takes the kernel route
            model(*batch)
    assert clean(model)


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


# -- the helpers -------------------------------------------------------------------------------
def test_diff_scales_the_tolerance_by_the_reference_magnitude() -> None:
    ref = torch.tensor([[0.5, -4.0], [2.0, 1.0]])
    got = ref + torch.tensor([[0.0, 3e-4], [-1e-4, 0.0]])
    what, worst, allowed = diff("h L0/fwd", got, ref, 5e-5)
    assert what == "h L0/fwd"
    assert worst == pytest.approx(3e-4, rel=1e-3)  # max |got - ref|, by hand
    assert allowed == pytest.approx(5e-5 * 4.0)  # tol x max(1, max |ref|)
    small = torch.tensor([0.1, -0.2])
    assert diff("c", small, small, 1e-6) == ("c", 0.0, 1e-6)  # magnitude below 1: absolute
    assert diff("e", torch.zeros(0), torch.zeros(0), 1e-6) == ("e", 0.0, 1e-6)


def test_default_tolerance_follows_the_dtype_precision() -> None:
    tols = [default_tolerance(d) for d in (torch.float64, torch.float32, torch.bfloat16)]
    assert tols == sorted(tols)  # coarser dtype, larger tolerance
    for dtype, tol in zip((torch.float64, torch.float32, torch.bfloat16), tols, strict=True):
        assert tol > torch.finfo(dtype).eps  # never below one rounding of the dtype


def test_raise_on_mismatch_names_the_worst_excess_and_a_non_finite_state() -> None:
    raise_on_mismatch("rnn", [("h L0/fwd", 1e-5, 5e-5), ("c L0/fwd", 0.0, 5e-5)], None)
    report = [("h L0/fwd", 2e-4, 5e-5), ("c L1/bwd", 1e-3, 5e-4), ("h L1/fwd", 3e-4, 5e-5)]
    # excesses over the allowance: 1.5e-4, 5e-4, 2.5e-4 -> c L1/bwd is the worst
    with pytest.raises(CaptureMismatchError, match=r"'rnn' fail the check at c L1/bwd"):
        raise_on_mismatch("rnn", report, None)
    with pytest.raises(CaptureMismatchError, match=r"at h L0/fwd.*tolerance 0"):
        raise_on_mismatch("rnn", [("h L0/fwd", 1e-9, 1.0)], 0.0)  # tolerance overrides
    with pytest.raises(CaptureMismatchError, match=r"not finite at h L0/fwd"):
        raise_on_mismatch("rnn", [("h L0/fwd", math.nan, 5e-5)], None)


def _flaky(monkeypatch, model, bad_calls):
    """Make the module's own forward (the fused call the kernel check compares with) return
    h_n off by 1e-3 on the calls numbered in ``bad_calls``."""
    cls = type(model.rnn)
    real = cls.forward
    seen = []

    def forward(self, input, hx=None):
        out, h = real(self, input, hx)
        seen.append(1)
        if len(seen) in bad_calls:
            h = (h[0] + 1e-3, h[1]) if isinstance(h, tuple) else h + 1e-3
        return out, h

    monkeypatch.setattr(cls, "forward", forward)
    return seen


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
def test_a_kernel_check_off_once_is_checked_again(monkeypatch, batch, rnn):
    """Once off (the kernel's rounding under load): compared again and recorded from the
    second call; off every time (not the standard forward): refused."""
    model = Tagger(rnn).eval()
    seen = _flaky(monkeypatch, model, {1})
    with torch.no_grad(), record(model) as rec:
        model(*batch)
    assert len(seen) == 2
    assert max(rec.calls("rnn")[0].fused_check.values()) <= default_tolerance(torch.float32)
    monkeypatch.undo()
    model = Tagger(rnn).eval()
    seen = _flaky(monkeypatch, model, {1, 2, 3})
    with pytest.raises(CaptureMismatchError, match=r"'rnn' fail the check at h_n"):
        with torch.no_grad(), record(model):
            model(*batch)
    assert len(seen) == 2
