"""Training the reference classifier: :func:`train` -> :class:`TrainResult`.

Seeded (``random``, ``numpy``, ``torch``), shuffled mini-batches, Adam, gradient-norm clipping,
early stopping on dev accuracy with a copy of the best weights, which are the ones returned.
Splits come from the table's ``split`` column, or a seeded stratified split
(:func:`probe_rnn.data.ensure_splits`) when it has none.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from probe_rnn.data import Tokenizer, check_table, ensure_splits, label_names
from probe_rnn.data.splits import check_splittable
from probe_rnn.data.tokenizer_choice import warn_char_on_words
from probe_rnn.errors import ConfigError, DataError
from probe_rnn.hashing import data_checksum
from probe_rnn.models.adapters import ProbeRnnAdapter
from probe_rnn.models.bundle import ModelBundle
from probe_rnn.models.classifier import RNNClassifier
from probe_rnn.models.config import Architecture, ModelConfig, TrainBudget


@dataclass(frozen=True)
class TrainEvent:
    """Progress report: sent after every batch (``dev_accuracy`` None) and after every epoch."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    train_loss: float
    dev_accuracy: float | None = None


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    bundle : ModelBundle
        The best-on-dev model, in eval mode, with training metadata in ``bundle.meta``.
    history : pandas.DataFrame
        One row per epoch run: ``epoch, train_loss, dev_accuracy``.
    dev_accuracy, test_accuracy : float
        Of the returned weights (``test_accuracy`` is NaN without test rows).
    """

    bundle: ModelBundle
    history: pd.DataFrame
    dev_accuracy: float
    test_accuracy: float


@dataclass
class EncodedSplit:
    """One split encoded once: padded ids ``(rows, time)``, lengths, label ids."""

    ids: Tensor
    lengths: Tensor
    y: Tensor

    def rows(self, index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        lengths = self.lengths[index]
        return self.ids[index, : int(lengths.max())], lengths, self.y[index]


def encode_split(tokenizer: Tokenizer, df: pd.DataFrame, labels: list[str]) -> EncodedSplit:
    """Encode the texts and label ids of ``df`` (labels indexed like ``labels``)."""
    ids, lengths = tokenizer.encode_batch(df["text"].tolist())
    lookup = {name: i for i, name in enumerate(labels)}
    y = torch.tensor([lookup[str(v)] for v in df["label"]], dtype=torch.long)
    return EncodedSplit(ids, lengths, y)


@torch.no_grad()
def accuracy(model: nn.Module, split: EncodedSplit, batch_size: int = 512) -> float:
    """Fraction of rows whose argmax logit is the gold label (NaN for no rows)."""
    n = len(split.y)
    if n == 0:
        return float("nan")
    model.eval()
    correct = 0
    for start in range(0, n, batch_size):
        ids, lengths, y = split.rows(torch.arange(start, min(start + batch_size, n)))
        correct += int((model(ids, lengths).argmax(dim=1) == y).sum())
    return correct / n


def build_classifier(config: ModelConfig) -> RNNClassifier:
    """The model, or a one-line error when its weights cannot even be allocated."""
    try:
        return RNNClassifier(config)
    except (MemoryError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"cannot allocate the model's weights (hidden={config.hidden}, "
            f"embedding_dim={config.embedding_dim}, layers={config.layers}): {first[:120]}; "
            "use smaller sizes"
        ) from None


def prepare_table(df: pd.DataFrame, seed: int, source: str | None
                  ) -> tuple[pd.DataFrame, list[str]]:
    """Check a training table, add the seeded split when absent; return it and its labels."""
    given = "split" in df.columns
    df = ensure_splits(check_table(df, source=source or "training table"), seed=seed)
    labels = label_names(df["label"])
    if len(labels) < 2:
        raise DataError(f"training needs at least 2 classes; the table has {labels}")
    counts = df["split"].value_counts()
    for split in ("train", "dev"):
        if counts.get(split, 0) == 0 and not given:
            check_splittable(df.drop(columns="split"))
        if counts.get(split, 0) == 0:
            raise DataError(
                f"the split column has no {split!r} rows: add some, or drop the column to let "
                f"probe-rnn make a seeded split"
            )
    return df, labels


def seed_everything(seed: int) -> None:
    """Seed ``random``, ``numpy`` and ``torch``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _version() -> str:
    try:
        return version("probe-rnn")
    except PackageNotFoundError:
        return "unknown"


class EarlyStopping:
    """Early stopping on a dev score (higher is better) that keeps a copy of the best weights.

    ``update(epoch, score)`` after each epoch says whether to stop (``patience`` epochs in a
    row without a better score); ``restore()`` puts the best weights back, sets eval mode and
    returns the best epoch.
    """

    def __init__(self, model: nn.Module, patience: int) -> None:
        self.model, self.patience = model, patience
        self.best, self.best_epoch, self.stale = -float("inf"), 0, 0
        self.best_state = copy.deepcopy(model.state_dict())

    def update(self, epoch: int, score: float) -> bool:
        """Record one epoch's dev score; True when training should stop."""
        if score > self.best:
            self.best, self.best_epoch, self.stale = score, epoch, 0
            self.best_state = copy.deepcopy(self.model.state_dict())
            return False
        self.stale += 1
        return self.stale >= self.patience

    def restore(self) -> int:
        """Load the best weights into the model (eval mode); return their epoch."""
        self.model.load_state_dict(self.best_state)
        self.model.eval()
        return self.best_epoch


def train_loop(
    model: nn.Module, step: Callable[[int, Tensor], Tensor], n_train: int,
    dev_score: Callable[[], float], budget: TrainBudget, seed: int, *,
    score_name: str = "dev_score", on_batch: Callable[[int, int, int, float], Any] | None = None,
    on_epoch: Callable[[int, float, float], Any] | None = None,
) -> tuple[list[dict[str, float]], int]:
    """The one training loop: Adam, shuffled mini-batches, clipped gradients, early stopping;
    leaves the weights of the best dev score in ``model`` (eval mode).

    ``step(epoch, index)`` returns the mean loss of the training items ``index`` (a slice of a
    seeded permutation of ``range(n_train)``); ``dev_score()`` (higher is better) runs in eval
    mode without gradients after each epoch. ``on_batch(epoch, batch, batches, mean loss so
    far)`` and ``on_epoch(epoch, train loss, score)`` report progress. Returns one
    ``{"epoch", "train_loss", score_name}`` per epoch run and the best epoch.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=budget.lr)
    gen = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    stopper = EarlyStopping(model, budget.patience)
    for epoch in range(1, budget.epochs + 1):
        model.train()
        batches = torch.randperm(n_train, generator=gen).split(budget.batch_size)
        total, seen = 0.0, 0
        for i, index in enumerate(batches):
            opt.zero_grad()
            loss = step(epoch, index)
            loss.backward()
            nn.utils.clip_grad_norm_(params, budget.grad_clip)
            opt.step()
            total += float(loss.detach()) * len(index)
            seen += len(index)
            if on_batch is not None:
                on_batch(epoch, i + 1, len(batches), total / seen)
        model.eval()
        with torch.no_grad():
            score = float(dev_score())
        history.append({"epoch": epoch, "train_loss": total / seen, score_name: score})
        if on_epoch is not None:
            on_epoch(epoch, total / seen, score)
        if stopper.update(epoch, score):
            break
    return history, stopper.restore()


def _fit(model: RNNClassifier, data: dict[str, EncodedSplit], budget: TrainBudget, seed: int,
         progress: Callable[[TrainEvent], Any] | None) -> tuple[list[dict[str, float]], int]:
    """:func:`train_loop` with cross-entropy on the train split, scored by dev accuracy."""
    train, epochs = data["train"], budget.epochs

    def step(epoch: int, index: Tensor) -> Tensor:
        ids, lengths, y = train.rows(index)
        return nn.functional.cross_entropy(model(ids, lengths), y)

    def on_batch(epoch: int, b: int, n: int, loss: float) -> None:
        if progress is not None:
            progress(TrainEvent(epoch, epochs, b, n, loss))

    def on_epoch(epoch: int, loss: float, dev_acc: float) -> None:
        if progress is not None:
            progress(TrainEvent(epoch, epochs, 0, 0, loss, dev_acc))

    return train_loop(model, step, len(train.y), lambda: accuracy(model, data["dev"]), budget,
                      seed, score_name="dev_accuracy", on_batch=on_batch, on_epoch=on_epoch)


def _training_meta(*, source: str | None, parts: dict[str, pd.DataFrame], labels: list[str],
                   df: pd.DataFrame, tokenizer: str, history: list[dict[str, Any]],
                   budget: TrainBudget, best_epoch: int, dev_acc: float, test_acc: float,
                   seed: int, start_time: float) -> dict[str, Any]:
    """The ``meta`` a trained bundle records: data, split sizes, settings, scores, versions."""
    return {
        "dataset": source, "rows": {s: len(p) for s, p in parts.items()}, "labels": labels,
        # lets a later run on this table know the split is this model's own (no split column)
        "data_checksum": data_checksum(df["text"], df["label"]),
        "tokenizer": tokenizer, "epochs": len(history), "max_epochs": budget.epochs,
        "best_epoch": best_epoch, "dev_accuracy": dev_acc,
        "test_accuracy": None if np.isnan(test_acc) else test_acc, "seed": seed,
        "batch_size": budget.batch_size, "lr": budget.lr, "patience": budget.patience,
        "grad_clip": budget.grad_clip,
        "optimizer": "Adam", "torch_version": torch.__version__, "probe_rnn_version": _version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - start_time, 3),
    }


def train(
    df: pd.DataFrame,
    *,
    tokenizer: str = "char",
    rnn: str = "lstm",
    layers: int = 1,
    hidden: int = 64,
    embedding_dim: int = 64,
    bidirectional: bool = False,
    readout: str = "last",
    dropout: float = 0.0,
    packed: bool = True,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    patience: int = 3,
    grad_clip: float = 1.0,
    source: str | None = None,
    progress: Callable[[TrainEvent], Any] | None = None,
) -> TrainResult:
    """Train an :class:`RNNClassifier` on ``df`` (columns ``text``, ``label``, optional ``split``).

    The table is checked like :func:`probe_rnn.data.read_table` checks files; the tokenizer
    is fitted on the train rows only. Training stops after ``epochs`` or when dev accuracy has
    not improved for ``patience`` epochs; the best-on-dev weights are returned. ``source``
    (e.g. ``"dataset:names"`` or a file path) is recorded in ``meta["dataset"]``; ``progress``
    receives a :class:`TrainEvent` after every batch and after every epoch. The architecture
    and budget keywords are those of :class:`Architecture` and :class:`TrainBudget`
    (:func:`train_model` takes the two objects).
    """
    warn_char_on_words(df, tokenizer)  # a word-level table trained char by char is named
    architecture = Architecture(rnn=rnn, embedding_dim=embedding_dim, hidden=hidden,
                                layers=layers, bidirectional=bidirectional, dropout=dropout,
                                packed=packed)
    budget = TrainBudget(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience,
                         grad_clip=grad_clip)
    return train_model(df, architecture, budget, tokenizer=tokenizer, readout=readout,
                       seed=seed, source=source, progress=progress)


def train_model(
    df: pd.DataFrame, architecture: Architecture, budget: TrainBudget, *,
    tokenizer: str = "char", readout: str = "last", seed: int = 0, source: str | None = None,
    progress: Callable[[TrainEvent], Any] | None = None,
) -> TrainResult:
    """:func:`train` with the architecture and the budget as objects."""
    from probe_rnn.validation import check_seed

    start_time = time.perf_counter()
    check_seed(seed)
    budget.validate()
    df, labels = prepare_table(df, seed, source)
    seed_everything(seed)
    parts = {s: df[df["split"] == s] for s in ("train", "dev", "test")}
    tok = Tokenizer(tokenizer).fit(parts["train"]["text"].tolist())
    data = {s: encode_split(tok, part, labels) for s, part in parts.items() if len(part)}
    config = architecture.config(vocab_size=len(tok), n_labels=len(labels), pad_id=tok.pad_id,
                                 readout=readout)
    model = build_classifier(config)
    history, best_epoch = _fit(model, data, budget, seed, progress)
    dev_acc = accuracy(model, data["dev"])
    test_acc = accuracy(model, data["test"]) if "test" in data else float("nan")
    meta = _training_meta(
        source=source, parts=parts, labels=labels, df=df, tokenizer=tokenizer, history=history,
        budget=budget, best_epoch=best_epoch, dev_acc=dev_acc, test_acc=test_acc, seed=seed,
        start_time=start_time,
    )
    bundle = ModelBundle(
        model=model, tokenizer=tok, labels=labels, config=config, meta=meta,
        adapter=ProbeRnnAdapter(tok), source="trained in memory", format="in memory",
    )
    return TrainResult(bundle, pd.DataFrame(history), dev_acc, test_acc)
