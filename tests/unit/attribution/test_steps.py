"""Per-timestep state attribution: non-zero before the last step, checked against ablation,
and the naive fused-module way shown to fail or to see nothing before the last step."""

from __future__ import annotations

import pytest
import torch
from captum.attr import LayerIntegratedGradients
from torch import nn

from probe_rnn.attribution import find_parts, step_attributions
from tests.unit.attribution.attr_tiny import tiny_batch, tiny_model


def _ablated_by_hand(model, ids, lengths, target, t_replace):
    """F(x) with layer-0 h_t := 0 for a 1-layer unidirectional LSTM (readout last), written
    with nn.LSTMCell and the model's own head: independent of the twin."""
    cell = nn.LSTMCell(model.rnn.input_size, model.rnn.hidden_size)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in model.rnn.state_dict().items()})
    out = []
    with torch.no_grad():
        for b, n in enumerate(lengths.tolist()):
            h = c = torch.zeros(1, model.rnn.hidden_size)
            for t in range(n):
                h, c = cell(model.embedding(ids[b, t:t + 1]), (h, c))
                if t == t_replace:
                    h = torch.zeros_like(h)
            out.append(model.head(h)[0, target[b]])
    return torch.stack(out)


def test_ablation_check_against_hand_written_reference():
    model = tiny_model("lstm")
    ids, lengths = tiny_batch(lengths=(6, 6, 4))
    target = model(ids, lengths).argmax(1)
    res = step_attributions(find_parts(model), ids, lengths, target, n_steps=32)
    f_x = model(ids, lengths).gather(1, target[:, None]).squeeze(1).detach()
    hidden = res.frame[res.frame["state"] == "hidden"]
    for t in range(3):
        expect = f_x - _ablated_by_hand(model, ids, lengths, target, t)
        got = hidden[hidden["t"] == t].sort_values("row")
        assert torch.allclose(torch.tensor(got["ablation"].to_numpy()), expect, atol=1e-5)
        assert torch.allclose(torch.tensor(got["attribution"].to_numpy()), expect, atol=1e-3)
    assert float(res.frame["completeness_error"].max()) < 1e-2


@pytest.mark.parametrize("rnn,bi,packed", [("lstm", True, True), ("gru", True, False),
                                           ("lstm", False, False)])
def test_nonzero_before_last_step_and_complete(rnn, bi, packed, batch):
    model = tiny_model(rnn, layers=2, bidirectional=bi, packed=packed)
    ids, lengths = batch
    target = model(ids, lengths).argmax(1)
    res = step_attributions(find_parts(model), ids, lengths, target, n_steps=16)
    f = res.frame[res.frame["valid"]]
    early = f[(f["layer"] == 0) & (f["t_from_end"] > 0)]
    assert (early["attribution"].abs() > 1e-6).mean() > 0.9
    assert float(f["completeness_error"].max()) < 1e-2
    assert set(f["state"]) == ({"hidden", "cell"} if rnn == "lstm" else {"hidden"})
    shares = f.groupby(["row", "layer", "direction", "state"])["share"].sum()
    assert torch.allclose(torch.tensor(shares.to_numpy()), torch.ones(len(shares)), atol=1e-5)


def test_naive_layer_target_on_fused_lstm_fails_or_sees_nothing_early():
    """Why the twin exists. (1) Captum layer IG pointed at nn.LSTM itself fails: the module
    returns a tuple (output, (h_n, c_n)). (2) Wrapped so the tuple works (an identity tap on
    ``output``), it sees only what the fused kernel returns: the top layer's output. With a
    'last' readout, output[:, t] for t < T-1 feeds nothing (the kernel's recurrence uses its
    internal h, not the returned tensor), so every earlier step gets exactly 0, and lower
    layers and cell states are not visible at all. The twin's attribution is non-zero there."""
    model = tiny_model("lstm", layers=2, packed=False)
    ids, lengths = tiny_batch(lengths=(6, 6, 6))
    target = torch.tensor([0, 1, 2])
    base = torch.zeros_like(ids)
    with pytest.raises(AttributeError, match="tuple"):
        LayerIntegratedGradients(model, model.rnn).attribute(
            ids, baselines=base, additional_forward_args=(lengths,), target=target)

    tap = nn.Identity()
    handle = model.rnn.register_forward_hook(lambda _m, _a, out: (tap(out[0]), out[1]))
    try:
        naive = LayerIntegratedGradients(model, tap).attribute(
            ids, baselines=base, additional_forward_args=(lengths,), target=target)
    finally:
        handle.remove()
    per_step = naive.sum(-1)  # (batch, time)
    assert torch.equal(per_step[:, :-1], torch.zeros_like(per_step[:, :-1]))
    assert bool((per_step[:, -1] != 0).all())

    ours = step_attributions(find_parts(model), ids, lengths, target, n_steps=16).frame
    top = ours[(ours["layer"] == 1) & (ours["state"] == "hidden") & (ours["t_from_end"] > 0)]
    low = ours[(ours["layer"] == 0) & (ours["t_from_end"] > 0)]
    assert bool((top["attribution"].abs() > 1e-6).all())
    assert bool((low["attribution"].abs() > 1e-6).all())


def test_deterministic(batch):
    model = tiny_model("gru", layers=2, bidirectional=True)
    ids, lengths = batch
    target = torch.tensor([0, 1, 2, 0, 1])
    a = step_attributions(find_parts(model), ids, lengths, target, n_steps=8).frame
    b = step_attributions(find_parts(model), ids, lengths, target, n_steps=8,
                          internal_batch_size=64).frame
    assert a["attribution"].equals(step_attributions(find_parts(model), ids, lengths, target,
                                                     n_steps=8).frame["attribution"])
    assert torch.allclose(torch.tensor(a["attribution"].to_numpy()),
                          torch.tensor(b["attribution"].to_numpy()), atol=1e-6)


def test_progress_counts_every_chunk_of_taps(batch):
    """The per-step stage reports each chunk of taps it integrated (long rows take minutes), up
    to all of them; the runner counts those chunks as parts of its total."""
    model = tiny_model("gru", layers=2, bidirectional=True)
    ids, lengths = batch
    target = torch.tensor([0, 1, 2, 0, 1])
    seen: list[tuple[int, int]] = []
    result = step_attributions(find_parts(model), ids, lengths, target, n_steps=4,
                               internal_batch_size=16, progress=lambda d, t: seen.append((d, t)))
    taps = len(result.frame)
    chunks = -(-taps // 16)
    assert seen == [(k, chunks) for k in range(1, chunks + 1)] and chunks > 1
