"""RNNClassifier: shapes for every cell x readout x direction, readouts against row-by-row runs."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
import torch
from torch import nn

from probe_rnn.errors import DataError
from probe_rnn.models import READOUTS, RNN_TYPES, ModelConfig, RNNClassifier

TEXTS = ["abcdef", "ab", "hello", "x", "zebra"]


def _model(tokenizer, **overrides) -> RNNClassifier:
    torch.manual_seed(0)
    settings = dict(vocab_size=len(tokenizer), n_labels=3, embedding_dim=4, hidden=5, layers=2)
    settings.update(overrides)
    return RNNClassifier(ModelConfig(**settings)).eval()


@pytest.mark.parametrize(
    ("rnn", "readout", "bidirectional"), list(itertools.product(RNN_TYPES, READOUTS, (False, True)))
)
def test_forward_shapes(tokenizer, rnn: str, readout: str, bidirectional: bool) -> None:
    model = _model(tokenizer, rnn=rnn, readout=readout, bidirectional=bidirectional)
    ids, lengths = tokenizer.encode_batch(TEXTS)
    directions = 2 if bidirectional else 1
    with torch.no_grad():
        assert model.features(ids, lengths).shape == (len(TEXTS), 5 * directions)
        logits = model(ids, lengths)
    assert logits.shape == (len(TEXTS), 3)
    assert torch.isfinite(logits).all()
    expected = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN, "rnn-relu": nn.RNN}[rnn]
    assert type(model.rnn) is expected
    assert model.rnn.batch_first and model.rnn.num_layers == 2
    assert model.embedding.padding_idx == 0


def _row_alone(model: RNNClassifier, ids: torch.Tensor, lengths: torch.Tensor):
    """Reference: run the recurrent module on each row alone, unpadded."""
    outputs, finals = [], []
    for b in range(ids.shape[0]):
        emb = model.embedding(ids[b : b + 1, : int(lengths[b])])
        out, state = model.rnn(emb)
        h_n = state[0] if isinstance(state, tuple) else state
        outputs.append(out[0])
        finals.append(h_n[:, 0])  # (layers * directions, hidden)
    return outputs, finals


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_readouts_match_row_by_row_reference(tokenizer, rnn: str, bidirectional: bool) -> None:
    ids, lengths = tokenizer.encode_batch(TEXTS)
    model = _model(tokenizer, rnn=rnn, bidirectional=bidirectional)
    with torch.no_grad():
        outputs, finals = _row_alone(model, ids, lengths)
        directions = 2 if bidirectional else 1
        expected = {
            "last": torch.stack([o[-1] for o in outputs]),
            "mean": torch.stack([o.mean(dim=0) for o in outputs]),
            "max": torch.stack([o.max(dim=0).values for o in outputs]),
            "hidden": torch.stack([h[-directions:].reshape(-1) for h in finals]),
        }
        for readout, reference in expected.items():
            model.config = replace(model.config, readout=readout)
            torch.testing.assert_close(model.features(ids, lengths), reference)


def test_hidden_forward_half_equals_last_forward_half_but_backward_differs(tokenizer) -> None:
    ids, lengths = tokenizer.encode_batch(TEXTS)
    model = _model(tokenizer, bidirectional=True)
    with torch.no_grad():
        model.config = replace(model.config, readout="last")
        last = model.features(ids, lengths)
        model.config = replace(model.config, readout="hidden")
        hidden = model.features(ids, lengths)
    torch.testing.assert_close(last[:, :5], hidden[:, :5])
    long_rows = lengths > 1
    assert not torch.allclose(last[long_rows, 5:], hidden[long_rows, 5:])


def test_last_equals_manual_gather_from_padded_lstm(tokenizer) -> None:
    ids, lengths = tokenizer.encode_batch(TEXTS)
    model = _model(tokenizer, readout="last", packed=False)
    with torch.no_grad():
        out, _ = model.rnn(model.embedding(ids))
        manual = torch.stack([out[b, int(lengths[b]) - 1] for b in range(len(TEXTS))])
        torch.testing.assert_close(model.features(ids, lengths), manual)


@pytest.mark.parametrize("packed", [True, False])
def test_naive_last_reads_last_padded_column(tokenizer, packed: bool) -> None:
    ids, lengths = tokenizer.encode_batch(TEXTS)
    model = _model(tokenizer, readout="naive-last", packed=packed)
    with torch.no_grad():
        if packed:
            seqs = nn.utils.rnn.pack_padded_sequence(
                model.embedding(ids), lengths, batch_first=True, enforce_sorted=False
            )
            out, _ = nn.utils.rnn.pad_packed_sequence(model.rnn(seqs)[0], batch_first=True)
        else:
            out, _ = model.rnn(model.embedding(ids))
        features = model.features(ids, lengths)
    torch.testing.assert_close(features, out[:, -1])
    short = lengths < ids.shape[1]
    if packed:  # short rows read zero padding: the classic bug
        assert torch.all(features[short] == 0)


def test_packed_and_padded_agree_on_full_length_rows(tokenizer) -> None:
    ids, lengths = tokenizer.encode_batch(TEXTS)
    full = lengths == ids.shape[1]
    assert full.any() and (~full).any()
    results = {}
    for readout in READOUTS:
        packed = _model(tokenizer, bidirectional=True, readout=readout, packed=True)
        padded = _model(tokenizer, bidirectional=True, readout=readout, packed=False)
        padded.load_state_dict(packed.state_dict())
        with torch.no_grad():
            results[readout] = packed(ids, lengths), padded(ids, lengths)
        torch.testing.assert_close(results[readout][0][full], results[readout][1][full])
    # the backward direction of a padded run reads padding first: short rows differ
    a, b = results["last"]
    assert not torch.allclose(a[~full], b[~full])


def test_bad_lengths_raise_data_error(tokenizer) -> None:
    ids, lengths = tokenizer.encode_batch(TEXTS)
    model = _model(tokenizer)
    with pytest.raises(DataError, match="lengths must lie in"):
        model(ids, torch.zeros_like(lengths))
    with pytest.raises(DataError, match="expects ids"):
        model(ids[0], lengths)
