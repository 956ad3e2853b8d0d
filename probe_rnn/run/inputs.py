"""A run's inputs, checked before any work: view, task and probe names, the data's labels
against the model's, and the model and data cards ``run.json`` records."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from probe_rnn.atomic import jsonable
from probe_rnn.capture.views import check_views
from probe_rnn.data.text_pairs import model_inputs
from probe_rnn.errors import DataError, Mention
from probe_rnn.hashing import data_checksum
from probe_rnn.probing.names import check_names as check_probing_names

if TYPE_CHECKING:
    from probe_rnn.models import ModelBundle
    from probe_rnn.run.settings import RunSettings

Say = Callable[[str], None]


def model_card(bundle: ModelBundle) -> dict[str, Any]:
    """Architecture, labels, tokenizer and training metadata as plain JSON values."""
    return jsonable(bundle.card())


def data_card(df: pd.DataFrame, source: str) -> dict[str, Any]:
    """Size, splits, label counts and a checksum of the texts and labels."""
    splits = df["split"].value_counts().sort_index() if "split" in df else pd.Series(dtype=int)
    labels = df["label"].value_counts().sort_index()
    return {
        "source": source,
        "rows": int(len(df)),
        "splits": {str(k): int(v) for k, v in splits.items()},
        "label_counts": {str(k): int(v) for k, v in labels.items()},
        "checksum": data_checksum(model_inputs(df), df["label"]),
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
                        "name the model's classes in output order with ", Mention("labels"),
                        " (e.g. ", Mention("labels", ",".join(sorted(given)[:len(known)])), ")")
    say(f"note: {len(given - known)} data label(s) the model does not know "
        f"({show(given - known)}); the model's labels are {show(known)}")


def check_names(bundle: ModelBundle, settings: RunSettings) -> None:
    """Every view, task and probe name checked before any work, each by the stage that owns
    it: capture the views (also against the model's recurrent module), probing the tasks and
    probes; the ``prediction`` task needs a model with class logits."""
    check_views(bundle.model, settings.views)
    check_probing_names(settings.tasks, settings.probes)
    kind = getattr(bundle, "output_kind", "logits")
    if "prediction" in (settings.tasks or ()) and kind != "logits":
        from probe_rnn.models.adapters import no_prediction

        raise no_prediction(bundle.model, kind)


def setting_tasks(bundle: ModelBundle, settings: RunSettings) -> RunSettings:
    """The settings with a language model's own task: with the default tasks, a model
    returning logits per step over one text (a language model) is also probed for the
    ``next-token`` (what it predicts at each step, read from its per-step states)."""
    from dataclasses import replace

    from probe_rnn.probing.tasks import DEFAULT_TASKS

    texts = getattr(getattr(bundle.adapter, "feeding", None), "texts", 1)
    if settings.tasks is None and getattr(bundle, "output_kind", "logits") == "step-logits" \
            and texts == 1:
        return replace(settings, tasks=(*DEFAULT_TASKS, "next-token"))
    return settings
