"""The encoder–decoder setting: a decoder started from zeros reconstructs worse than from h_n;
its targets and initial state against the encoder's own LSTM."""

from __future__ import annotations

import pandas as pd
import torch

from probe_rnn.models.config import Architecture, TrainBudget
from probe_rnn.studies import compare_readouts
from probe_rnn.studies.autoencode import Autoencoder
from probe_rnn.studies.encoders import build_encoder, prepare

ARCH = dict(rnn="lstm", layers=1, hidden=32, embedding_dim=16, bidirectional=False, packed=True)


def test_a_decoder_started_from_zeros_reconstructs_worse_than_from_h_n(first_letter) -> None:
    study = compare_readouts(first_letter, Architecture(**ARCH), TrainBudget(epochs=8, lr=1e-2),
                             objective="autoencode", readouts=["hidden", "zero"], seeds=2,
                             jobs=1, probe=False, tokenizer="char")
    runs = study.runs.set_index(["readout", "seed"])
    for seed in (0, 1):
        hidden, zero = runs.loc[("hidden", seed)], runs.loc[("zero", seed)]
        # random strings: without the sentence the decoder can only guess letters (~1/6)
        assert zero["test_token_accuracy"] < 0.4
        assert hidden["test_token_accuracy"] > zero["test_token_accuracy"] + 0.2
        assert hidden["test_perplexity"] < zero["test_perplexity"]
    assert study.settings["metric"] == "test_token_accuracy"
    assert set(study.pairs["readout_a"]) | set(study.pairs["readout_b"]) == {"hidden", "zero"}


def test_decoder_targets_and_initial_state_from_every_layer() -> None:
    df = pd.DataFrame({"text": ["abc", "ba", "cab", "a"] * 5, "label": ["p", "q"] * 10})
    prepared = prepare(df, "char", 0)
    arch = Architecture(**dict(ARCH, layers=2, hidden=4, bidirectional=True))
    ids = torch.tensor([[2, 3, 4], [3, 2, 0]])
    lengths = torch.tensor([3, 2])
    torch.manual_seed(0)
    model = Autoencoder(build_encoder(prepared, "hidden", arch), "hidden").eval()
    v = model.vocab
    assert model.targets(ids, lengths).tolist() == [[2, 3, 4, v], [3, 2, v, -100]]
    # reference: the encoder's own nn.LSTM on each row alone, h_n of layer l = [fwd, bwd]
    with torch.no_grad():
        h0 = model.initial_state(ids, lengths)
        for row in range(2):
            emb = model.encoder.embedding(ids[row:row + 1, : lengths[row]])
            _, (h_n, _) = model.encoder.rnn(emb)
            for layer in range(2):
                both = torch.cat([h_n[2 * layer, 0], h_n[2 * layer + 1, 0]])
                torch.testing.assert_close(h0[layer, row], model.bridge(both))
    last = Autoencoder(build_encoder(prepared, "last", arch), "last").eval()
    with torch.no_grad():
        state = last.initial_state(ids, lengths)
        output, _ = last.encoder.rnn(last.encoder.embedding(ids[1:, :2]))
        torch.testing.assert_close(state[0], state[1])  # one vector for every layer
        torch.testing.assert_close(state[0, 1], last.bridge(output[0, 1]))
    zero = Autoencoder(build_encoder(prepared, "zero", arch), "zero")
    assert not zero.initial_state(ids, lengths).any()
