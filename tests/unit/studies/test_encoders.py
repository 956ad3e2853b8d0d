"""Study encoders: a saved encoder is a checkpoint whose head is a logistic regression on its
features."""

from __future__ import annotations

import pandas as pd
import torch

from probe_rnn.models import Architecture, TrainBudget, load_model
from probe_rnn.studies import compare_readouts
from probe_rnn.studies.encoders import features, prepare

ARCH = dict(rnn="lstm", layers=1, hidden=32, embedding_dim=16, bidirectional=False, packed=True)


def test_a_saved_encoder_is_a_checkpoint_whose_head_is_a_logistic_regression(
        first_letter, tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression

    study = compare_readouts(first_letter.iloc[:300], Architecture(**ARCH),
                             TrainBudget(epochs=1), objective="siamese", losses=["mse"],
                             readouts=["last"], seeds=1, jobs=1, probe=False, tokenizer="char")
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
