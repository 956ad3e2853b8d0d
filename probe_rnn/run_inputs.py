"""A run's inputs, checked before any work: view, task and probe names, the data's labels
against the model's, the seeded row sample, and the model and data cards ``run.json`` records."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from probe_rnn.errors import ConfigError, DataError
from probe_rnn.run_folder import jsonable

if TYPE_CHECKING:
    from probe_rnn.models import ModelBundle
    from probe_rnn.run_settings import RunSettings

__all__ = ["sample_rows", "model_card", "data_card", "check_names", "check_labels"]

Say = Callable[[str], None]


def sample_rows(df: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """A seeded sample of at most ``max_rows`` rows, keeping the table's order."""
    if max_rows is not None and max_rows < 1:
        raise ConfigError(f"max_rows must be at least 1, got {max_rows}")
    if max_rows is None or len(df) <= max_rows:
        return df.reset_index(drop=True)
    picked = df.sample(n=max_rows, random_state=seed).sort_index()
    return picked.reset_index(drop=True)


def model_card(bundle: ModelBundle) -> dict[str, Any]:
    """Architecture, labels, tokenizer and training metadata as plain JSON values."""
    return jsonable(bundle.card())


def data_card(df: pd.DataFrame, source: str) -> dict[str, Any]:
    """Size, splits, label counts and a checksum of the texts and labels."""
    from probe_rnn.capture.store import data_checksum

    splits = df["split"].value_counts().sort_index() if "split" in df else pd.Series(dtype=int)
    labels = df["label"].value_counts().sort_index()
    return {
        "source": source,
        "rows": int(len(df)),
        "splits": {str(k): int(v) for k, v in splits.items()},
        "label_counts": {str(k): int(v) for k, v in labels.items()},
        "checksum": data_checksum(df["text"], df["label"]),
    }


def check_labels(bundle: ModelBundle, df: pd.DataFrame, say: Say) -> None:
    """The data's labels against the model's: none in common is an error, some a notice."""
    known = {str(v) for v in (bundle.labels or [])}
    given = {str(v) for v in df["label"].dropna().unique()}
    if not known or not given or given <= known:
        return
    show = lambda values: ", ".join(sorted(values)[:10]) + (" …" if len(values) > 10 else "")  # noqa: E731
    if not given & known:
        raise DataError(f"the data's labels ({show(given)}) are none of the model's "
                        f"({show(known)}): check the table's label column and the checkpoint, or "
                        "name the model's classes in output order with --labels (e.g. "
                        f"--labels {','.join(sorted(given)[:len(known)])})")
    say(f"note: {len(given - known)} data label(s) the model does not know "
        f"({show(given - known)}); the model's labels are {show(known)}")


def check_names(bundle: ModelBundle, settings: RunSettings) -> None:
    """Every view, task and probe name checked before any work (one-line errors listing the
    valid names), so a typo never costs a capture; views also against the shape of the
    module that will be captured (the model's first recurrent module)."""
    import torch

    from probe_rnn.capture.recurrent import module_kind
    from probe_rnn.capture.views import gate_views_for, resolve_views, views_for
    from probe_rnn.probing.runner import resolve_probes
    from probe_rnn.probing.tasks import get_task
    from probe_rnn.vocabulary import parse_view

    views = settings.views
    for view in views or ():
        parse_view(view)
    module = next((m for m in bundle.model.modules() if isinstance(m, torch.nn.RNNBase)), None)
    if module is not None and views:
        dirs = 2 if module.bidirectional else 1
        gates = gate_views_for(module_kind(module) or "", module.num_layers, dirs)
        resolve_views(views_for(module.num_layers, dirs, isinstance(module, torch.nn.LSTM)),
                      list(views), optional=gates)
    for task in settings.tasks or ():
        get_task(task)
    resolve_probes(settings.probes)
