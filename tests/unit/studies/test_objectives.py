"""The encoder-decoder and siamese settings: known answers, the pieces against hand references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from probe_rnn.errors import ConfigError
from probe_rnn.models import load_model
from probe_rnn.models.config import Architecture, TrainBudget
from probe_rnn.studies import compare_readouts, parse_losses, parse_readouts
from probe_rnn.studies.autoencode import Autoencoder
from probe_rnn.studies.encoders import build_encoder, features, prepare
from probe_rnn.studies.siamese import (
    CONTRASTIVE_MARGIN,
    _auc,
    _PairSet,
    make_pairs,
    pair_loss,
    score_pairs,
    train_siamese,
)

ARCH = dict(rnn="lstm", layers=1, hidden=32, embedding_dim=16, bidirectional=False, packed=True)


@pytest.fixture(scope="module")
def first_letter() -> pd.DataFrame:
    """Random strings over 6 letters; the label is decided by the first letter only."""
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(list("abcdef"), rng.integers(3, 6))) for _ in range(1000)]
    return pd.DataFrame({"text": texts, "label": ["x" if t[0] in "abc" else "y" for t in texts]})


def test_a_decoder_started_from_zeros_reconstructs_worse_than_from_h_n(first_letter) -> None:
    study = compare_readouts(first_letter, objective="autoencode", readouts=["hidden", "zero"],
                             seeds=2, epochs=8, lr=1e-2, jobs=1, probe=False, tokenizer="char",
                             **ARCH)
    runs = study.runs.set_index(["readout", "seed"])
    for seed in (0, 1):
        hidden, zero = runs.loc[("hidden", seed)], runs.loc[("zero", seed)]
        # random strings: without the sentence the decoder can only guess letters (~1/6)
        assert zero["test_token_accuracy"] < 0.4
        assert hidden["test_token_accuracy"] > zero["test_token_accuracy"] + 0.2
        assert hidden["test_perplexity"] < zero["test_perplexity"]
    assert study.settings["metric"] == "test_token_accuracy"
    assert set(study.pairs["readout_a"]) | set(study.pairs["readout_b"]) == {"hidden", "zero"}


def test_untrained_pairs_sit_near_chance_and_trained_ones_above(first_letter) -> None:
    prepared = prepare(first_letter, "char", 0)
    arch = Architecture(**ARCH)
    aucs = []
    for seed in range(3):
        torch.manual_seed(seed)
        encoder = build_encoder(prepared, "hidden", arch)
        scores = score_pairs(encoder, _PairSet(prepared.splits["test"], 0, 2))
        aucs.append(_auc(scores["y"], scores["cosine"]))
    assert 0.38 < float(np.mean(aucs)) < 0.62
    for loss in ("mse", "contrastive"):
        out = train_siamese(first_letter, readout="hidden", loss=loss, seed=0, tokenizer="char",
                            architecture=Architecture(**ARCH),
                            budget=TrainBudget(epochs=8, batch_size=32, lr=1e-2, patience=3))
        assert out["scores"]["test_auc"] > max(aucs) + 0.25
        assert 0.0 <= out["scores"]["test_pair_accuracy"] <= 1.0


def test_pairs_are_half_similar_never_self_and_labelled_right() -> None:
    labels = np.array(["a"] * 800 + ["b"] * 200)
    rng = np.random.default_rng(3)
    anchors = rng.permutation(1000)
    a, b, y = make_pairs(labels, np.concatenate([anchors] * 4), rng)
    assert (a != b).all()
    np.testing.assert_array_equal(y, (labels[a] == labels[b]).astype(np.float32))
    assert abs(y.mean() - 0.5) < 0.03  # balanced although the labels are 80/20
    lonely = np.array(["a", "a", "b"])  # "b" has no second row: its partner must be an "a"
    a, b, y = make_pairs(lonely, np.array([2] * 20), np.random.default_rng(0))
    assert set(b) <= {0, 1} and (y == 0).all()


def test_pair_losses_match_their_formulas() -> None:
    gen = torch.Generator().manual_seed(0)
    x, z = torch.randn(6, 5, generator=gen), torch.randn(6, 5, generator=gen)
    y = torch.tensor([1, 0, 1, 0, 0, 1], dtype=torch.float32)
    xa, za, ya = x.numpy().astype(float), z.numpy().astype(float), y.numpy()
    cos = (xa * za).sum(1) / np.linalg.norm(xa, axis=1) / np.linalg.norm(za, axis=1)
    assert float(pair_loss(x, z, y, "mse")) == pytest.approx(np.mean((cos - ya) ** 2), rel=1e-5)
    d = np.linalg.norm(xa - za, axis=1)
    want = np.mean(ya * d ** 2 + (1 - ya) * np.maximum(0, CONTRASTIVE_MARGIN - d) ** 2)
    assert float(pair_loss(x, z, y, "contrastive")) == pytest.approx(want, rel=1e-5)


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


def test_zero_and_losses_belong_to_their_objective() -> None:
    assert parse_readouts(["hidden", "zero"], "autoencode") == ("hidden", "zero")
    with pytest.raises(ConfigError, match="unknown readout 'zero' for objective classify"):
        parse_readouts(["last", "zero"], "classify")
    assert parse_losses(None, "siamese") == ("mse", "contrastive")
    with pytest.raises(ConfigError, match="unknown loss 'mse' for objective classify"):
        parse_losses(["mse"], "classify")
    with pytest.raises(ConfigError, match="unknown objective 'seq2seq'"):
        parse_readouts(["last"], "seq2seq")


def test_a_saved_encoder_is_a_checkpoint_whose_head_is_a_logistic_regression(
        first_letter, tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression

    study = compare_readouts(first_letter.iloc[:300], objective="siamese", losses=["mse"],
                             readouts=["last"], seeds=1, epochs=1, jobs=1, probe=False,
                             tokenizer="char", **ARCH)
    study.save(tmp_path)
    (name, bundle), = study.models.items()
    assert name == "siamese-mse-last-seed0"
    loaded = load_model(tmp_path / "models" / f"{name}.pt")
    texts = list(first_letter["text"].iloc[:50])
    torch.testing.assert_close(loaded.predict_logits(texts), bundle.predict_logits(texts))
    assert loaded.meta["objective"] == "siamese" and loaded.meta["loss"] == "mse"
    prepared = prepare(study_table(first_letter.iloc[:300]), "char", 0)
    train = prepared.splits["train"]
    x = features(bundle.model, train).double().numpy()
    reference = LogisticRegression(max_iter=2000, random_state=0).fit(x, train.y.numpy())
    ours = bundle.predict_logits(list(prepared.table[prepared.table["split"] == "train"]
                                      ["text"])).argmax(1).numpy()
    assert (ours == reference.predict(x)).mean() > 0.99


def study_table(df: pd.DataFrame) -> pd.DataFrame:
    """The study's own split of ``df`` (seed 0), as compare_readouts makes it."""
    from probe_rnn.data import ensure_splits

    return ensure_splits(df, seed=0).reset_index(drop=True)


def test_contrastive_margin_is_documented() -> None:
    import probe_rnn.studies.siamese as siamese

    assert f"m = CONTRASTIVE_MARGIN = {CONTRASTIVE_MARGIN}" in siamese.__doc__
