"""Training: determinism, early stopping keeps the best weights, metadata, bad arguments."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from probe_rnn.errors import DataError, ParameterError
from probe_rnn.models import (
    Architecture,
    TrainBudget,
    TrainEvent,
    load_model,
    save_checkpoint,
    train,
)
from tests.unit.models.models_support import tiny_table

SMALL = (Architecture(hidden=8, embedding_dim=8), TrainBudget(epochs=2, batch_size=16))


def test_same_seed_gives_identical_weights_other_seed_does_not() -> None:
    df = tiny_table()
    a = train(df, *SMALL, seed=3).bundle.model.state_dict()
    b = train(df, *SMALL, seed=3).bundle.model.state_dict()
    c = train(df, *SMALL, seed=4).bundle.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_learns_the_first_character_rule_and_records_metadata(tmp_path) -> None:
    df = tiny_table(rows=160)
    events: list[TrainEvent] = []
    result = train(df, Architecture(rnn="gru", bidirectional=True, hidden=16, embedding_dim=8),
                   TrainBudget(epochs=15, lr=1e-2, batch_size=16, patience=15), seed=0,
                   source="tiny", progress=events.append)
    assert result.dev_accuracy >= 0.9  # majority is 0.5: the rule is learnable
    history = result.history
    assert list(history.columns) == ["epoch", "train_loss", "dev_accuracy"]
    assert result.dev_accuracy == pytest.approx(history["dev_accuracy"].max())
    meta = result.bundle.meta
    assert meta["dataset"] == "tiny" and meta["seed"] == 0 and meta["labels"] == ["other", "x"]
    assert meta["rows"] == {"train": 128, "dev": 16, "test": 16}
    assert meta["best_epoch"] == int(history["dev_accuracy"].idxmax()) + 1
    assert meta["epochs"] == len(history) and meta["torch_version"] == torch.__version__
    assert meta["wall_seconds"] > 0 and "date" in meta
    epoch_ends = [e for e in events if e.dev_accuracy is not None]
    assert [e.epoch for e in epoch_ends] == list(history["epoch"])
    assert all(e.batches == 8 for e in events if e.dev_accuracy is None)
    save_checkpoint(tmp_path / "m.pt", result.bundle)
    loaded = load_model(tmp_path / "m.pt")
    texts = df["text"].tolist()
    assert torch.equal(loaded.predict_logits(texts), result.bundle.predict_logits(texts))


def test_early_stopping_returns_the_best_epoch_weights() -> None:
    df = tiny_table()
    result = train(df, SMALL[0], replace(SMALL[1], epochs=6, patience=1, lr=0.5), seed=1)
    history = result.history
    best = history["dev_accuracy"].max()
    assert len(history) < 6 or history["dev_accuracy"].iloc[-1] == best
    assert result.dev_accuracy == pytest.approx(best)


def test_existing_split_column_is_used() -> None:
    df = tiny_table()
    df["split"] = ["train"] * 60 + ["dev"] * 20
    result = train(df, *SMALL)
    assert result.bundle.meta["rows"] == {"train": 60, "dev": 20, "test": 0}
    assert result.test_accuracy != result.test_accuracy  # NaN without test rows


@pytest.mark.parametrize(
    ("call", "parameter", "got"),
    [
        (lambda df: train(df, replace(SMALL[0], rnn="lstmm"), SMALL[1]), "rnn", "'lstmm'"),
        (lambda df: train(df, *SMALL, tokenizer="bpe"), "tokenizer", "'bpe'"),
        (lambda df: train(df, SMALL[0], replace(SMALL[1], epochs=0)), "epochs", "0"),
        (lambda df: train(df, SMALL[0], TrainBudget(lr=-1.0)), "lr", "-1.0"),
        (lambda df: train(df, {"hidden": 8}), "architecture", "{'hidden': 8}"),
        (lambda df: train(df, *SMALL, readout="first"), "readout", "'first'"),
    ],
)
def test_bad_arguments_name_the_parameter(call, parameter, got) -> None:
    with pytest.raises(ParameterError) as caught:
        call(tiny_table())
    assert (caught.value.parameter, caught.value.got) == (parameter, got)


def test_bad_tables() -> None:
    df = tiny_table()
    with pytest.raises(DataError, match="at least 2 classes"):
        train(df.assign(label="x"), *SMALL)
    with pytest.raises(DataError, match="no 'dev' rows"):
        train(df.assign(split="train"), *SMALL)
    with pytest.raises(DataError):
        train(df.drop(columns=["label"]), *SMALL)


# -- the one training loop and the architecture/budget objects --------------------------------
def test_train_loop_equals_a_hand_written_adam_loop_and_keeps_the_best_epoch() -> None:
    from probe_rnn.models.config import TrainBudget
    from probe_rnn.models.training import train_loop

    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(10, 3, generator=gen), torch.randn(10, generator=gen)
    budget = TrainBudget(epochs=4, batch_size=4, lr=0.05, patience=5, grad_clip=0.5)
    scores = iter([0.1, 0.9, 0.3, 0.2])  # the second epoch's weights must come back

    def fresh() -> torch.nn.Linear:
        torch.manual_seed(1)
        return torch.nn.Linear(3, 1)

    model = fresh()
    history, best = train_loop(
        model, lambda _e, i: ((model(x[i]).squeeze(1) - y[i]) ** 2).mean(), 10,
        lambda: next(scores), budget, seed=7)
    ref = fresh()  # the reference: the same steps written out with torch alone
    opt = torch.optim.Adam(ref.parameters(), lr=0.05)
    order = torch.Generator().manual_seed(7)
    kept = None
    for epoch in range(1, 5):
        for i in torch.randperm(10, generator=order).split(4):
            opt.zero_grad()
            ((ref(x[i]).squeeze(1) - y[i]) ** 2).mean().backward()
            torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.5)
            opt.step()
        if epoch == 2:
            kept = {k: v.clone() for k, v in ref.state_dict().items()}
    assert best == 2 and [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert [h["dev_score"] for h in history] == [0.1, 0.9, 0.3, 0.2]
    assert all(torch.equal(model.state_dict()[k], kept[k]) for k in kept)
    assert not model.training


def test_no_objects_are_the_defaults_and_epochs_none_is_ten() -> None:
    df = tiny_table()
    plain = train(df, budget=TrainBudget(epochs=1, batch_size=16), seed=5)
    spelled = train(df, Architecture(rnn="lstm", embedding_dim=64, hidden=64, layers=1,
                                     bidirectional=False, dropout=0.0, packed=True),
                    TrainBudget(epochs=1, batch_size=16, lr=3e-3, patience=3, grad_clip=1.0),
                    seed=5)
    a, b = plain.bundle.model.state_dict(), spelled.bundle.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert plain.bundle.config == spelled.bundle.config
    assert plain.bundle.config.architecture() == Architecture()
    # TrainBudget's epochs None is train's default, 10 epochs at most (patience 10 runs them)
    ten = train(df, SMALL[0], TrainBudget(batch_size=16, patience=10, lr=1e-9), seed=5)
    assert ten.bundle.meta["max_epochs"] == 10 and len(ten.history) == 10
