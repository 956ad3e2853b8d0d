"""Probing views of a second text: tasks about the text read text 2's length and tokens, label
tasks the row's; what cannot be known is skipped with the reason."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from probe_rnn.capture import capture_states
from probe_rnn.probing import run_probes
from probe_rnn.probing.tasks import LabelTask, LengthTask, get_task
from probe_rnn.probing.view_texts import context, text_meta, text_skip, view_text
from tests.unit.capture.site_models import GreedyDecoder, Siamese, pair_table, site_bundle


class WithTokens2:
    """A store whose table also has text 2's tokens (what the coordinator's pair table adds)."""

    def __init__(self, store, df: pd.DataFrame) -> None:  # noqa: ANN001
        self._store = store
        meta = store.meta.copy()
        meta["tokens_2"] = [list(t.split("|")[1]) for t in df["text"]]
        self.meta = meta

    def __getattr__(self, name: str):  # noqa: ANN204
        if name == "manifest":
            raise AttributeError(name)  # unsaved: no journal identity from the inner store
        return getattr(self._store, name)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    torch.manual_seed(0)
    df = pair_table(n=60, seed=3)
    store = capture_states(site_bundle(Siamese()), df, tmp_path_factory.mktemp("s") / "st",
                           batch_size=32)
    return store, df


def test_text_2_tables_have_text_2_lengths_and_tokens(pair) -> None:  # noqa: ANN001
    store, df = pair
    wrapped = WithTokens2(store, df)
    rows = np.arange(len(df))
    ctx = context(wrapped, rows, view_text(wrapped, "encoder#2:output@last"))
    expected = [len(t.split("|")[1]) for t in df["text"]]
    assert list(ctx["meta"]["length"]) == expected
    assert np.array_equal(np.diff(ctx["offsets"]), expected)
    assert list(ctx["meta"]["label"]) == list(df["label"])  # the row's label stays
    assert list(context(wrapped, rows, 1)["meta"]["length"]) == [
        len(t.split("|")[0]) for t in df["text"]]
    assert text_meta(store.meta, 1) is store.meta


def test_what_cannot_be_known_is_skipped_with_a_reason() -> None:
    label, length = LabelTask(), LengthTask()
    columns = pd.Index(["label", "length", "tokens", "length_2"])
    assert text_skip(label, "encoder#2:h_n/L0/fwd", "sentence", 2, columns) is None
    assert "tokens_2" in text_skip(length, "encoder#2:h_n/L0/fwd", "sentence", 2, columns)
    assert text_skip(length, "encoder#2:h_n/L0/fwd", "sentence", 2,
                     columns.append(pd.Index(["tokens_2"]))) is None
    assert "stepped" in text_skip(length, "decoder:h_n/L0/fwd", "sentence", None, columns)
    assert text_skip(label, "decoder:h_n/L0/fwd", "sentence", None, columns) is None
    assert "stepped" in text_skip(label, "decoder:output", "token", None, columns)
    assert text_skip(get_task("first-token"), "h_n/L0/fwd", "sentence", 1, columns) is None


def test_probing_a_pair_store_gives_rows_for_both_branches(pair) -> None:  # noqa: ANN001
    store, df = pair
    views = ["encoder:h_n/L0/fwd", "encoder#2:h_n/L0/fwd"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = run_probes({"trained": store}, views=views, tasks=["label", "length"], folds=2,
                           mdl=False, control=False)
        full = run_probes({"trained": WithTokens2(store, df)}, views=views,
                          tasks=["label", "length"], folds=2, mdl=False, control=False)
    label = plain[plain["task"] == "label"]
    assert set(label["view"]) == set(views)
    assert set(plain[plain["task"] == "length"]["view"]) == {"encoder:h_n/L0/fwd"}
    skipped = [c for c in plain.attrs["cell_records"] if c["status"] == "skipped"]
    assert [(c["view"], c["task"]) for c in skipped] == [("encoder#2:h_n/L0/fwd", "length")]
    assert "tokens_2" in skipped[0]["reason"]
    assert set(full[full["task"] == "length"]["view"]) == set(views)


def test_a_stepped_site_runs_only_the_rows_label_tasks(tmp_path: Path) -> None:
    torch.manual_seed(0)
    df = pair_table(n=40, seed=1)
    df["text"] = df["text"].str.split("|").str[0]
    store = capture_states(site_bundle(GreedyDecoder(), pair=False), df, tmp_path / "g",
                           batch_size=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = run_probes({"trained": store}, views=["decoder:hidden/L0/fwd@1"],
                         tasks=["label", "length"], folds=2, mdl=False, control=False)
    assert set(out["task"]) == {"label"}
