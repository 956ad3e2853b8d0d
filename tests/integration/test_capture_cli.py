"""``probe-rnn capture`` and ``probe-rnn inspect --data/--dataset`` driven as a user would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from probe_rnn.capture.store import StateStore
from probe_rnn.data import Tokenizer, load_dataset
from probe_rnn.models.adapters import ProbeRnnAdapter
from probe_rnn.models.bundle import ModelBundle
from probe_rnn.models.checkpoint import save_checkpoint
from probe_rnn.models.classifier import RNNClassifier
from probe_rnn.models.config import ModelConfig
from tests.integration.cli_support import assert_one_line_error as one_line_error
from tests.integration.cli_support import run_cli


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    names = load_dataset("names")
    tok = Tokenizer("char").fit(names["text"])
    cfg = ModelConfig(vocab_size=len(tok), n_labels=2, rnn="lstm", embedding_dim=8, hidden=8,
                      layers=2, bidirectional=True)
    torch.manual_seed(0)
    bundle = ModelBundle(model=RNNClassifier(cfg), tokenizer=tok, labels=["female", "male"],
                         config=cfg, meta={"note": "untrained test model"},
                         adapter=ProbeRnnAdapter(tok))
    path = tmp_path_factory.mktemp("model") / "model.pt"
    save_checkpoint(path, bundle)
    return path


def test_capture_dataset_then_reuse(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "states"
    args = ("capture", str(checkpoint), "--dataset", "names", "--max-rows", "300", "--out",
            str(out), "--dtype", "float32", "--batch-size", "64")
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    last, kernel = proc.stdout.strip().splitlines()[-2:]
    assert last.startswith("captured 300 rows,") and "on disk" in last and str(out) in last
    store = StateStore(out)
    assert store.n_rows == 300 and store.manifest.dtype == "float32"
    # the kernel check's largest error, as the manifest holds it (recomputed independently
    # in tests/unit/capture/test_batches.py)
    error = store.manifest.max_kernel_error
    assert error is not None and store.manifest.kernel_check["rows"] == 64  # the first batch
    assert kernel == (f"kernel check: largest |difference| from the fused kernel {error:.3g} "
                      "(output, h_n, c_n over 64 rows)")
    assert {"output@last", "h_n/L1/bwd", "c_n/L0/fwd", "hidden/L0/bwd", "output"} <= set(
        store.views)
    names = set(load_dataset("names")["text"])
    assert set(store.meta["text"]) <= names
    lengths = store.meta["length"].to_numpy()
    np.testing.assert_array_equal(np.diff(store.offsets()), lengths)
    again = run_cli(*args)
    again_last, again_kernel = again.stdout.strip().splitlines()[-2:]
    assert again.returncode == 0 and "reused" in again_last and again_kernel == kernel


def test_capture_file_with_views_and_inspect_dataset(checkpoint: Path, tmp_path: Path) -> None:
    table = tmp_path / "dev.csv"
    pd.DataFrame({"name": ["anna", "bob", "christopher", "eve"],
                  "gender": ["female", "male", "male", "female"]}).to_csv(table, index=False)
    out = tmp_path / "s"
    proc = run_cli("capture", str(checkpoint), "--data", str(table), "--text", "name",
                   "--label", "gender", "--out", str(out),
                   "--views", "output@last,hidden/L1/fwd@-1")
    assert proc.returncode == 0, proc.stderr
    store = StateStore(out)
    assert sorted(store.views) == ["hidden/L1/fwd", "output@last"]
    assert store.meta["text"].tolist() == ["anna", "bob", "christopher", "eve"]
    proc = run_cli("inspect", str(checkpoint), "--dataset", "names", "--max-rows", "200",
                   "--batch-size", "32")
    assert proc.returncode == 0, proc.stderr
    for needle in ("output vs hidden: rnn", "max |output@last - h_n top fwd|",
                   "share output@-1 != output@last", "only the last token", "h_n/L0/fwd"):
        assert needle in proc.stdout, proc.stdout


@pytest.mark.parametrize(
    "extra, needle",
    [
        (("--dtype", "float64"), "error: --dtype "),
        (("--views", "bogus"), "bogus"),
        (("--views", "h_n/L5/fwd"), "h_n/L5/fwd"),
        (("--batch-size", "0"), "--batch-size"),
        (("--dataset", "names"), "exactly one"),
    ],
)
def test_bad_capture_inputs_are_one_line(checkpoint: Path, tmp_path: Path,
                                         extra: tuple[str, ...], needle: str) -> None:
    table = tmp_path / "t.csv"
    pd.DataFrame({"text": ["ab", "abc"], "label": ["female", "male"]}).to_csv(table, index=False)
    proc = run_cli("capture", str(checkpoint), "--data", str(table), "--out",
                   str(tmp_path / "s"), *extra)
    one_line_error(proc, needle)
    assert not (tmp_path / "s" / "manifest.json").exists()


def test_bad_inspect_data_is_one_line(checkpoint: Path, tmp_path: Path) -> None:
    one_line_error(run_cli("inspect", str(checkpoint), "--dataset", "no-such-set"),
                   "no-such-set")
    one_line_error(run_cli("inspect", str(checkpoint), "--data", str(tmp_path / "none.csv")),
                   "none.csv")
