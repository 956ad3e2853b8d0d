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
from probe_rnn.errors import ConfigError, DataError
from probe_rnn.hashing import data_checksum
from probe_rnn.models.adapters import ProbeRnnAdapter
from probe_rnn.models.bundle import ModelBundle
from probe_rnn.models.classifier import RNNClassifier
from probe_rnn.models.config import ModelConfig

__all__ = [
    "TrainEvent", "TrainResult", "train", "accuracy", "EncodedSplit", "encode_split",
    "build_classifier", "prepare_table", "seed_everything", "EarlyStopping",
]


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


def _check_args(
    epochs: int, batch_size: int, lr: float, patience: int, grad_clip: float, seed: int
) -> None:
    from probe_rnn.validation import check_seed

    check_seed(seed)
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("patience", patience)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1; got {value!r}")
    for name, value in (("lr", lr), ("grad_clip", grad_clip)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ConfigError(f"{name} must be a number > 0; got {value!r}")


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


def _run_epoch(
    model: RNNClassifier, opt: torch.optim.Optimizer, split: EncodedSplit, batch_size: int,
    grad_clip: float, gen: torch.Generator, report: Callable[[int, int, float], None],
) -> float:
    model.train()
    order = torch.randperm(len(split.y), generator=gen)
    batches = list(order.split(batch_size))
    total, seen = 0.0, 0
    for i, index in enumerate(batches):
        ids, lengths, y = split.rows(index)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(ids, lengths), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        total += float(loss.detach()) * len(y)
        seen += len(y)
        report(i + 1, len(batches), total / seen)
    return total / seen


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


def _fit(
    model: RNNClassifier, data: dict[str, EncodedSplit], *, epochs: int, batch_size: int, lr: float,
    seed: int, patience: int, grad_clip: float, progress: Callable[[TrainEvent], Any] | None,
) -> tuple[list[dict[str, float]], int]:
    """Epoch loop with early stopping; leaves the best-on-dev weights in ``model``."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    stopper = EarlyStopping(model, patience)
    for epoch in range(1, epochs + 1):

        def report(b: int, n: int, loss: float, epoch: int = epoch) -> None:
            if progress is not None:
                progress(TrainEvent(epoch, epochs, b, n, loss))

        loss = _run_epoch(model, opt, data["train"], batch_size, grad_clip, gen, report)
        dev_acc = accuracy(model, data["dev"])
        history.append({"epoch": epoch, "train_loss": loss, "dev_accuracy": dev_acc})
        if progress is not None:
            progress(TrainEvent(epoch, epochs, 0, 0, loss, dev_acc))
        if stopper.update(epoch, dev_acc):
            break
    return history, stopper.restore()


def _training_meta(*, source: str | None, parts: dict[str, pd.DataFrame], labels: list[str],
                   df: pd.DataFrame, tokenizer: str, history: list[dict[str, Any]], epochs: int,
                   best_epoch: int, dev_acc: float, test_acc: float, seed: int, batch_size: int,
                   lr: float, patience: int, grad_clip: float,
                   start_time: float) -> dict[str, Any]:
    """The ``meta`` a trained bundle records: data, split sizes, settings, scores, versions."""
    return {
        "dataset": source, "rows": {s: len(p) for s, p in parts.items()}, "labels": labels,
        # lets a later run on this table know the split is this model's own (no split column)
        "data_checksum": data_checksum(df["text"], df["label"]),
        "tokenizer": tokenizer, "epochs": len(history), "max_epochs": epochs,
        "best_epoch": best_epoch, "dev_accuracy": dev_acc,
        "test_accuracy": None if np.isnan(test_acc) else test_acc, "seed": seed,
        "batch_size": batch_size, "lr": lr, "patience": patience, "grad_clip": grad_clip,
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
    receives a :class:`TrainEvent` after every batch and after every epoch.
    """
    start_time = time.perf_counter()
    _check_args(epochs, batch_size, lr, patience, grad_clip, seed)
    df, labels = prepare_table(df, seed, source)
    seed_everything(seed)
    parts = {s: df[df["split"] == s] for s in ("train", "dev", "test")}
    tok = Tokenizer(tokenizer).fit(parts["train"]["text"].tolist())
    data = {s: encode_split(tok, part, labels) for s, part in parts.items() if len(part)}
    config = ModelConfig(
        vocab_size=len(tok), n_labels=len(labels), rnn=rnn, embedding_dim=embedding_dim,
        hidden=hidden, layers=layers, bidirectional=bidirectional, dropout=dropout,
        readout=readout, packed=packed, pad_id=tok.pad_id,
    )
    model = build_classifier(config)
    history, best_epoch = _fit(
        model, data, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
        patience=patience, grad_clip=grad_clip, progress=progress,
    )
    dev_acc = accuracy(model, data["dev"])
    test_acc = accuracy(model, data["test"]) if "test" in data else float("nan")
    meta = _training_meta(
        source=source, parts=parts, labels=labels, df=df, tokenizer=tokenizer, history=history,
        epochs=epochs, best_epoch=best_epoch, dev_acc=dev_acc, test_acc=test_acc, seed=seed,
        batch_size=batch_size, lr=lr, patience=patience, grad_clip=grad_clip,
        start_time=start_time,
    )
    bundle = ModelBundle(
        model=model, tokenizer=tok, labels=labels, config=config, meta=meta,
        adapter=ProbeRnnAdapter(tok), source="trained in memory", format="in memory",
    )
    return TrainResult(bundle, pd.DataFrame(history), dev_acc, test_acc)
